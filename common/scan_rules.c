/*
 * token_patterns (spec/egress.md §8.2) as data: id, name, PCRE2 regex,
 * the literal keywords the prefilter looks for, how far before a keyword
 * a match may start, the longest match, and a validator where the spec
 * gives one.  The spec's only structural rule beyond the regexes is the
 * private-key value, which runs to its END line (cm_rule_pem_extent());
 * the others are the regexes exactly (no checksum is checked, so any
 * value of the documented shape is caught, as gitgate §8.2 demands).
 *
 * Each regex is compiled anchored and run only at candidate starts, on a
 * subject cut to the rule's longest match plus one byte of lookahead: the
 * result is that of a search over the whole text.  Near the end of a
 * stream window a partial match (PCRE2_PARTIAL_HARD) means undecided.
 */
#include "config.h"

#include <string.h>

#include "common/bounds.h"
#include "common/scan_int.h"

static int	cm_rule_pem_extent(const unsigned char *p, size_t n,
		    size_t s, size_t *e, int eof);
static int	cm_rule_pem_body(unsigned char c);

#define AN	"A-Za-z0-9"

const struct cm_scan_rule cm_scan_rules[CM_SCAN_NRULES] = {
	{ "private-key", "Private key (PEM)",
	    "-----BEGIN[ A-Z0-9_-]{0,100}PRIVATE KEY(?: BLOCK)?-----",
	    { "-----BEGIN" }, 0, 0, 132, cm_rule_pem_extent },
	{ "aws-access-key-id", "AWS access key ID",
	    "(?<![A-Z0-9])(?:A3T[A-Z0-9]|AKIA|ASIA|ABIA|ACCA)[A-Z2-7]{16}"
	    "(?![A-Z0-9])",
	    { "A3T[A-Z0-9]", "AKIA", "ASIA", "ABIA", "ACCA" }, 0, 0, 20,
	    NULL },
	{ "aws-secret-access-key", "AWS secret access key",
	    "(?i:aws_?secret_?access_?key|secret_?access_?key)[\"']?"
	    "[ \\t]{0,5}[:=][ \\t]{0,5}[\"']?[A-Za-z0-9/+=]{40}"
	    "(?![A-Za-z0-9/+=])",
	    { "secret" }, 1, 4, 74, NULL },
	{ "github-pat-fine-grained", "GitHub fine-grained token",
	    "github_pat_[" AN "_]{82,244}",
	    { "github_pat_" }, 0, 0, 255, NULL },
	{ "github-pat-classic", "GitHub classic token",
	    "(?<![" AN "_])ghp_[" AN "]{36,251}(?![" AN "_])",
	    { "ghp_" }, 0, 0, 255, NULL },
	{ "github-oauth", "GitHub OAuth token",
	    "(?<![" AN "_])gho_[" AN "]{36,251}(?![" AN "_])",
	    { "gho_" }, 0, 0, 255, NULL },
	{ "github-app", "GitHub app token",
	    "(?<![" AN "_])gh[us]_[" AN "]{36,251}(?![" AN "_])",
	    { "ghu_", "ghs_" }, 0, 0, 255, NULL },
	{ "github-refresh", "GitHub refresh token",
	    "(?<![" AN "_])ghr_[" AN "]{36,251}(?![" AN "_])",
	    { "ghr_" }, 0, 0, 255, NULL },
	{ "gitlab-token", "GitLab token",
	    "(?<![" AN "_-])(?:glpat|gldt|glrt|glptt|glft|glsoat|gloas|glcbt|"
	    "glimt|glagent)-[" AN "_.-]{20,128}",
	    { "glpat-", "gldt-", "glrt-", "glptt-", "glft-", "glsoat-",
	    "gloas-", "glcbt-", "glimt-", "glagent-" }, 0, 0, 136, NULL },
	{ "slack-token", "Slack token",
	    "(?<![" AN "])xox[abposre]-[" AN "-]{10,250}",
	    { "xox[abposre]" }, 0, 0, 255, NULL },
	{ "slack-app-token", "Slack app-level token",
	    "(?<![" AN "])xapp-[0-9]-[" AN "]{1,32}-[0-9]{1,32}-"
	    "[" AN "]{16,128}",
	    { "xapp-" }, 0, 0, 201, NULL },
	{ "slack-webhook", "Slack webhook URL",
	    "hooks\\.slack\\.com/(?:services|workflows|triggers)/"
	    "[" AN "+/]{43,56}",
	    { "hooks.slack.com/" }, 0, 0, 82, NULL },
	{ "stripe-key", "Stripe key",
	    "(?<![" AN "_])(?:sk|rk)_(?:live|test|prod)_[" AN "]{10,99}"
	    "(?![" AN "])",
	    { "sk_live_", "sk_test_", "sk_prod_", "rk_live_", "rk_test_",
	    "rk_prod_" }, 0, 0, 107, NULL },
	{ "anthropic-key", "Anthropic API key",
	    "(?<![" AN "_-])sk-ant-[" AN "_-]{32,256}",
	    { "sk-ant-" }, 0, 0, 263, NULL },
	{ "openai-key", "OpenAI project API key",
	    "(?<![" AN "_-])sk-(?:proj|svcacct|admin)-[" AN "_-]{48,256}",
	    { "sk-proj-", "sk-svcacct-", "sk-admin-" }, 0, 0, 267, NULL },
	{ "openai-key-legacy", "OpenAI API key",
	    "(?<![" AN "_-])sk-[" AN "]{48}(?![" AN "])",
	    { "sk-[A-Za-z0-9]" }, 0, 0, 51, NULL },
	{ "google-api-key", "Google API key",
	    "(?<![" AN "_-])AIza[" AN "_-]{35}(?![" AN "_-])",
	    { "AIza" }, 0, 0, 39, NULL },
	{ "google-oauth-token", "Google OAuth access token",
	    "(?<![" AN "_-])ya29\\.[" AN "_-]{20,2048}",
	    { "ya29." }, 0, 0, 2053, NULL },
	{ "google-oauth-secret", "Google OAuth client secret",
	    "GOCSPX-[" AN "_-]{28}",
	    { "GOCSPX-" }, 0, 0, 35, NULL },
	{ "npm-token", "npm token",
	    "(?<![" AN "_])npm_[" AN "]{36}(?![" AN "])",
	    { "npm_" }, 0, 0, 40, NULL },
	{ "pypi-token", "PyPI token",
	    "pypi-AgE(?:IcHlwaS5vcmc|NdGVzdC5weXBpLm9yZw)[" AN "_-]{50,1000}",
	    { "pypi-AgE" }, 0, 0, 1027, NULL },
	{ "huggingface-token", "Hugging Face token",
	    "(?<![" AN "_])(?:hf_|api_org_)[A-Za-z]{34}(?![" AN "])",
	    { "hf_[A-Za-z]", "api_org_" }, 0, 0, 42, NULL },
	{ "twilio-api-key", "Twilio API key",
	    "(?<![" AN "])SK[0-9a-fA-F]{32}(?![" AN "])",
	    { "SK[0-9a-fA-F]" }, 0, 0, 34, NULL },
	{ "sendgrid-key", "SendGrid API key",
	    "(?<![" AN "])SG\\.[" AN "_-]{22}\\.[" AN "_-]{43}(?![" AN "_-])",
	    { "SG.[A-Za-z0-9_-]" }, 0, 0, 69, NULL },
	{ "azure-storage-key", "Azure storage account key",
	    "(?i:AccountKey)=[" AN "+/]{86}==",
	    { "accountkey=" }, 1, 0, 99, NULL },
	{ "azure-ad-client-secret", "Azure AD client secret",
	    "(?<![" AN "_~.-])[" AN "_~.]{3}[0-9]Q~[" AN "_~.-]{31,34}"
	    "(?![" AN "_~.-])",
	    { "Q~" }, 0, 4, 40, NULL },
	{ "digitalocean-token", "DigitalOcean token",
	    "(?<![" AN "_])do[opr]_v1_[a-f0-9]{64}(?![" AN "])",
	    { "dop_v1_", "doo_v1_", "dor_v1_" }, 0, 0, 71, NULL },
	{ "shopify-token", "Shopify token",
	    "(?<![" AN "_])shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}(?![" AN "])",
	    { "shpat_", "shpca_", "shppa_", "shpss_" }, 0, 0, 38, NULL },
	{ "jwt", "JSON Web Token",
	    "(?<![" AN "_-])eyJ[" AN "_-]{10,1024}\\.eyJ[" AN "_-]{10,2048}"
	    "\\.[" AN "_-]{16,1024}",
	    { "eyJ[A-Za-z0-9_-]" }, 0, 0, 4104, NULL },
	{ "generic-bearer", "Generic Bearer JWT",
	    "Bearer\\s{1,8}[" AN "._-]{50,4096}",
	    { "Bearer" }, 0, 0, 4110, NULL },
};

size_t
cm_scan_nrules(void)
{
	return (CM_SCAN_NRULES);
}

const char *
cm_scan_rule_id(size_t i)
{
	return (i < CM_SCAN_NRULES ? cm_scan_rules[i].id : NULL);
}

const char *
cm_scan_rule_name(size_t i)
{
	return (i < CM_SCAN_NRULES ? cm_scan_rules[i].name : NULL);
}

int
cm_scan_rule_find(const char *id)
{
	size_t	 i;

	for (i = 0; i < CM_SCAN_NRULES; i++) {
		if (strcmp(cm_scan_rules[i].id, id) == 0)
			return ((int)i);
	}
	return (-1);
}

/* Base64 body, PEM header fields and line breaks. */
static int
cm_rule_pem_body(unsigned char c)
{
	return ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	    (c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=' ||
	    c == '\r' || c == '\n' || c == ' ' || c == '\t' || c == ':' ||
	    c == ',' || c == '-');
}

/*
 * The value of a PEM private key runs from BEGIN to the END line with the
 * same label, at most CM_SCAN_PEM_MAX_BYTES from its start.  Without such
 * a line in reach it covers the base64 body that follows the header, so
 * a truncated key is still redacted whole.
 */
static int
cm_rule_pem_extent(const unsigned char *p, size_t n, size_t s, size_t *e,
    int eof)
{
	static const char	 end[] = "-----END";
	const unsigned char	*label = p + s + 10;
	size_t			 llen = *e - 5 - (s + 10), limit, top, i;

	limit = s + CM_SCAN_PEM_MAX_BYTES;
	top = n < limit ? n : limit;
	for (i = *e; i + 8 <= top; i++) {
		if (p[i] != '-' || memcmp(p + i, end, 8) != 0)
			continue;
		if (i + 8 + llen + 5 > top) {
			if (top == n && n < limit && !eof)
				return (-1);
			break;
		}
		if (memcmp(p + i + 8, label, llen) == 0 &&
		    memcmp(p + i + 8 + llen, "-----", 5) == 0) {
			*e = i + 8 + llen + 5;
			return (1);
		}
	}
	if (n < limit && !eof)
		return (-1);
	for (i = *e; i < top && cm_rule_pem_body(p[i]); i++)
		;
	*e = i;
	return (1);
}

int
cm_scan_rules_compile(struct cm_scanset *set, const char **why)
{
	const struct cm_scan_rule	*r;
	size_t				 i, k, kl, hold = 0;
	int				 err;
	PCRE2_SIZE			 eoff;

	for (i = 0; i < CM_SCAN_NRULES; i++) {
		r = &cm_scan_rules[i];
		set->pat[i].code = pcre2_compile((PCRE2_SPTR)r->regex,
		    PCRE2_ZERO_TERMINATED, PCRE2_ANCHORED, &err, &eoff, NULL);
		if (set->pat[i].code == NULL) {
			*why = "a token_patterns regex does not compile";
			return (-1);
		}
		set->pat[i].jit = pcre2_jit_compile(set->pat[i].code,
		    PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_HARD) == 0;
		for (k = 0; k < 12 && r->kw[k] != NULL; k++) {
			if (cm_litset_add_spec(&set->lits, r->kw[k],
			    r->kw_nocase, CM_LIT_RULE | (uint32_t)i) == -1) {
				*why = "out of memory compiling token_patterns";
				return (-1);
			}
			kl = strcspn(r->kw[k], "[");
			if (strchr(r->kw[k], '[') != NULL)
				kl++;
			if (kl - 1 + r->lead_max > hold)
				hold = kl - 1 + r->lead_max;
		}
		if (r->maxlen > set->max_match)
			set->max_match = r->maxlen;
	}
	if (CM_SCAN_PEM_MAX_BYTES > set->max_match)
		set->max_match = CM_SCAN_PEM_MAX_BYTES;
	set->kw_hold = hold;
	return (0);
}

void
cm_scan_rules_free(struct cm_scanset *set)
{
	size_t	 i;

	for (i = 0; i < CM_SCAN_NRULES; i++) {
		pcre2_code_free(set->pat[i].code);
		set->pat[i].code = NULL;
	}
}

/*
 * Tries rule at each start its keyword at kwstart allows.  Pushes a hit
 * per match; lowers *front to a start that more bytes could decide.
 */
int
cm_scan_rule_try(struct cm_scanner *sc, const struct cm_scanset *set,
    const struct cm_scan_win *w, size_t rule, size_t kwstart, size_t *front)
{
	const struct cm_scan_rule	*r = &cm_scan_rules[rule];
	const struct cm_scan_pattern	*pt = &set->pat[rule];
	PCRE2_SIZE			*ov;
	size_t				 lead, s, e, len;
	uint32_t			 opts;
	int				 rc;

	for (lead = 0; lead <= r->lead_max && lead <= kwstart; lead++) {
		s = kwstart - lead;
		if (s < w->lo)
			break;
		opts = 0;
		len = s + r->maxlen + 1;
		if (len > w->n) {
			len = w->n;
			if (!w->eof)
				opts = PCRE2_PARTIAL_HARD;
		}
		if (pt->jit)
			rc = pcre2_jit_match(pt->code, w->p, len, s, opts,
			    sc->md, sc->mctx);
		else
			rc = pcre2_match(pt->code, w->p, len, s, opts, sc->md,
			    sc->mctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			continue;
		if (rc == PCRE2_ERROR_PARTIAL) {
			if (s < *front)
				*front = s;
			continue;
		}
		if (rc < 0) {
			sc->why = "token_patterns match failed (PCRE2 limit)";
			return (-1);
		}
		ov = pcre2_get_ovector_pointer(sc->md);
		e = ov[1];
		if (r->extent != NULL) {
			rc = r->extent(w->p, w->n, s, &e, w->eof);
			if (rc == -1) {
				if (s < *front)
					*front = s;
				continue;
			}
			if (rc == 0)
				continue;
		}
		if (cm_scanner_push(sc, s, e, (uint32_t)(set->ks.n * 8 + rule),
		    (uint32_t)rule, 0, CM_SCAN_FORM_NONE) == -1)
			return (-1);
	}
	return (0);
}
