/*
 * naive_injection_detection (spec/egress.md §12): the eight signal
 * families, run over the normalised text of scan_norm.c, and the
 * severity rule of §12.3.
 *
 * Patterns are the spec's, with its layout undone (line joins, `|`
 * between blanks, \x20).  They run lower-cased, impersonation/case on the
 * original case.  A literal prefilter over the lower-cased text finds
 * the words a match must contain; each pattern then runs only from
 * (literal - back) with a PCRE2 offset limit at the literal, so a search
 * never wanders.  A match touching the end of the text so far, or a
 * partial one, is left for the next piece (the held character of §10.2).
 *
 * Severity.  A match is quoted inside code (fence, backticks, <pre>,
 * <code>) or when it starts within CM_INJECT_QUOTE_LEAD characters after
 * an opening quotation mark still open at its end.  Quoted matches only
 * ever warn, so an article that shows the phrases as examples passes;
 * unquoted ones block when one CM_INJECT_WINDOW_BYTES window of text
 * holds a hidden carrier, three families, or an instruction family with
 * an action family.  A run of tag characters is a carrier only when a
 * match is spelt with at least CM_INJECT_TAG_RUN of them, so a flag
 * emoji (which uses tags) does not block on its own.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "common/scan_inject.h"
#include "common/scan_int.h"

enum {
	CM_INJ_OVERRIDE, CM_INJ_ROLE, CM_INJ_IMP, CM_INJ_IMPCASE,
	CM_INJ_BOUNDARY, CM_INJ_TOOL, CM_INJ_EXFIL, CM_INJ_SHOW, CM_INJ_IMG,
	CM_INJ_SHELL, CM_INJ_CONCEAL, CM_INJ_NPAT
};

static const struct {
	const char	*re;
	unsigned	 family;
} cm_inj_pats[CM_INJ_NPAT] = {
	[CM_INJ_OVERRIDE] = {
	    "\\b(?:ignore|disregard|forget|override|bypass|abandon)"
	    "(?: (?:all|any|every|the|your|my|these|those|of))*"
	    " (?:previous|prior|above|earlier|preceding|original|initial|"
	    "system|developer|safety|existing)(?: \\w+)?"
	    " (?:instructions?|prompts?|rules|directives?|guidelines|"
	    "guardrails|constraints|polic(?:y|ies)|context|messages?)\\b",
	    CM_INJECT_OVERRIDE },
	[CM_INJ_ROLE] = {
	    "\\byou are now\\b|\\bfrom now on,? you (?:are|will|must|shall|"
	    "should)\\b|\\b(?:act|behave|respond) as (?:an? )?(?:unrestricted|"
	    "unfiltered|uncensored|jailbroken|evil)\\b|\\bpretend (?:to be|"
	    "you are)\\b|\\b(?:developer|god|sudo|jailbreak|unrestricted) "
	    "mode\\b|\\bdo anything now\\b",
	    CM_INJECT_ROLE },
	[CM_INJ_IMP] = {
	    "<\\|(?:im_start|im_end|system|endoftext|start_header_id|eot_id)"
	    "\\|>|\\[/?inst\\]|<</?sys>>|</?system(?:[ _-]?prompt)?>",
	    CM_INJECT_IMPERSONATION },
	[CM_INJ_IMPCASE] = {
	    "(?m)^[ \\t>#*\\[]*(?:SYSTEM|ADMIN|DEVELOPER)(?: (?:MESSAGE|PROMPT|"
	    "NOTE|OVERRIDE|INSTRUCTIONS?))?\\]? ?:",
	    CM_INJECT_IMPERSONATION },
	[CM_INJ_BOUNDARY] = {
	    "\\b(?:new|updated|revised|real|actual|additional) (?:system )?"
	    "(?:instructions|directives|rules|prompt) ?[:-]"
	    "|\\bend of (?:the )?(?:system )?(?:prompt|instructions|context)\\b"
	    "|\\b(?:if you are|attention|note to|message for|instructions for)"
	    " (?:an? )?(?:ai|llm|language model|assistant|agent|coding agent|"
	    "claude|codex|chatgpt|copilot)\\b",
	    CM_INJECT_BOUNDARY },
	[CM_INJ_TOOL] = {
	    "\\b(?:you must|you should|you need to|immediately|now) (?:call|"
	    "invoke|use|run|execute) (?:the )?[\\w.:/-]{1,64} (?:tool|function|"
	    "command)\\b"
	    "|\\b(?:call|invoke) the [\\w.:/-]{1,64} tool\\b"
	    "|\\b(?:run|execute) (?:the following|this) (?:command|script|"
	    "code)\\b.{0,40}\\b(?:without (?:asking|confirmation|telling)|"
	    "silently|immediately)\\b",
	    CM_INJECT_TOOL },
	/* exfil-request, its three top-level alternatives apart. */
	[CM_INJ_EXFIL] = {
	    "\\b(?:send|post|upload|forward|transmit|exfiltrate|leak|email|"
	    "paste|submit|include)\\b.{0,60}?"
	    "\\b(?:api ?keys?|access ?tokens?|tokens?|secrets?|credentials?|"
	    "passwords?|env(?:ironment)? ?(?:vars?|variables)|\\.env|"
	    "ssh ?keys?|id_rsa|private ?keys?|cookies?|system prompt)\\b"
	    ".{0,80}?(?:https?://|\\bto (?:this|the following|my|our) (?:url|"
	    "endpoint|server|address|webhook)\\b)",
	    CM_INJECT_EXFIL },
	[CM_INJ_SHOW] = {
	    "\\b(?:print|reveal|show|output|display|repeat|dump|tell me)\\b"
	    "(?: \\w+){0,3} (?:your )?(?:system prompt|initial instructions|"
	    "api keys?|environment variables|env vars|credentials|~/\\.ssh|"
	    "~/\\.aws)",
	    CM_INJECT_EXFIL },
	[CM_INJ_IMG] = {
	    "!\\[[^\\]]{0,100}\\]\\(https?://[^) ]{1,200}[?&]\\w{1,32}="
	    "(?:\\{|\\$|%7b|<)",
	    CM_INJECT_EXFIL },
	[CM_INJ_SHELL] = {
	    "\\b(?:curl|wget)\\b[^\\n|;]{0,200}\\| ?(?:sudo )?"
	    "(?:ba|z|k|da)?sh\\b"
	    "|\\bsh -c [\"']?\\$\\( ?(?:curl|wget)"
	    "|\\bbase64 (?:-d|--decode)\\b[^\\n]{0,80}\\| ?(?:ba)?sh\\b"
	    "|\\beval ?\\( ?atob ?\\("
	    "|\\b(?:iex|invoke-expression)\\b[^\\n]{0,80}\\b(?:iwr|irm|"
	    "invoke-webrequest|downloadstring)\\b",
	    CM_INJECT_SHELL },
	[CM_INJ_CONCEAL] = {
	    "\\bdo not (?:tell|show|reveal|mention|disclose) (?:this|these "
	    "instructions|it) to the user\\b|\\bhidden instructions? ?[:=]"
	    "|\\binvisible to (?:the )?user\\b"
	    "|\\bthe user (?:cannot|can't|must not|should not|won't) "
	    "see this\\b"
	    "|\\bwithout (?:telling|informing|notifying) the user\\b",
	    CM_INJECT_CONCEAL },
};

/*
 * Words each match of a pattern contains, and how far before the word
 * the match may start.  upper: the original text must be upper-case.
 * Some words count only with companions of their pattern before them,
 * within back (ring 0) and back2 (ring 1), and the search then starts
 * at the earliest ring-0 companion: "token" or "https://" alone are
 * common, "send ... token ... https://" much less so, and a text that
 * repeats companions without the rest costs no regex work.
 */
#define CM_INJ_CAND	0		/* a candidate by itself */
#define CM_INJ_NEED	1		/* needs a ring-0 companion */
#define CM_INJ_NEED2	2		/* needs ring-0 and ring-1 companions */
#define CM_INJ_COMP	3		/* ring-0 companion */
#define CM_INJ_COMP1	4		/* ring-1 companion */

static const struct {
	const char	*s;
	uint8_t		 pat;
	uint8_t		 back;
	uint8_t		 upper;
	uint8_t		 kind;
	uint8_t		 back2;
} cm_inj_lits[] = {
	{ "ignore", CM_INJ_OVERRIDE, 0, 0, CM_INJ_CAND, 0 },
	{ "disregard", CM_INJ_OVERRIDE, 0, 0, CM_INJ_CAND, 0 },
	{ "forget", CM_INJ_OVERRIDE, 0, 0, CM_INJ_CAND, 0 },
	{ "override", CM_INJ_OVERRIDE, 0, 0, CM_INJ_CAND, 0 },
	{ "bypass", CM_INJ_OVERRIDE, 0, 0, CM_INJ_CAND, 0 },
	{ "abandon", CM_INJ_OVERRIDE, 0, 0, CM_INJ_CAND, 0 },
	{ "you are now", CM_INJ_ROLE, 0, 0, CM_INJ_CAND, 0 },
	{ "from now on", CM_INJ_ROLE, 0, 0, CM_INJ_CAND, 0 },
	{ "act as", CM_INJ_ROLE, 0, 0, CM_INJ_CAND, 0 },
	{ "behave as", CM_INJ_ROLE, 0, 0, CM_INJ_CAND, 0 },
	{ "respond as", CM_INJ_ROLE, 0, 0, CM_INJ_CAND, 0 },
	{ "pretend", CM_INJ_ROLE, 0, 0, CM_INJ_CAND, 0 },
	{ " mode", CM_INJ_ROLE, 13, 0, CM_INJ_CAND, 0 },
	{ "do anything now", CM_INJ_ROLE, 0, 0, CM_INJ_CAND, 0 },
	{ "<|", CM_INJ_IMP, 0, 0, CM_INJ_CAND, 0 },
	{ "inst]", CM_INJ_IMP, 2, 0, CM_INJ_CAND, 0 },
	{ "sys>>", CM_INJ_IMP, 3, 0, CM_INJ_CAND, 0 },
	{ "system", CM_INJ_IMP, 2, 0, CM_INJ_CAND, 0 },
	{ "system", CM_INJ_IMPCASE, 64, 1, CM_INJ_CAND, 0 },
	{ "admin", CM_INJ_IMPCASE, 64, 1, CM_INJ_CAND, 0 },
	{ "developer", CM_INJ_IMPCASE, 64, 1, CM_INJ_CAND, 0 },
	{ "instructions", CM_INJ_BOUNDARY, 18, 0, CM_INJ_CAND, 0 },
	{ "directives", CM_INJ_BOUNDARY, 18, 0, CM_INJ_CAND, 0 },
	{ "rules", CM_INJ_BOUNDARY, 18, 0, CM_INJ_CAND, 0 },
	{ "prompt", CM_INJ_BOUNDARY, 18, 0, CM_INJ_CAND, 0 },
	{ "end of", CM_INJ_BOUNDARY, 0, 0, CM_INJ_CAND, 0 },
	{ "if you are", CM_INJ_BOUNDARY, 0, 0, CM_INJ_CAND, 0 },
	{ "attention", CM_INJ_BOUNDARY, 0, 0, CM_INJ_CAND, 0 },
	{ "note to", CM_INJ_BOUNDARY, 0, 0, CM_INJ_CAND, 0 },
	{ "message for", CM_INJ_BOUNDARY, 0, 0, CM_INJ_CAND, 0 },
	{ " tool", CM_INJ_TOOL, 100, 0, CM_INJ_NEED, 0 },
	{ " function", CM_INJ_TOOL, 100, 0, CM_INJ_NEED, 0 },
	{ " command", CM_INJ_TOOL, 100, 0, CM_INJ_NEED, 0 },
	{ "you must", CM_INJ_TOOL, 0, 0, CM_INJ_COMP, 0 },
	{ "you should", CM_INJ_TOOL, 0, 0, CM_INJ_COMP, 0 },
	{ "you need to", CM_INJ_TOOL, 0, 0, CM_INJ_COMP, 0 },
	{ "immediately", CM_INJ_TOOL, 0, 0, CM_INJ_COMP, 0 },
	{ "now ", CM_INJ_TOOL, 0, 0, CM_INJ_COMP, 0 },
	{ "call", CM_INJ_TOOL, 0, 0, CM_INJ_COMP, 0 },
	{ "invoke", CM_INJ_TOOL, 0, 0, CM_INJ_COMP, 0 },
	{ "run th", CM_INJ_TOOL, 0, 0, CM_INJ_CAND, 0 },
	{ "execute th", CM_INJ_TOOL, 0, 0, CM_INJ_CAND, 0 },
	{ "send", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP, 0 },
	{ "post", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP, 0 },
	{ "upload", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP, 0 },
	{ "forward", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP, 0 },
	{ "transmit", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP, 0 },
	{ "exfiltrate", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP, 0 },
	{ "leak", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP, 0 },
	{ "email", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP, 0 },
	{ "paste", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP, 0 },
	{ "submit", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP, 0 },
	{ "include", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP, 0 },
	{ "apikey", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ "api key", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ "sshkey", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ "ssh key", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ "privatekey", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ "private key", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ "token", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ "secret", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ "credential", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ "password", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ "env var", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ "envvar", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ "environment", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ ".env", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ "id_rsa", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ "cookie", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ "system prompt", CM_INJ_EXFIL, 0, 0, CM_INJ_COMP1, 0 },
	{ "http", CM_INJ_EXFIL, 200, 0, CM_INJ_NEED2, 100 },
	{ "to this", CM_INJ_EXFIL, 200, 0, CM_INJ_NEED2, 100 },
	{ "to the following", CM_INJ_EXFIL, 200, 0, CM_INJ_NEED2, 100 },
	{ "to my", CM_INJ_EXFIL, 200, 0, CM_INJ_NEED2, 100 },
	{ "to our", CM_INJ_EXFIL, 200, 0, CM_INJ_NEED2, 100 },
	{ "print", CM_INJ_SHOW, 0, 0, CM_INJ_COMP, 0 },
	{ "reveal", CM_INJ_SHOW, 0, 0, CM_INJ_COMP, 0 },
	{ "show", CM_INJ_SHOW, 0, 0, CM_INJ_COMP, 0 },
	{ "output", CM_INJ_SHOW, 0, 0, CM_INJ_COMP, 0 },
	{ "display", CM_INJ_SHOW, 0, 0, CM_INJ_COMP, 0 },
	{ "repeat", CM_INJ_SHOW, 0, 0, CM_INJ_COMP, 0 },
	{ "dump", CM_INJ_SHOW, 0, 0, CM_INJ_COMP, 0 },
	{ "tell me", CM_INJ_SHOW, 0, 0, CM_INJ_COMP, 0 },
	{ "system prompt", CM_INJ_SHOW, 120, 0, CM_INJ_NEED, 0 },
	{ "initial instructions", CM_INJ_SHOW, 120, 0, CM_INJ_NEED, 0 },
	{ "api key", CM_INJ_SHOW, 120, 0, CM_INJ_NEED, 0 },
	{ "environment variables", CM_INJ_SHOW, 120, 0, CM_INJ_NEED, 0 },
	{ "env vars", CM_INJ_SHOW, 120, 0, CM_INJ_NEED, 0 },
	{ "credentials", CM_INJ_SHOW, 120, 0, CM_INJ_NEED, 0 },
	{ "~/.ssh", CM_INJ_SHOW, 120, 0, CM_INJ_NEED, 0 },
	{ "~/.aws", CM_INJ_SHOW, 120, 0, CM_INJ_NEED, 0 },
	{ "![", CM_INJ_IMG, 0, 0, CM_INJ_CAND, 0 },
	{ "curl", CM_INJ_SHELL, 0, 0, CM_INJ_CAND, 0 },
	{ "wget", CM_INJ_SHELL, 0, 0, CM_INJ_CAND, 0 },
	{ "sh -c", CM_INJ_SHELL, 0, 0, CM_INJ_CAND, 0 },
	{ "base64", CM_INJ_SHELL, 0, 0, CM_INJ_CAND, 0 },
	{ "eval", CM_INJ_SHELL, 0, 0, CM_INJ_CAND, 0 },
	{ "iex ", CM_INJ_SHELL, 0, 0, CM_INJ_CAND, 0 },
	{ "iex(", CM_INJ_SHELL, 0, 0, CM_INJ_CAND, 0 },
	{ "invoke-expression", CM_INJ_SHELL, 0, 0, CM_INJ_CAND, 0 },
	{ "do not", CM_INJ_CONCEAL, 0, 0, CM_INJ_CAND, 0 },
	{ "hidden instruction", CM_INJ_CONCEAL, 0, 0, CM_INJ_CAND, 0 },
	{ "invisible to", CM_INJ_CONCEAL, 0, 0, CM_INJ_CAND, 0 },
	{ "the user", CM_INJ_CONCEAL, 0, 0, CM_INJ_CAND, 0 },
	{ "without", CM_INJ_CONCEAL, 0, 0, CM_INJ_CAND, 0 },
};

/* Companions remembered per pattern, most recent last. */
#define CM_INJ_NCOMP	16

#define CM_INJ_NLITS	(sizeof(cm_inj_lits) / sizeof(cm_inj_lits[0]))
#define CM_INJ_BACK_MAX	200

struct cm_inject_rules {
	pcre2_code		*code[CM_INJ_NPAT];
	int			 jit[CM_INJ_NPAT];
	struct cm_litset	 lits;
};

/* A region to search: pattern pat starting in [rs, rmax]. */
struct cm_inj_cand {
	uint64_t	 rs;
	uint64_t	 rmax;
	int		 pat;
};

struct cm_inj_match {
	uint64_t	 start;
	unsigned	 family;
	int		 pat;
	int		 quoted;
	int		 carrier;
};

struct cm_inject {
	struct cm_scanset	*set;		/* a reference */
	struct cm_norm		 nm;
	uint64_t		 scanned;	/* literals before: done */
	struct cm_inj_match	*m;
	size_t			 nm_;
	size_t			 capm;
	struct cm_inject_result	 res;
	int			 finished;
};

struct cm_inj_scan {
	struct cm_inject	*in;
	struct cm_scanner	*sc;
	size_t			 n;
	uint64_t		 from;		/* candidates start here */
	uint64_t		 comp[CM_INJ_NPAT][2][CM_INJ_NCOMP];
	size_t			 ncomp[CM_INJ_NPAT][2];
};

static int	cm_inj_near(const struct cm_inj_scan *a, size_t pat, int ring,
		    uint64_t at, size_t back, uint64_t *lo, uint64_t *hi);
static int	cm_inj_lit(void *arg, const struct cm_lit *lit, size_t start);
static int	cm_inj_cand_cmp(const void *a, const void *b);
static int	cm_inj_quoted(const struct cm_norm *nm, size_t s, size_t e);
static int	cm_inj_carrier(const struct cm_norm *nm, size_t s, size_t e);
static int	cm_inj_record(struct cm_inject *in, int pat, size_t s,
		    size_t e);
static int	cm_inj_search(struct cm_inject *in, struct cm_scanner *sc,
		    const struct cm_inj_cand *c, int eof, uint64_t *defer);
static int	cm_inj_run(struct cm_inject *in, struct cm_scanner *sc,
		    int eof);
static void	cm_inj_eval(struct cm_inject *in);
static int	cm_inj_step(struct cm_inject *in, struct cm_scanner *sc,
		    const void *buf, size_t len, int eof, const char **why);

int
cm_inject_rules_new(struct cm_scanset *set, const char **why)
{
	struct cm_inject_rules	*r;
	pcre2_compile_context	*cc;
	size_t			 i;
	int			 err;
	PCRE2_SIZE		 eoff;

	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (cc = pcre2_compile_context_create(NULL)) == NULL) {
		free(r);
		*why = "out of memory compiling injection patterns";
		return (-1);
	}
	set->inj = r;
	cm_litset_init(&r->lits);
	pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
	for (i = 0; i < CM_INJ_NPAT; i++) {
		r->code[i] = pcre2_compile((PCRE2_SPTR)cm_inj_pats[i].re,
		    PCRE2_ZERO_TERMINATED, PCRE2_USE_OFFSET_LIMIT, &err, &eoff,
		    cc);
		if (r->code[i] == NULL) {
			pcre2_compile_context_free(cc);
			*why = "an injection pattern does not compile";
			return (-1);
		}
		r->jit[i] = pcre2_jit_compile(r->code[i], PCRE2_JIT_COMPLETE |
		    PCRE2_JIT_PARTIAL_HARD) == 0;
	}
	pcre2_compile_context_free(cc);
	for (i = 0; i < CM_INJ_NLITS; i++) {
		if (cm_litset_add(&r->lits, cm_inj_lits[i].s,
		    strlen(cm_inj_lits[i].s), 0,
		    CM_LIT_INJ | (uint32_t)i) == -1) {
			*why = "out of memory compiling injection patterns";
			return (-1);
		}
	}
	if (cm_litset_build(&r->lits) == -1) {
		*why = "out of memory compiling injection patterns";
		return (-1);
	}
	return (0);
}

void
cm_inject_rules_free(struct cm_inject_rules *r)
{
	size_t	 i;

	if (r == NULL)
		return;
	for (i = 0; i < CM_INJ_NPAT; i++)
		pcre2_code_free(r->code[i]);
	cm_litset_clear(&r->lits);
	free(r);
}

void
cm_inject_scratch_free(struct cm_scanner *sc)
{
	free(sc->iscratch);
	sc->iscratch = NULL;
	sc->iscap = 0;
}

struct cm_inject *
cm_inject_new(const struct cm_scanset *set, enum cm_inject_format format,
    enum cm_inject_charset charset)
{
	struct cm_inject	*in;

	if (set->inj == NULL || (in = calloc(1, sizeof(*in))) == NULL)
		return (NULL);
	in->set = (struct cm_scanset *)(uintptr_t)set;
	cm_scanset_ref(in->set);
	cm_norm_init(&in->nm, (int)format, charset == CM_INJECT_LATIN1);
	return (in);
}

void
cm_inject_free(struct cm_inject *in)
{
	if (in == NULL)
		return;
	cm_norm_free(&in->nm);
	free(in->m);
	cm_scanset_unref(in->set);
	free(in);
}

void
cm_inject_get(const struct cm_inject *in, struct cm_inject_result *res)
{
	*res = in->res;
}

/* Companions of ring of pat in [at - back, at): earliest and latest. */
static int
cm_inj_near(const struct cm_inj_scan *a, size_t pat, int ring, uint64_t at,
    size_t back, uint64_t *lo, uint64_t *hi)
{
	size_t		 k, n = a->ncomp[pat][ring];
	uint64_t	 p;
	int		 found = 0;

	for (k = 0; k < CM_INJ_NCOMP && k < n; k++) {
		p = a->comp[pat][ring][k];
		if (p < at && p + back >= at) {
			if (p < *lo)
				*lo = p;
			if (p > *hi)
				*hi = p;
			found = 1;
		}
	}
	return (found);
}

static int
cm_inj_lit(void *arg, const struct cm_lit *lit, size_t start)
{
	struct cm_inj_scan	*a = arg;
	struct cm_norm		*nm = &a->in->nm;
	struct cm_inj_cand	*c, *nv;
	size_t			 i = CM_LIT_INDEX(lit->owner), k, ncap, pat;
	uint64_t		 at = nm->base + start, rs = UINT64_MAX;
	uint64_t		 rmax = 0;
	int			 kind, ring;

	pat = cm_inj_lits[i].pat;
	kind = cm_inj_lits[i].kind;
	if (kind == CM_INJ_COMP || kind == CM_INJ_COMP1) {
		ring = kind == CM_INJ_COMP1;
		a->comp[pat][ring][a->ncomp[pat][ring]++ % CM_INJ_NCOMP] = at;
		return (0);
	}
	if (at < a->from)
		return (0);
	if (cm_inj_lits[i].upper) {
		for (k = 0; k < lit->len; k++)
			if (nm->orig[start + k] != lit->s[k] - 32)
				return (0);
	}
	if (kind == CM_INJ_NEED2 && !cm_inj_near(a, pat, 1, at,
	    cm_inj_lits[i].back2, &rs, &rmax))
		return (0);
	if (kind == CM_INJ_NEED || kind == CM_INJ_NEED2) {
		rs = UINT64_MAX;
		rmax = 0;
		if (!cm_inj_near(a, pat, 0, at, cm_inj_lits[i].back, &rs,
		    &rmax))
			return (0);	/* no companion: no match */
	}
	if (a->n == a->sc->iscap) {
		ncap = a->sc->iscap ? a->sc->iscap * 2 : 64;
		if ((nv = reallocarray(a->sc->iscratch, ncap, sizeof(*nv))) ==
		    NULL)
			return (-1);
		a->sc->iscratch = nv;
		a->sc->iscap = ncap;
	}
	c = (struct cm_inj_cand *)a->sc->iscratch + a->n++;
	c->pat = (int)pat;
	if (rs != UINT64_MAX) {
		c->rs = rs;
		c->rmax = rmax;
	} else {
		c->rmax = at;
		c->rs = at >= nm->base + cm_inj_lits[i].back ?
		    at - cm_inj_lits[i].back : nm->base;
	}
	return (0);
}

static int
cm_inj_cand_cmp(const void *a, const void *b)
{
	const struct cm_inj_cand *x = a, *y = b;

	if (x->pat != y->pat)
		return (x->pat < y->pat ? -1 : 1);
	if (x->rs != y->rs)
		return (x->rs < y->rs ? -1 : 1);
	return (0);
}

static int
cm_inj_wordch(unsigned char c)
{
	return ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '_');
}

/* In code, or just after an opening quotation mark still open at e. */
static int
cm_inj_quoted(const struct cm_norm *nm, size_t s, size_t e)
{
	static const unsigned char	 lq[][3] = {
		{ 0xE2, 0x80, 0x9C }, { 0xE2, 0x80, 0x98 }, { 0xC2, 0xAB, 0 },
	};
	static const unsigned char	 rq[][3] = {
		{ 0xE2, 0x80, 0x9D }, { 0xE2, 0x80, 0x99 }, { 0xC2, 0xBB, 0 },
	};
	const unsigned char		*o = nm->orig;
	size_t				 q = s, j, k, ql;
	int				 chars;

	if (nm->fl[s] & CM_NORM_CODE)
		return (1);
	for (chars = 0; chars < CM_INJECT_QUOTE_LEAD && q > 0; chars++) {
		q--;
		while (q > 0 && (o[q] & 0xC0) == 0x80)
			q--;
		if (nm->fl[q] & CM_NORM_SYNTAX)
			continue;	/* JSON string quote, attribute */
		if (o[q] == '"' || o[q] == '\'') {
			if (q > 0 && cm_inj_wordch(o[q - 1]))
				continue;	/* closes, or an apostrophe */
			for (j = q + 1; j < e; j++) {
				if (o[j] == o[q] && (o[q] == '"' ||
				    j + 1 >= e || !cm_inj_wordch(o[j + 1])))
					break;
			}
			if (j >= e)
				return (1);
			continue;
		}
		for (k = 0; k < 3; k++) {
			ql = k < 2 ? 3 : 2;
			if (q + ql > e || memcmp(o + q, lq[k], ql) != 0)
				continue;
			for (j = q + ql; j + ql <= e; j++)
				if (memcmp(o + j, rq[k], ql) == 0)
					break;
			if (j + ql > e)
				return (1);
		}
	}
	return (0);
}

/* Hidden carrier (§12.1) for a match [s, e) of the window. */
static int
cm_inj_carrier(const struct cm_norm *nm, size_t s, size_t e)
{
	size_t	 i, tags = 0;

	if (nm->fl[s] & CM_NORM_HIDDEN)
		return (1);
	for (i = s; i < e; i++) {
		if (i > s && (nm->fl[i] & CM_NORM_ZW))
			return (1);
		if ((nm->fl[i] & CM_NORM_TAG) && ++tags >= CM_INJECT_TAG_RUN)
			return (1);
	}
	return (0);
}

static int
cm_inj_record(struct cm_inject *in, int pat, size_t s, size_t e)
{
	struct cm_inj_match	*m, *nv;
	uint64_t		 at = in->nm.base + s;
	size_t			 i, ncap;

	for (i = 0; i < in->nm_; i++) {
		if (in->m[i].start == at && in->m[i].pat == pat)
			return (0);
	}
	if (in->nm_ == in->capm) {
		ncap = in->capm ? in->capm * 2 : 16;
		if ((nv = reallocarray(in->m, ncap, sizeof(*nv))) == NULL)
			return (-1);
		in->m = nv;
		in->capm = ncap;
	}
	m = &in->m[in->nm_++];
	m->start = at;
	m->pat = pat;
	m->family = cm_inj_pats[pat].family;
	m->quoted = cm_inj_quoted(&in->nm, s, e);
	m->carrier = cm_inj_carrier(&in->nm, s, e);
	in->res.families |= m->family;
	in->res.matches++;
	if (in->res.severity < CM_INJECT_WARN)
		in->res.severity = CM_INJECT_WARN;
	return (0);
}

/* Runs one pattern over a region; *defer gets a start to search again. */
static int
cm_inj_search(struct cm_inject *in, struct cm_scanner *sc,
    const struct cm_inj_cand *c, int eof, uint64_t *defer)
{
	const struct cm_inject_rules	*r = in->set->inj;
	const struct cm_norm		*nm = &in->nm;
	const unsigned char		*subj;
	PCRE2_SIZE			*ov;
	size_t				 slen = (size_t)(nm->final - nm->base);
	size_t				 off = (size_t)(c->rs - nm->base);
	int				 rc;

	if (slen == 0)
		return (0);
	subj = c->pat == CM_INJ_IMPCASE ? nm->orig : nm->low;
	pcre2_set_offset_limit(sc->imctx, (PCRE2_SIZE)(c->rmax - nm->base));
	while (off <= (size_t)(c->rmax - nm->base) && off <= slen) {
		if (r->jit[c->pat])
			rc = pcre2_jit_match(r->code[c->pat], subj, slen, off,
			    eof ? 0 : PCRE2_PARTIAL_HARD, sc->imd, sc->imctx);
		else
			rc = pcre2_match(r->code[c->pat], subj, slen, off,
			    eof ? 0 : PCRE2_PARTIAL_HARD, sc->imd, sc->imctx);
		if (rc == PCRE2_ERROR_NOMATCH)
			return (0);
		ov = pcre2_get_ovector_pointer(sc->imd);
		if (rc == PCRE2_ERROR_PARTIAL || (rc > 0 && !eof &&
		    ov[1] >= slen)) {
			/* More text may change it: look again next time. */
			if (c->rs < *defer)
				*defer = c->rs;
			return (0);
		}
		if (rc < 0) {
			sc->why = "injection match failed (PCRE2 limit)";
			return (-1);
		}
		if (cm_inj_record(in, c->pat, ov[0], ov[1]) == -1) {
			sc->why = "out of memory scanning";
			return (-1);
		}
		off = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
	}
	return (0);
}

static int
cm_inj_run(struct cm_inject *in, struct cm_scanner *sc, int eof)
{
	const struct cm_inject_rules	*r = in->set->inj;
	struct cm_norm			*nm = &in->nm;
	struct cm_inj_scan		 a;
	struct cm_inj_cand		*v, cur;
	uint64_t			 defer = UINT64_MAX, next;
	size_t				 i, n, lo;

	memset(&a, 0, sizeof(a));
	a.in = in;
	a.sc = sc;
	if (in->scanned < nm->base)
		in->scanned = nm->base;
	a.from = in->scanned;
	/* Companions before scanned still count for words after it. */
	lo = in->scanned - nm->base > CM_INJ_BACK_MAX ?
	    (size_t)(in->scanned - nm->base) - CM_INJ_BACK_MAX : 0;
	if (cm_litset_scan(&r->lits, nm->low, (size_t)(nm->final - nm->base),
	    lo, cm_inj_lit, &a) == -1) {
		sc->why = "out of memory scanning";
		return (-1);
	}
	v = sc->iscratch;
	n = a.n;
	if (n > 0)
		qsort(v, n, sizeof(*v), cm_inj_cand_cmp);
	for (i = 0; i < n; ) {
		cur = v[i++];
		while (i < n && v[i].pat == cur.pat &&
		    v[i].rs <= cur.rmax + 1) {
			if (v[i].rmax > cur.rmax)
				cur.rmax = v[i].rmax;
			i++;
		}
		if (cm_inj_search(in, sc, &cur, eof, &defer) == -1)
			return (-1);
	}
	/* A literal cut by the end is found whole next time. */
	next = nm->final;
	if (!eof)
		next = nm->final > r->lits.maxlen ? nm->final - r->lits.maxlen :
		    0;
	if (defer < next)
		next = defer;
	if (next > in->scanned)
		in->scanned = next;
	return (0);
}

/* §12.3 over every window of CM_INJECT_WINDOW_BYTES of text. */
static void
cm_inj_eval(struct cm_inject *in)
{
	const unsigned	 instr = CM_INJECT_OVERRIDE | CM_INJECT_ROLE |
	    CM_INJECT_IMPERSONATION | CM_INJECT_BOUNDARY;
	const unsigned	 act = CM_INJECT_EXFIL | CM_INJECT_TOOL |
	    CM_INJECT_SHELL;
	unsigned	 fam;
	size_t		 i, j;
	int		 carrier;

	if (in->res.severity == CM_INJECT_BLOCK)
		return;
	for (i = 0; i < in->nm_; i++) {
		if (in->m[i].quoted)
			continue;
		fam = 0;
		carrier = 0;
		for (j = 0; j < in->nm_; j++) {
			if (in->m[j].quoted ||
			    in->m[j].start < in->m[i].start ||
			    in->m[j].start - in->m[i].start >=
			    CM_INJECT_WINDOW_BYTES)
				continue;
			fam |= in->m[j].family;
			carrier |= in->m[j].carrier;
		}
		if (carrier || __builtin_popcount(fam) >= 3 ||
		    ((fam & instr) && (fam & act))) {
			in->res.severity = CM_INJECT_BLOCK;
			in->res.block_families = fam;
			in->res.carrier = carrier;
			return;
		}
	}
}

static int
cm_inj_step(struct cm_inject *in, struct cm_scanner *sc, const void *buf,
    size_t len, int eof, const char **why)
{
	struct cm_norm	*nm = &in->nm;
	uint64_t	 keep, horizon;
	size_t		 i, k;

	if (in->finished) {
		*why = "injection scan already finished";
		return (-1);
	}
	sc->why = NULL;
	if (cm_norm_feed(nm, buf, len, eof) == -1) {
		*why = "out of memory normalising text";
		return (-1);
	}
	if (cm_inj_run(in, sc, eof) == -1) {
		*why = sc->why != NULL ? sc->why : "injection scan failed";
		return (-1);
	}
	cm_inj_eval(in);
	/* Keep what a later match may look back at (quotes, back). */
	keep = in->scanned > CM_INJ_BACK_MAX + 64 ?
	    in->scanned - CM_INJ_BACK_MAX - 64 : 0;
	cm_norm_trim(nm, keep);
	horizon = nm->final > 2 * CM_INJECT_WINDOW_BYTES ?
	    nm->final - 2 * CM_INJECT_WINDOW_BYTES : 0;
	for (i = 0, k = 0; i < in->nm_; i++) {
		if (in->m[i].start >= horizon)
			in->m[k++] = in->m[i];
	}
	in->nm_ = k;
	if (eof)
		in->finished = 1;
	return (0);
}

int
cm_inject_feed(struct cm_inject *in, struct cm_scanner *sc, const void *buf,
    size_t len, const char **why)
{
	return (cm_inj_step(in, sc, buf, len, 0, why));
}

int
cm_inject_finish(struct cm_inject *in, struct cm_scanner *sc,
    const char **why)
{
	return (cm_inj_step(in, sc, NULL, 0, 1, why));
}

int
cm_inject_scan(const struct cm_scanset *set, struct cm_scanner *sc,
    enum cm_inject_format format, enum cm_inject_charset charset,
    const void *buf, size_t len, struct cm_inject_result *res,
    const char **why)
{
	struct cm_inject	*in;
	int			 rc;

	if ((in = cm_inject_new(set, format, charset)) == NULL) {
		*why = set->inj == NULL ? "scan set has no inbound patterns" :
		    "out of memory";
		return (-1);
	}
	rc = cm_inj_step(in, sc, buf, len, 1, why);
	if (rc == 0)
		cm_inject_get(in, res);
	cm_inject_free(in);
	return (rc);
}

const char *
cm_inject_family_name(unsigned bit)
{
	switch (bit) {
	case CM_INJECT_OVERRIDE:
		return ("override");
	case CM_INJECT_ROLE:
		return ("role");
	case CM_INJECT_IMPERSONATION:
		return ("impersonation");
	case CM_INJECT_BOUNDARY:
		return ("boundary");
	case CM_INJECT_TOOL:
		return ("tool-coercion");
	case CM_INJECT_EXFIL:
		return ("exfil-request");
	case CM_INJECT_SHELL:
		return ("shell-pipe");
	case CM_INJECT_CONCEAL:
		return ("concealment");
	default:
		return (NULL);
	}
}

size_t
cm_inject_families_str(unsigned families, char *buf, size_t sz)
{
	size_t		 o = 0, l;
	unsigned	 bit;
	const char	*s;

	if (sz == 0)
		return (0);
	buf[0] = '\0';
	for (bit = 1; bit < (1u << CM_INJECT_NFAMILIES); bit <<= 1) {
		if ((families & bit) == 0 ||
		    (s = cm_inject_family_name(bit)) == NULL)
			continue;
		l = strlen(s);
		if (o + l + (o > 0) + 1 > sz)
			break;
		if (o > 0)
			buf[o++] = ',';
		memcpy(buf + o, s, l + 1);
		o += l;
	}
	return (o);
}
