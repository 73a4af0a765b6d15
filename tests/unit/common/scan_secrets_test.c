/*
 * known_secrets (spec/egress.md §8.3): every form of a secret is found
 * and named, hits carry the NAME and never the bytes, short values are
 * skipped, long ones use raw, alnum and partial forms only; the host
 * surface ignores case; excerpts and masks never show a run of a secret.
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

struct fx {
	struct cm_scanset	*set;
	struct cm_scanner	*sc;
	struct cm_scan_hits	 hits;
	char			 t0[41];	/* 40 alnum, as §22's T0 */
	char			 slash[48];	/* with reserved bytes */
	char			 shortv[12];	/* 11 bytes: under sampling */
	char			 tiny[8];	/* 7 bytes: ignored */
	char			*big;		/* 2 KiB */
	char			 dull[33];	/* low-diversity windows */
};

static struct fx	 fx;

static int
setup(void **state)
{
	struct tl_buf	 b;
	struct cm_secret v[7];
	const char	*why = NULL;
	size_t		 i;

	tl_expand(&b, "{A40}", 11);
	memcpy(fx.t0, b.s, 41);
	tl_expand(&b, "???fake/{A12}+{A10}=x/{D3}", 2);
	memcpy(fx.slash, b.s, b.n + 1);
	tl_expand(&b, "pw{A9}", 5);
	memcpy(fx.shortv, b.s, 12);
	memcpy(fx.tiny, "1234567", 8);
	fx.big = malloc(2049);
	for (i = 0; i < 2048; i++)
		fx.big[i] = "abcdefghijklmnopqrstuvwxyz0123456789-"
		    [(i * 7 + i / 37) % 37];
	fx.big[2048] = '\0';
	memcpy(fx.dull, "aaaaaaaaaabbbbbbbbbbcccccccccccc", 33);
	v[0] = (struct cm_secret){ "EGRESS_TOKEN_0", (unsigned char *)fx.t0,
	    40 };
	v[1] = (struct cm_secret){ "SLASHY", (unsigned char *)fx.slash,
	    strlen(fx.slash) };
	v[2] = (struct cm_secret){ "SHORT", (unsigned char *)fx.shortv, 11 };
	v[3] = (struct cm_secret){ "TINY", (unsigned char *)fx.tiny, 7 };
	v[4] = (struct cm_secret){ "BIG", (unsigned char *)fx.big, 2048 };
	v[5] = (struct cm_secret){ "DULL", (unsigned char *)fx.dull, 32 };
	tl_expand(&b, "ghp_{A36}", 21);
	v[6] = (struct cm_secret){ "GH_AS_SECRET", (unsigned char *)strdup(b.s),
	    40 };
	fx.set = cm_scanset_new(NULL, v, 7, &why);
	free((void *)v[6].bytes);
	fx.sc = cm_scanner_new();
	cm_scan_hits_init(&fx.hits);
	if (fx.set == NULL || fx.sc == NULL)
		return (-1);
	*state = &fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fx	*f = *state;

	cm_scan_hits_free(&f->hits);
	cm_scanner_free(f->sc);
	cm_scanset_unref(f->set);
	free(f->big);
	return (0);
}

static size_t
scan_surf(struct fx *f, enum cm_scan_surface surf, const char *s, size_t n)
{
	struct cm_scan_opts	 o = { surf, CM_SCAN_DEFAULT_DETECTORS, 0 };
	const char		*why = NULL;

	cm_scan_hits_clear(&f->hits);
	assert_int_equal(cm_scan_buf(f->sc, f->set, &o, s, n, &f->hits, &why),
	    0);
	return (f->hits.n);
}

static size_t
scan(struct fx *f, const char *s)
{
	return (scan_surf(f, CM_SCAN_SURF_BODY, s, strlen(s)));
}

/* Exactly one hit, for secret name, in form, covering [off, off+len). */
static void
want(struct fx *f, const char *name, enum cm_scan_form form, size_t off,
    size_t len)
{
	char	 rule[64];

	snprintf(rule, sizeof(rule), "known-secret:%s", name);
	if (f->hits.n != 1)
		fail_msg("%s/%s: %zu hits", name, cm_scan_form_name(form),
		    f->hits.n);
	assert_string_equal(f->hits.hit[0].rule, rule);
	assert_string_equal(f->hits.hit[0].secret, name);
	assert_int_equal(f->hits.hit[0].detector, CM_SCAN_KNOWN_SECRETS);
	if (f->hits.hit[0].form != form)
		fail_msg("%s: form %s, want %s", name,
		    cm_scan_form_name(f->hits.hit[0].form),
		    cm_scan_form_name(form));
	assert_int_equal(f->hits.hit[0].off, off);
	assert_int_equal(f->hits.hit[0].len, len);
}

static size_t
b64(const unsigned char *in, size_t len, int url, int pad, char *out)
{
	const char	*a = url ?
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_" :
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t		 i, o = 0;
	uint32_t	 v;

	for (i = 0; i < len; i += 3) {
		v = (uint32_t)in[i] << 16;
		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = a[(v >> 6) & 63];
		else if (pad)
			out[o++] = '=';
		if (i + 2 < len)
			out[o++] = a[v & 63];
		else if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
	return (o);
}

static void
test_raw(void **state)
{
	struct fx	*f = *state;
	char		 s[128];

	snprintf(s, sizeof(s), "tok=%s&x=1", f->t0);
	scan(f, s);
	want(f, "EGRESS_TOKEN_0", CM_SCAN_FORM_RAW, 4, 40);
	/* A name, never a value. */
	assert_null(strstr(f->hits.hit[0].rule, f->t0));
	assert_null(strstr(f->hits.hit[0].name, f->t0));
}

static void
test_base64_forms(void **state)
{
	struct fx	*f = *state;
	char		 e[128], s[256], inner[128];
	size_t		 n;

	n = b64((unsigned char *)f->t0, 40, 0, 1, e);
	snprintf(s, sizeof(s), "v: %s;", e);
	scan(f, s);
	want(f, "EGRESS_TOKEN_0", CM_SCAN_FORM_BASE64, 3, n);
	n = b64((unsigned char *)f->slash, strlen(f->slash), 1, 0, e);
	snprintf(s, sizeof(s), "v: %s;", e);
	scan(f, s);
	want(f, "SLASHY", CM_SCAN_FORM_BASE64URL, 3, n);
	n = b64((unsigned char *)f->slash, strlen(f->slash), 0, 1, e);
	snprintf(s, sizeof(s), "v=%s", e);
	scan(f, s);
	want(f, "SLASHY", CM_SCAN_FORM_BASE64, 2, n);
	/* Basic base64(user:T0): s inside a longer blob, any alignment. */
	for (n = 0; n < 3; n++) {
		snprintf(inner, sizeof(inner), "%.*s:%s", (int)(4 + n),
		    "userxyz", f->t0);
		b64((unsigned char *)inner, strlen(inner), 0, 1, e);
		snprintf(s, sizeof(s), "Authorization: Basic %s", e);
		scan(f, s);
		assert_int_equal(f->hits.n, 1);
		assert_string_equal(f->hits.hit[0].rule,
		    "known-secret:EGRESS_TOKEN_0");
		assert_int_equal(f->hits.hit[0].form, CM_SCAN_FORM_BASE64);
		assert_true(f->hits.hit[0].len >= 50);
	}
}

static void
test_percent_forms(void **state)
{
	struct fx	*f = *state;
	char		 s[256], e[160];
	size_t		 i, o;

	/* Fully percent-encoded (every byte), as acceptance test 30. */
	for (i = 0, o = 0; i < 40; i++)
		o += (size_t)snprintf(e + o, sizeof(e) - o, "%%%02X",
		    (unsigned char)f->t0[i]);
	snprintf(s, sizeof(s), "/q?t=%s", e);
	scan(f, s);
	want(f, "EGRESS_TOKEN_0", CM_SCAN_FORM_PERCENT, 5, 120);
	/* Reserved bytes only, lower-case hex. */
	for (i = 0, o = 0; f->slash[i] != '\0'; i++) {
		unsigned char c = (unsigned char)f->slash[i];

		if ((c >= '0' && c <= '9') ||
		    ((c | 32) >= 'a' && (c | 32) <= 'z'))
			e[o++] = (char)c;
		else
			o += (size_t)snprintf(e + o, sizeof(e) - o, "%%%02x",
			    c);
	}
	e[o] = '\0';
	snprintf(s, sizeof(s), "a=%s", e);
	scan(f, s);
	want(f, "SLASHY", CM_SCAN_FORM_PERCENT, 2, o);
}

static void
test_hex_forms(void **state)
{
	struct fx	*f = *state;
	char		 s[128], e[96];
	size_t		 i;

	for (i = 0; i < 40; i++)
		snprintf(e + 2 * i, 3, "%02X", (unsigned char)f->t0[i]);
	snprintf(s, sizeof(s), "h:%s.", e);
	scan(f, s);
	want(f, "EGRESS_TOKEN_0", CM_SCAN_FORM_HEX, 2, 80);
	for (i = 0; i < 40; i++)
		snprintf(e + 2 * i, 3, "%02x", (unsigned char)f->t0[i]);
	scan(f, e);
	want(f, "EGRESS_TOKEN_0", CM_SCAN_FORM_HEX, 0, 80);
}

static void
test_alnum_projection(void **state)
{
	struct fx	*f = *state;
	char		 s[256];
	size_t		 i, o = 0;

	o += (size_t)snprintf(s, sizeof(s), "x ");
	for (i = 0; i < 40; i++) {
		s[o++] = f->t0[i];
		if (i < 39)
			s[o++] = '-';
	}
	s[o] = '\0';
	scan(f, s);
	want(f, "EGRESS_TOKEN_0", CM_SCAN_FORM_ALNUM, 2, 79);
	/* Separators past CM_SCAN_ALNUM_GAP_BYTES break the projection. */
	o = 0;
	for (i = 0; i < 40; i++) {
		s[o++] = f->t0[i];
		if (i == 19) {
			memset(s + o, ' ', CM_SCAN_ALNUM_GAP_BYTES + 1);
			o += CM_SCAN_ALNUM_GAP_BYTES + 1;
		}
	}
	s[o] = '\0';
	scan(f, s);
	assert_int_equal(f->hits.n, 2);	/* two halves, each partial */
	assert_int_equal(f->hits.hit[0].form, CM_SCAN_FORM_PARTIAL);
	assert_int_equal(f->hits.hit[1].form, CM_SCAN_FORM_PARTIAL);
}

static void
test_partial(void **state)
{
	struct fx	*f = *state;
	char		 s[128];

	/* 20 characters of T0, as acceptance test 30. */
	snprintf(s, sizeof(s), "q=%.20s!", f->t0 + 7);
	scan(f, s);
	want(f, "EGRESS_TOKEN_0", CM_SCAN_FORM_PARTIAL, 2, 20);
	/* 15 bytes are not enough. */
	snprintf(s, sizeof(s), "q=%.15s!", f->t0 + 7);
	assert_int_equal(scan(f, s), 0);
	/* Windows with fewer than 8 distinct bytes never count. */
	snprintf(s, sizeof(s), "q=%.20s!", f->dull + 2);
	assert_int_equal(scan(f, s), 0);
	snprintf(s, sizeof(s), "q=%s!", f->dull);
	scan(f, s);
	want(f, "DULL", CM_SCAN_FORM_RAW, 2, 32);
}

static void
test_short_and_tiny(void **state)
{
	struct fx	*f = *state;
	char		 s[64];

	snprintf(s, sizeof(s), "p=%s;", f->shortv);
	scan(f, s);
	want(f, "SHORT", CM_SCAN_FORM_RAW, 2, 11);
	/* Under CM_SECRET_MIN_BYTES: not part of the set at all. */
	snprintf(s, sizeof(s), "p=%s;", f->tiny);
	assert_int_equal(scan(f, s), 0);
	assert_int_equal(cm_scanset_nsecrets(f->set), 6);
}

static void
test_long_secret_forms(void **state)
{
	struct fx	*f = *state;
	char		*s, *e;
	size_t		 n;

	s = malloc(8192);
	e = malloc(4096);
	snprintf(s, 8192, "[%s]", f->big);
	scan(f, s);
	want(f, "BIG", CM_SCAN_FORM_RAW, 1, 2048);
	snprintf(s, 8192, "[%.300s]", f->big + 100);
	scan(f, s);
	want(f, "BIG", CM_SCAN_FORM_PARTIAL, 1, 300);
	/* Over 1 KiB: no base64 form (§8.3). */
	n = b64((unsigned char *)f->big, 2048, 0, 1, e);
	assert_int_equal(scan_surf(f, CM_SCAN_SURF_BODY, e, n), 0);
	free(s);
	free(e);
}

static void
test_host_ignores_case(void **state)
{
	struct fx	*f = *state;
	char		 s[128];
	size_t		 i;

	snprintf(s, sizeof(s), "%.20s.wild.test", f->t0 + 3);
	for (i = 0; i < 20; i++)
		if (s[i] >= 'a' && s[i] <= 'z')
			s[i] = (char)(s[i] - 32);
	assert_int_equal(scan_surf(f, CM_SCAN_SURF_HOST, s, strlen(s)), 1);
	assert_string_equal(f->hits.hit[0].rule, "known-secret:EGRESS_TOKEN_0");
	assert_int_equal(f->hits.hit[0].form, CM_SCAN_FORM_PARTIAL);
	/* Elsewhere the case counts. */
	assert_int_equal(scan_surf(f, CM_SCAN_SURF_PATH, s, strlen(s)), 0);
}

/* A known secret shaped like a token is reported as the known secret. */
static void
test_known_beats_pattern(void **state)
{
	struct fx	*f = *state;
	struct tl_buf	 b;

	tl_expand(&b, "x ghp_{A36} y", 21);
	scan(f, b.s);
	want(f, "GH_AS_SECRET", CM_SCAN_FORM_RAW, 2, 40);
}

static void
test_excerpt_and_mask(void **state)
{
	struct fx	*f = *state;
	char		 s[256], ex[CM_SCAN_EXCERPT_BYTES + 1], run[9];
	size_t		 n;

	snprintf(s, sizeof(s), "before %s after %.10s end", f->t0, f->t0 + 5);
	scan(f, s);
	assert_int_equal(f->hits.n, 1);
	n = cm_scan_excerpt(f->set, s, strlen(s), 0, &f->hits, 0, 60,
	    CM_SCAN_REDACT_STARS, ex, sizeof(ex));
	assert_true(n > 0);
	/* The 10-byte tail is no hit, yet it is masked in the excerpt. */
	memcpy(run, f->t0 + 5, 8);
	run[8] = '\0';
	assert_null(strstr(ex, run));
	assert_non_null(strstr(ex, "before ******** after ****"));
	memcpy(s, f->t0, 40);
	assert_int_equal(cm_scan_mask_secrets(f->set, s, 40, 8), 1);
	assert_int_equal(strspn(s, "*"), 40);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_raw),
		cmocka_unit_test(test_base64_forms),
		cmocka_unit_test(test_percent_forms),
		cmocka_unit_test(test_hex_forms),
		cmocka_unit_test(test_alnum_projection),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_short_and_tiny),
		cmocka_unit_test(test_long_secret_forms),
		cmocka_unit_test(test_host_ignores_case),
		cmocka_unit_test(test_known_beats_pattern),
		cmocka_unit_test(test_excerpt_and_mask),
	};
	return (cmocka_run_group_tests_name("scan_secrets", tests, setup,
	    teardown));
}
