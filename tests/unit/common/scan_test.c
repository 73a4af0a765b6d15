/*
 * token_patterns (spec/egress.md §8.2): for every rule two true positives
 * (the hit must cover exactly the marked bytes) and two near misses (no
 * hit at all); overlap resolution, redaction, excerpts, entropy.
 */
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/bounds.h"
#include "common/log.h"
#include "common/scan.h"
#include "tests/unit/common/scan_testlib.h"

struct rcase {
	const char	*rule;
	const char	*tp[2];
	const char	*nm[2];
};

/* PEM headers are split by {} so this file holds none whole. */
static const struct rcase cases[] = {
	{ "private-key",
	    { "\x01-----BEGIN RSA PRIV{}ATE KEY-----\n{B64}\n{B40}\n"
	      "-----END RSA PRIV{}ATE KEY-----\x02\nafter",
	      "key: \x01-----BEGIN PGP PRIV{}ATE KEY BLOCK-----\x02" },
	    { "-----BEGIN PUBLIC KEY-----\n{B64}\n-----END PUBLIC KEY-----",
	      "-----BEGIN rsa priv{}ate key-----" } },
	{ "aws-access-key-id",
	    { "k=\x01" "AKIA{K16}\x02&", "\x01" "A3TX{K16}\x02" },
	    { "AKIA{K15}", "AKIA{K16}Z" } },
	{ "aws-secret-access-key",
	    { "\x01" "aws_secret_access_key = {B40}\x02\n",
	      "\x01" "SECRET_ACCESS_KEY: \"{B40}\x02\"" },
	    { "aws_secret_access_key = {B39}\n",
	      "aws_secret_access_key = {B41}" } },
	{ "github-pat-fine-grained",
	    { "\x01github_pat_{W82}\x02 ", "\x01github_pat_{W200}\x02" },
	    { "github_pat_{W81} ", "github-pat_{W90}" } },
	{ "github-pat-classic",
	    { "t=\x01ghp_{A36}\x02;", "\x01ghp_{A60}\x02" },
	    { "ghp_{A35}", "_ghp_{A36}" } },
	{ "github-oauth",
	    { "\x01gho_{A36}\x02", " \x01gho_{A251}\x02 " },
	    { "gho_{A35}", "gho_{A36}_" } },
	{ "github-app",
	    { "\x01ghu_{A36}\x02", "\x01ghs_{A40}\x02" },
	    { "ghx_{A36}", "ghs_{A20}" } },
	{ "github-refresh",
	    { "\x01ghr_{A36}\x02", "(\x01ghr_{A50}\x02)" },
	    { "ghr_{A30}", "aghr_{A36}" } },
	{ "gitlab-token",
	    { "\x01glpat-{G20}\x02", "\x01glagent-{G128}\x02" },
	    { "glpat-{G19}", "-glpat-{G20}" } },
	{ "slack-token",
	    { "\x01xoxb-{D12}-{A24}\x02", "\x01xoxp-{A10}\x02" },
	    { "xoxb-{A9}", "axoxb-{A20}" } },
	{ "slack-app-token",
	    { "\x01xapp-1-A{D8}-{D10}-{A32}\x02",
	      "\x01xapp-2-B2C3-4-{A16}\x02" },
	    { "xapp-1-A1-2-{A15}", "xapp-x-A1-2-{A20}" } },
	{ "slack-webhook",
	    { "https://\x01hooks.slack.com/services/{B43}\x02",
	      "\x01hooks.slack.com/workflows/{B56}\x02" },
	    { "hooks.slack.com/services/{B42}",
	      "hooks.slack.com/apps/{B50}" } },
	{ "stripe-key",
	    { "\x01sk_test_{A10}\x02", "\x01rk_live_{A40}\x02" },
	    { "sk_test_{A9}", "sk_fake_{A20}" } },
	{ "anthropic-key",
	    { "\x01sk-ant-{S40}\x02", "\x01sk-ant-api03-{S80}\x02" },
	    { "sk-ant-{S31}", "xsk-ant-{S40}" } },
	{ "openai-key",
	    { "\x01sk-proj-{S48}\x02", "\x01sk-svcacct-{S100}\x02" },
	    { "sk-proj-{S47}", "sk-prod-{S50}" } },
	{ "openai-key-legacy",
	    { "\x01sk-{A48}\x02", "key=\x01sk-{A48}\x02&" },
	    { "sk-{A47}", "sk-{A49}" } },
	{ "google-api-key",
	    { "\x01" "AIza{S35}\x02", "?key=\x01" "AIza{S35}\x02&" },
	    { "AIza{S34}", "AIza{S36}" } },
	{ "google-oauth-token",
	    { "\x01ya29.{S20}\x02", "\x01ya29.{S200}\x02" },
	    { "ya29.{S19}", "ya28.{S40}" } },
	{ "google-oauth-secret",
	    { "\x01GOCSPX-{S28}\x02", "\"\x01GOCSPX-{S28}\x02\"" },
	    { "GOCSPX-{S27}", "GOCSPX_{S28}" } },
	{ "npm-token",
	    { "\x01npm_{A36}\x02", "_authToken=\x01npm_{A36}\x02\n" },
	    { "npm_{A35}", "npm_{A37}" } },
	{ "pypi-token",
	    { "\x01pypi-AgEIcHlwaS5vcmc{S50}\x02",
	      "\x01pypi-AgENdGVzdC5weXBpLm9yZw{S60}\x02" },
	    { "pypi-AgEIcHlwaS5vcmc{S49}", "pypi-AgEXcHlwaS5vcmc{S60}" } },
	{ "huggingface-token",
	    { "\x01hf_{M34}\x02", "\x01" "api_org_{M34}\x02" },
	    { "hf_{M33}", "hf_{M34}1" } },
	{ "twilio-api-key",
	    { "\x01SK{H32}\x02", "\x01SK{X32}\x02" },
	    { "SK{H31}", "SK{H33}" } },
	{ "sendgrid-key",
	    { "\x01SG.{S22}.{S43}\x02", "key=\x01SG.{S22}.{S43}\x02" },
	    { "SG.{S21}.{S43}", "SG.{S22}.{S42}" } },
	{ "azure-storage-key",
	    { "Protocol=https;\x01" "AccountKey={B86}==\x02;",
	      "\x01" "accountkey={B86}==\x02" },
	    { "AccountKey={B85}==", "AccountKey={B86}=" } },
	{ "azure-ad-client-secret",
	    { "\x01" "abc8Q~{Z31}\x02", "secret=\x01X.y5Q~{Z34}\x02" },
	    { "abc8Q~{Z30}", "abcdQ~{Z31}" } },
	{ "digitalocean-token",
	    { "\x01" "dop_v1_{H64}\x02", "\x01" "dor_v1_{H64}\x02" },
	    { "dop_v1_{H63}", "dop_v2_{H64}" } },
	{ "shopify-token",
	    { "\x01shpat_{X32}\x02", "\x01shpss_{H32}\x02" },
	    { "shpat_{H31}", "shpxx_{H32}" } },
	{ "jwt",
	    { "\x01" "eyJ{S20}.eyJ{S30}.{S43}\x02",
	      "t=\x01" "eyJ{S10}.eyJ{S10}.{S16}\x02" },
	    { "eyJ{S20}.eyJ{S30}.{S15}", "eyJ{S9}.eyJ{S30}.{S20}" } },
	{ "generic-bearer",
	    { "Authorization: \x01" "Bearer {G50}\x02",
	      "\x01" "Bearer\t\t{G200}\x02" },
	    { "Bearer {G49}", "bearer {G60}" } },
};

struct fx {
	struct cm_scanset	*set;
	struct cm_scanner	*sc;
	struct cm_scan_hits	 hits;
};

static int
setup(void **state)
{
	static struct fx	 f;
	const char		*why = NULL;

	f.set = cm_scanset_new(NULL, NULL, 0, &why);
	f.sc = cm_scanner_new();
	cm_scan_hits_init(&f.hits);
	if (f.set == NULL || f.sc == NULL)
		return (-1);
	*state = &f;
	return (0);
}

static int
teardown(void **state)
{
	struct fx	*f = *state;

	cm_scan_hits_free(&f->hits);
	cm_scanner_free(f->sc);
	cm_scanset_unref(f->set);
	return (0);
}

static size_t
scan(struct fx *f, const char *s, size_t n, unsigned det)
{
	struct cm_scan_opts	 o = { CM_SCAN_SURF_BODY, det, 0 };
	const char		*why = NULL;

	cm_scan_hits_clear(&f->hits);
	assert_int_equal(cm_scan_buf(f->sc, f->set, &o, s, n, &f->hits, &why),
	    0);
	return (f->hits.n);
}

static void
test_rule_table(void **state)
{
	size_t	 i, j;

	(void)state;
	assert_int_equal(cm_scan_nrules(), 30);
	assert_int_equal(sizeof(cases) / sizeof(cases[0]), cm_scan_nrules());
	for (i = 0; i < cm_scan_nrules(); i++) {
		assert_string_equal(cm_scan_rule_id(i), cases[i].rule);
		assert_int_equal(cm_scan_rule_find(cases[i].rule), (int)i);
		assert_non_null(cm_scan_rule_name(i));
		for (j = 0; j < i; j++)
			assert_string_not_equal(cm_scan_rule_id(i),
			    cm_scan_rule_id(j));
	}
	assert_string_equal(cm_scan_rule_name(0), "Private key (PEM)");
	assert_string_equal(cm_scan_rule_name(1), "AWS access key ID");
	assert_int_equal(cm_scan_rule_find("nope"), -1);
}

static void
test_true_positives(void **state)
{
	struct fx	*f = *state;
	struct tl_buf	 b;
	size_t		 i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (k = 0; k < 2; k++) {
			tl_expand(&b, cases[i].tp[k], i * 3 + k);
			if (scan(f, b.s, b.n, CM_SCAN_TOKEN_PATTERNS) != 1)
				fail_msg("%s tp %zu: %zu hits in \"%s\"",
				    cases[i].rule, k, f->hits.n, b.s);
			assert_string_equal(f->hits.hit[0].rule, cases[i].rule);
			assert_string_equal(f->hits.hit[0].name,
			    cm_scan_rule_name(i));
			assert_int_equal(f->hits.hit[0].detector,
			    CM_SCAN_TOKEN_PATTERNS);
			assert_int_equal(f->hits.hit[0].rule_idx, (int)i);
			assert_null(f->hits.hit[0].secret);
			if (f->hits.hit[0].off != b.mark_start ||
			    f->hits.hit[0].len != b.mark_end - b.mark_start)
				fail_msg("%s tp %zu: %llu+%zu, want %zu+%zu",
				    cases[i].rule, k,
				    (unsigned long long)f->hits.hit[0].off,
				    f->hits.hit[0].len, b.mark_start,
				    b.mark_end - b.mark_start);
		}
	}
}

static void
test_near_misses(void **state)
{
	struct fx	*f = *state;
	struct tl_buf	 b;
	size_t		 i, k;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (k = 0; k < 2; k++) {
			tl_expand(&b, cases[i].nm[k], i * 3 + k);
			if (scan(f, b.s, b.n, CM_SCAN_DEFAULT_DETECTORS) != 0)
				fail_msg("%s near miss %zu: %s hit in \"%s\"",
				    cases[i].rule, k, f->hits.hit[0].rule, b.s);
		}
	}
}

/* gitgate §8.2 and acceptance test 27: the AWS documentation example. */
static void
test_aws_example_key(void **state)
{
	struct fx	*f = *state;
	char		 s[64];

	snprintf(s, sizeof(s), "k=%s%s", "AKIA", "IOSFODNN7EXAMPLE");
	assert_int_equal(scan(f, s, strlen(s), CM_SCAN_DEFAULT_DETECTORS), 1);
	assert_string_equal(f->hits.hit[0].rule, "aws-access-key-id");
	assert_int_equal(f->hits.hit[0].off, 2);
	assert_int_equal(f->hits.hit[0].len, 20);
}

/* The longest match of every bounded rule is what the table says. */
static void
test_longest_matches(void **state)
{
	static const struct {
		const char	*t;
		size_t		 len;
	} v[] = {
		{ "ghp_{A251}", 255 }, { "gho_{A300}", 0 },
		{ "github_pat_{W300}", 255 }, { "glagent-{G200}", 136 },
		{ "xoxb-{A300}", 255 }, { "sk-svcacct-{S300}", 267 },
		{ "ya29.{S3000}", 2053 }, { "Bearer {G5000}", 4103 },
		{ "pypi-AgEIcHlwaS5vcmc{S2000}", 1020 },
		{ "eyJ{S1024}.eyJ{S2048}.{S1024}", 4104 },
	};
	struct fx	*f = *state;
	struct tl_buf	 b;
	size_t		 i;

	for (i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		tl_expand(&b, v[i].t, i);
		scan(f, b.s, b.n, CM_SCAN_TOKEN_PATTERNS);
		if (v[i].len == 0) {
			assert_int_equal(f->hits.n, 0);	/* lookahead */
			continue;
		}
		assert_int_equal(f->hits.n, 1);
		assert_int_equal(f->hits.hit[0].len, v[i].len);
	}
}

/* Overlaps are reported once, under the first rule, over their union. */
static void
test_overlap_first_rule(void **state)
{
	struct fx	*f = *state;
	struct tl_buf	 b;

	tl_expand(&b, "Authorization: \x01"
	    "Bearer eyJ{S20}.eyJ{S30}.{S43}\x02", 5);
	assert_int_equal(scan(f, b.s, b.n, CM_SCAN_TOKEN_PATTERNS), 1);
	assert_string_equal(f->hits.hit[0].rule, "jwt");
	assert_int_equal(f->hits.hit[0].off, b.mark_start);
	assert_int_equal(f->hits.hit[0].len, b.mark_end - b.mark_start);
	/* Two tokens side by side stay two hits, in order. */
	tl_expand(&b, "ghp_{A36} npm_{A36}", 9);
	assert_int_equal(scan(f, b.s, b.n, CM_SCAN_TOKEN_PATTERNS), 2);
	assert_string_equal(f->hits.hit[0].rule, "github-pat-classic");
	assert_string_equal(f->hits.hit[1].rule, "npm-token");
	assert_true(f->hits.hit[0].off < f->hits.hit[1].off);
}

static void
test_detector_selection(void **state)
{
	struct fx	*f = *state;
	struct tl_buf	 b;

	tl_expand(&b, "ghp_{A36}", 1);
	assert_int_equal(scan(f, b.s, b.n, CM_SCAN_KNOWN_SECRETS), 0);
	assert_int_equal(scan(f, b.s, b.n, 0), 0);
	assert_int_equal(scan(f, b.s, b.n, CM_SCAN_TOKEN_PATTERNS), 1);
	assert_int_equal(scan(f, "", 0, CM_SCAN_DEFAULT_DETECTORS), 0);
}

static void
test_redact_styles(void **state)
{
	struct fx	*f = *state;
	struct tl_buf	 b;
	unsigned char	*out = NULL;
	size_t		 outlen;
	const char	*why = NULL;
	char		 want[256];

	tl_expand(&b, "a=ghp_{A36}&b=npm_{A36}&c=1", 2);
	assert_int_equal(scan(f, b.s, b.n, CM_SCAN_TOKEN_PATTERNS), 2);
	assert_int_equal(cm_scan_redact(b.s, b.n, 0, &f->hits,
	    CM_SCAN_REDACT_STARS, &out, &outlen, &why), 0);
	assert_int_equal(outlen, strlen("a=********&b=********&c=1"));
	assert_memory_equal(out, "a=********&b=********&c=1", outlen);
	free(out);
	assert_int_equal(cm_scan_redact(b.s, b.n, 0, &f->hits,
	    CM_SCAN_REDACT_SAMELEN, &out, &outlen, &why), 0);
	assert_int_equal(outlen, b.n);
	memset(want, '*', 40);
	assert_memory_equal(out + 2, want, 40);
	assert_memory_equal(out + 42, "&b=", 3);
	free(out);
	assert_int_equal(cm_scan_redact(b.s, b.n, 0, &f->hits,
	    CM_SCAN_REDACT_TAG, &out, &outlen, &why), 0);
	snprintf(want, sizeof(want), "a=[REDACTED rule=github-pat-classic "
	    "len=40]&b=[REDACTED rule=npm-token len=40]&c=1");
	assert_int_equal(outlen, strlen(want));
	assert_memory_equal(out, want, outlen);
	free(out);
	/* A piece of a stream: offsets count from base; a cut value. */
	assert_int_equal(cm_scan_redact(b.s + 10, b.n - 10, 10, &f->hits,
	    CM_SCAN_REDACT_STARS, &out, &outlen, &why), 0);
	assert_memory_equal(out, "&b=********&c=1", outlen);
	free(out);
	assert_int_equal(cm_scan_redact(b.s + 10, b.n - 10, 10, &f->hits,
	    CM_SCAN_REDACT_SAMELEN, &out, &outlen, &why), 0);
	assert_int_equal(outlen, b.n - 10);
	assert_int_equal(out[0], '*');
	free(out);
}

static void
test_excerpt(void **state)
{
	struct fx	*f = *state;
	struct tl_buf	 b;
	char		 ex[CM_SCAN_EXCERPT_BYTES + 1], tok[64];
	size_t		 n;

	tl_expand(&b, "{L60}\tt=ghp_{A36};\n{L60}", 3);
	assert_int_equal(scan(f, b.s, b.n, CM_SCAN_TOKEN_PATTERNS), 1);
	memcpy(tok, b.s + f->hits.hit[0].off, 40);
	tok[40] = '\0';
	n = cm_scan_excerpt(f->set, b.s, b.n, 0, &f->hits, 0,
	    CM_SCAN_CONTEXT_BYTES, CM_SCAN_REDACT_TAG, ex, sizeof(ex));
	assert_int_equal(n, strlen(ex));
	assert_null(strstr(ex, tok));
	assert_non_null(strstr(ex,
	    "\\x09t=[REDACTED rule=github-pat-classic len=40];\\x0a"));
	/* CM_SCAN_CONTEXT_BYTES of context each side, no more. */
	assert_int_equal(strspn(ex, "abcdefghijklmnopqrstuvwxyz"), 40 - 3);
	assert_int_equal(strlen(strstr(ex, "\\x0a") + 4), 40 - 2);
	n = cm_scan_excerpt(f->set, b.s, b.n, 0, &f->hits, 0, 8,
	    CM_SCAN_REDACT_STARS, ex, sizeof(ex));
	assert_non_null(strstr(ex, "\\x09t=********;\\x0a"));
	assert_int_equal(n, 5 + 4 + 2 + 8 + 1 + 4 + 6);
	/* A small buffer cuts the excerpt, never overflows. */
	n = cm_scan_excerpt(f->set, b.s, b.n, 0, &f->hits, 0, 40,
	    CM_SCAN_REDACT_TAG, ex, 16);
	assert_true(n <= 15);
	assert_int_equal(strlen(ex), n);
}

static void
test_entropy_opt_in(void **state)
{
	struct fx		*f = *state;
	struct cm_scan_opts	 o = { CM_SCAN_SURF_BODY, CM_SCAN_ENTROPY, 0 };
	unsigned char		 rnd[4096];
	uint32_t		 x = 2463534242u;
	const char		*why;
	size_t			 i;

	for (i = 0; i < sizeof(rnd); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		rnd[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
		    "0123456789+/"[x % 64];
	}
	/* Random base64 reaches 5.5 bits over 128 bytes (acceptance 40). */
	cm_scan_hits_clear(&f->hits);
	assert_int_equal(cm_scan_buf(f->sc, f->set, &o, rnd, sizeof(rnd),
	    &f->hits, &why), 0);
	assert_int_equal(f->hits.n, 1);
	assert_int_equal(f->hits.hit[0].detector, CM_SCAN_ENTROPY);
	assert_string_equal(f->hits.hit[0].rule, "entropy");
	assert_int_equal(f->hits.hit[0].off, 0);
	assert_int_equal(f->hits.hit[0].len, CM_DEF_SCAN_ENTROPY_WINDOW);
	assert_true(f->hits.hit[0].entropy_mbits >= CM_DEF_SCAN_ENTROPY_MBITS);
	assert_true(f->hits.hit[0].entropy_mbits <= 6000);
	/* Prose stays far below. */
	for (i = 0; i < sizeof(rnd); i++)
		rnd[i] = "the quick brown fox jumps over a lazy dog "[i % 42];
	cm_scan_hits_clear(&f->hits);
	assert_int_equal(cm_scan_buf(f->sc, f->set, &o, rnd, sizeof(rnd),
	    &f->hits, &why), 0);
	assert_int_equal(f->hits.n, 0);
	for (i = 0; i < sizeof(rnd); i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		rnd[i] = (unsigned char)x;
	}
	/* Not on the host or path surfaces; not unless selected. */
	o.surface = CM_SCAN_SURF_PATH;
	cm_scan_hits_clear(&f->hits);
	assert_int_equal(cm_scan_buf(f->sc, f->set, &o, rnd, sizeof(rnd),
	    &f->hits, &why), 0);
	assert_int_equal(f->hits.n, 0);
	o.surface = CM_SCAN_SURF_BODY;
	o.detectors = CM_SCAN_DEFAULT_DETECTORS;
	cm_scan_hits_clear(&f->hits);
	assert_int_equal(cm_scan_buf(f->sc, f->set, &o, rnd, sizeof(rnd),
	    &f->hits, &why), 0);
	for (i = 0; i < f->hits.n; i++)
		assert_int_not_equal(f->hits.hit[i].detector, CM_SCAN_ENTROPY);
}

static void
test_config_bounds(void **state)
{
	struct cm_scan_config	 c;
	const char		*why = NULL;

	(void)state;
	memset(&c, 0, sizeof(c));
	c.partial_min_len = 4;
	assert_null(cm_scanset_new(&c, NULL, 0, &why));
	assert_string_equal(why, "dlp.partial_min_len is out of range");
	c.partial_min_len = 0;
	c.entropy_window = 1 << 20;
	assert_null(cm_scanset_new(&c, NULL, 0, &why));
	assert_string_equal(why, "dlp.entropy_window is out of range");
}

static void
test_hits_cap(void **state)
{
	struct fx	*f = *state;
	struct tl_buf	 b;
	char		*big;
	size_t		 i, n = CM_MAX_SCAN_HITS + 10;

	tl_expand(&b, "ghp_{A36} ", 4);
	big = malloc(n * b.n);
	assert_non_null(big);
	for (i = 0; i < n; i++)
		memcpy(big + i * b.n, b.s, b.n);
	scan(f, big, n * b.n, CM_SCAN_TOKEN_PATTERNS);
	assert_int_equal(f->hits.n, CM_MAX_SCAN_HITS);
	assert_int_equal(f->hits.lost, 10);
	free(big);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(cm_scan_form_name(CM_SCAN_FORM_BASE64URL),
	    "base64url");
	assert_string_equal(cm_scan_form_name(CM_SCAN_FORM_PARTIAL), "partial");
	assert_string_equal(cm_scan_detector_name(CM_SCAN_KNOWN_SECRETS),
	    "known_secrets");
	assert_string_equal(cm_scan_view_name(CM_SCAN_IN_FOLD), "fold");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rule_table),
		cmocka_unit_test(test_true_positives),
		cmocka_unit_test(test_near_misses),
		cmocka_unit_test(test_aws_example_key),
		cmocka_unit_test(test_longest_matches),
		cmocka_unit_test(test_overlap_first_rule),
		cmocka_unit_test(test_detector_selection),
		cmocka_unit_test(test_redact_styles),
		cmocka_unit_test(test_excerpt),
		cmocka_unit_test(test_entropy_opt_in),
		cmocka_unit_test(test_config_bounds),
		cmocka_unit_test(test_hits_cap),
		cmocka_unit_test(test_names),
	};
	return (cmocka_run_group_tests_name("scan", tests, setup, teardown));
}
