/*
 * The scan engine's entry points: compiling a set, per-thread scanners,
 * and the scan of one window that whole-buffer and streaming scans
 * share (spec/egress.md §8).
 *
 * A window scan runs the literal prefilter (rule keywords, short secret
 * forms) and the known-secret sampler; each candidate is decided when
 * the window holds every byte its longest match could need, or else it
 * lowers the window's front, the first index at which a hit may still
 * appear.  cm_scan_resolve() then merges overlapping hits into one under
 * the first rule and keeps only clusters ending at or before the front:
 * those no later byte can change.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "common/log.h"
#include "common/scan_int.h"

struct cm_core_arg {
	struct cm_scanner		*sc;
	const struct cm_scanset		*set;
	const struct cm_scan_win	*w;
	unsigned			 detectors;
	int				 nocase;
	size_t				*front;
};

static int	 cm_core_lit(void *arg, const struct cm_lit *lit,
		    size_t start);
static int	 cm_rhit_cmp(const void *a, const void *b);
static int	 cm_hit_cmp(const void *a, const void *b);
static int	 cm_scan_views(struct cm_scanner *sc,
		    const struct cm_scanset *set, const struct cm_scan_opts *o,
		    const unsigned char *p, size_t len,
		    struct cm_scan_hits *out, size_t mark);

struct cm_scanset *
cm_scanset_new(const struct cm_scan_config *cfg,
    const struct cm_secret *secrets, size_t nsecrets, const char **why)
{
	struct cm_scanset	*set;
	struct cm_scan_config	 def;
	size_t			 partial, window;

	if (cfg == NULL) {
		memset(&def, 0, sizeof(def));
		cfg = &def;
	}
	partial = cfg->partial_min_len ? cfg->partial_min_len :
	    CM_DEF_SCAN_PARTIAL_BYTES;
	window = cfg->entropy_window ? cfg->entropy_window :
	    CM_DEF_SCAN_ENTROPY_WINDOW;
	if (partial < CM_MIN_SCAN_PARTIAL_BYTES ||
	    partial > CM_MAX_SCAN_PARTIAL_BYTES) {
		*why = "dlp.partial_min_len is out of range";
		return (NULL);
	}
	if (window < CM_MIN_SCAN_ENTROPY_WINDOW ||
	    window > CM_MAX_SCAN_ENTROPY_WINDOW) {
		*why = "dlp.entropy_window is out of range";
		return (NULL);
	}
	if ((set = calloc(1, sizeof(*set))) == NULL) {
		*why = "out of memory compiling the scan set";
		return (NULL);
	}
	atomic_init(&set->refs, 1);
	set->entropy_window = window;
	set->entropy_mbits = cfg->entropy_mbits ? cfg->entropy_mbits :
	    CM_DEF_SCAN_ENTROPY_MBITS;
	cm_litset_init(&set->lits);
	if (cm_scan_rules_compile(set, why) == -1 ||
	    cm_scan_secrets_build(set, secrets, nsecrets, partial, why) == -1)
		goto fail;
	if (cm_litset_build(&set->lits) == -1 ||
	    cm_entropy_table(set, window) == -1) {
		*why = "out of memory compiling the scan set";
		goto fail;
	}
	if (cfg->inbound && cm_inject_rules_new(set, why) == -1)
		goto fail;
	if (set->ks.maxlen > set->max_match)
		set->max_match = set->ks.maxlen;
	return (set);
 fail:
	cm_scanset_unref(set);
	return (NULL);
}

void
cm_scanset_ref(struct cm_scanset *set)
{
	atomic_fetch_add(&set->refs, 1);
}

void
cm_scanset_unref(struct cm_scanset *set)
{
	if (set == NULL || atomic_fetch_sub(&set->refs, 1) != 1)
		return;
	cm_scan_rules_free(set);
	cm_litset_clear(&set->lits);
	cm_scan_secrets_free(&set->ks);
	cm_inject_rules_free(set->inj);
	free(set->ent_tab);
	free(set);
}

size_t
cm_scanset_max_match(const struct cm_scanset *set)
{
	return (set->max_match);
}

size_t
cm_scanset_nsecrets(const struct cm_scanset *set)
{
	return (set->ks.n);
}

struct cm_scanner *
cm_scanner_new(void)
{
	struct cm_scanner	*sc;

	if ((sc = calloc(1, sizeof(*sc))) == NULL)
		return (NULL);
	sc->md = pcre2_match_data_create(16, NULL);
	sc->imd = pcre2_match_data_create(16, NULL);
	sc->mctx = pcre2_match_context_create(NULL);
	sc->imctx = pcre2_match_context_create(NULL);
	sc->jit = pcre2_jit_stack_create(32 * 1024, CM_SCAN_JIT_STACK_BYTES,
	    NULL);
	if (sc->md == NULL || sc->imd == NULL || sc->mctx == NULL ||
	    sc->imctx == NULL || sc->jit == NULL) {
		cm_scanner_free(sc);
		return (NULL);
	}
	pcre2_set_match_limit(sc->mctx, CM_SCAN_MATCH_LIMIT);
	pcre2_set_match_limit(sc->imctx, CM_SCAN_MATCH_LIMIT);
	pcre2_jit_stack_assign(sc->mctx, NULL, sc->jit);
	pcre2_jit_stack_assign(sc->imctx, NULL, sc->jit);
	return (sc);
}

void
cm_scanner_free(struct cm_scanner *sc)
{
	if (sc == NULL)
		return;
	pcre2_match_data_free(sc->md);
	pcre2_match_data_free(sc->imd);
	pcre2_match_context_free(sc->mctx);
	pcre2_match_context_free(sc->imctx);
	pcre2_jit_stack_free(sc->jit);
	free(sc->rh);
	free(sc->proj);
	free(sc->pmap);
	cm_vbuf_free(&sc->sv);
	cm_inject_scratch_free(sc);
	free(sc);
}

int
cm_scanner_push(struct cm_scanner *sc, size_t start, size_t end,
    uint32_t prio, uint32_t ref, int secret, enum cm_scan_form form)
{
	struct cm_rhit	*nv;
	size_t		 ncap;

	if (sc->nrh == sc->caprh) {
		ncap = sc->caprh ? sc->caprh * 2 : 64;
		if ((nv = reallocarray(sc->rh, ncap, sizeof(*nv))) == NULL) {
			sc->why = "out of memory scanning";
			return (-1);
		}
		sc->rh = nv;
		sc->caprh = ncap;
	}
	nv = &sc->rh[sc->nrh++];
	nv->start = start;
	nv->end = end;
	nv->prio = prio;
	nv->ref = ref;
	nv->secret = secret;
	nv->form = form;
	return (0);
}

static int
cm_core_lit(void *arg, const struct cm_lit *lit, size_t start)
{
	struct cm_core_arg	*a = arg;
	uint32_t		 idx = CM_LIT_INDEX(lit->owner);

	switch (CM_LIT_KIND(lit->owner)) {
	case CM_LIT_RULE:
		if ((a->detectors & CM_SCAN_TOKEN_PATTERNS) == 0)
			return (0);
		return (cm_scan_rule_try(a->sc, a->set, a->w, idx, start,
		    a->front));
	case CM_LIT_FORM:
		if ((a->detectors & CM_SCAN_KNOWN_SECRETS) == 0)
			return (0);
		return (cm_scan_secrets_form_hit(a->sc, &a->set->ks, a->w, idx,
		    start, a->nocase, a->front));
	default:
		return (0);
	}
}

/*
 * Scans window w; leaves its hits (unresolved) in sc->rh and sets *front.
 * Returns 0, or -1 with sc->why.
 */
int
cm_scan_core(struct cm_scanner *sc, const struct cm_scanset *set,
    unsigned detectors, int nocase, const struct cm_scan_win *w,
    size_t *front)
{
	struct cm_core_arg	 a;
	size_t			 f = w->n;

	sc->nrh = 0;
	a.sc = sc;
	a.set = set;
	a.w = w;
	a.detectors = detectors;
	a.nocase = nocase;
	a.front = &f;
	if ((detectors & (CM_SCAN_TOKEN_PATTERNS | CM_SCAN_KNOWN_SECRETS)) &&
	    cm_litset_scan(&set->lits, w->p, w->n, w->lo, cm_core_lit,
	    &a) == -1)
		return (-1);
	/* A keyword cut by the window end is found by the next window. */
	if (!w->eof && f > (w->n > set->kw_hold ? w->n - set->kw_hold : 0))
		f = w->n > set->kw_hold ? w->n - set->kw_hold : 0;
	if ((detectors & CM_SCAN_KNOWN_SECRETS) &&
	    cm_scan_secrets_scan(sc, &set->ks, w, nocase, &f) == -1)
		return (-1);
	if (f < w->lo)
		f = w->lo;
	*front = f;
	return (0);
}

static int
cm_rhit_cmp(const void *a, const void *b)
{
	const struct cm_rhit *x = a, *y = b;

	if (x->start != y->start)
		return (x->start < y->start ? -1 : 1);
	if (x->prio != y->prio)
		return (x->prio < y->prio ? -1 : 1);
	if (x->end != y->end)
		return (x->end > y->end ? -1 : 1);
	return (0);
}

void
cm_scan_resolve(struct cm_scanner *sc, size_t *front)
{
	struct cm_rhit	*r = sc->rh, best;
	size_t		 i, j, k = 0, cs, ce;

	if (sc->nrh > 1)
		qsort(r, sc->nrh, sizeof(*r), cm_rhit_cmp);
	for (i = 0; i < sc->nrh; i = j) {
		cs = r[i].start;
		ce = r[i].end;
		best = r[i];
		for (j = i + 1; j < sc->nrh && r[j].start < ce; j++) {
			if (r[j].end > ce)
				ce = r[j].end;
			if (r[j].prio < best.prio)
				best = r[j];
		}
		if (ce > *front) {
			/* A later hit may still join this cluster. */
			if (cs < *front)
				*front = cs;
			break;
		}
		best.start = cs;
		best.end = ce;
		r[k++] = best;
	}
	sc->nrh = k;
}

void
cm_scan_hit_fill(const struct cm_scanset *set, const struct cm_rhit *r,
    struct cm_scan_hit *h)
{
	memset(h, 0, sizeof(*h));
	h->len = r->end - r->start;
	h->form = r->form;
	h->view = CM_SCAN_IN_RAW;
	if (r->secret) {
		h->detector = CM_SCAN_KNOWN_SECRETS;
		h->rule = set->ks.sec[r->ref].rule;
		h->name = h->rule;
		h->secret = set->ks.sec[r->ref].name;
		h->secret_idx = (int)r->ref;
		h->rule_idx = -1;
	} else {
		h->detector = CM_SCAN_TOKEN_PATTERNS;
		h->rule = cm_scan_rules[r->ref].id;
		h->name = cm_scan_rules[r->ref].name;
		h->secret_idx = -1;
		h->rule_idx = (int)r->ref;
	}
}

void
cm_scan_hits_init(struct cm_scan_hits *hits)
{
	memset(hits, 0, sizeof(*hits));
}

void
cm_scan_hits_clear(struct cm_scan_hits *hits)
{
	hits->n = 0;
	hits->lost = 0;
}

void
cm_scan_hits_free(struct cm_scan_hits *hits)
{
	free(hits->hit);
	cm_scan_hits_init(hits);
}

int
cm_scan_hits_add(struct cm_scan_hits *out, const struct cm_scan_hit *h)
{
	struct cm_scan_hit	*nv;
	size_t			 ncap;

	if (out->n >= CM_MAX_SCAN_HITS) {
		out->lost++;
		return (0);
	}
	if (out->n == out->cap) {
		ncap = out->cap ? out->cap * 2 : 16;
		if ((nv = reallocarray(out->hit, ncap, sizeof(*nv))) == NULL)
			return (-1);
		out->hit = nv;
		out->cap = ncap;
	}
	out->hit[out->n++] = *h;
	return (0);
}

static int
cm_hit_cmp(const void *a, const void *b)
{
	const struct cm_scan_hit *x = a, *y = b;

	if (x->off != y->off)
		return (x->off < y->off ? -1 : 1);
	if (x->view != y->view)
		return (x->view < y->view ? -1 : 1);
	if (x->detector != y->detector)
		return (x->detector < y->detector ? -1 : 1);
	if (x->len != y->len)
		return (x->len > y->len ? -1 : 1);
	return (0);
}

void
cm_scan_hits_sort(struct cm_scan_hit *v, size_t n)
{
	if (n > 1)
		qsort(v, n, sizeof(*v), cm_hit_cmp);
}

/* Decoded views of a whole buffer; hits only they have are added. */
static int
cm_scan_views(struct cm_scanner *sc, const struct cm_scanset *set,
    const struct cm_scan_opts *o, const unsigned char *p, size_t len,
    struct cm_scan_hits *out, size_t mark)
{
	struct cm_vdec		 d;
	struct cm_scan_win	 w;
	struct cm_scan_hit	 h;
	size_t			 front, i, k, nraw = out->n;
	unsigned		 bit;
	int			 dup;

	for (bit = CM_SCAN_VIEW_PERCENT; bit <= CM_SCAN_VIEW_FOLD; bit <<= 1) {
		if ((o->views & bit) == 0 || !cm_vdec_needed(bit, p, len))
			continue;
		cm_vdec_init(&d, bit);
		sc->sv.len = 0;
		sc->sv.base = 0;
		sc->sv.changed = 0;
		if (cm_vdec_run(&d, p, len, 0, 1, &sc->sv) == -1) {
			sc->why = "out of memory scanning";
			return (-1);
		}
		if (sc->sv.changed == 0)
			continue;	/* the view is the raw bytes */
		w.p = sc->sv.b;
		w.n = sc->sv.len;
		w.lo = 0;
		w.sof = w.eof = 1;
		if (cm_scan_core(sc, set, o->detectors, o->surface ==
		    CM_SCAN_SURF_HOST, &w, &front) == -1)
			return (-1);
		cm_scan_resolve(sc, &front);
		for (i = 0; i < sc->nrh; i++) {
			const struct cm_rhit *r = &sc->rh[i];

			cm_scan_hit_fill(set, r, &h);
			h.view = cm_vdec_view(bit);
			h.off = sc->sv.src[r->start];
			h.len = (size_t)(sc->sv.src[r->end - 1] +
			    sc->sv.slen[r->end - 1] - h.off);
			/*
			 * A view's hit on bytes a raw hit already covers adds
			 * nothing (it is often the raw one, merged otherwise).
			 */
			for (k = mark, dup = 0; k < nraw && !dup; k++)
				dup = out->hit[k].off < h.off + h.len &&
				    h.off < out->hit[k].off + out->hit[k].len;
			if (!dup && cm_scan_hits_add(out, &h) == -1) {
				sc->why = "out of memory scanning";
				return (-1);
			}
		}
	}
	return (0);
}

int
cm_scan_buf(struct cm_scanner *sc, const struct cm_scanset *set,
    const struct cm_scan_opts *opts, const void *buf, size_t len,
    struct cm_scan_hits *out, const char **why)
{
	struct cm_scan_win	 w;
	struct cm_scan_hit	 h;
	size_t			 front, i, mark = out->n, next = 0, at;
	unsigned		 det = opts->detectors, mbits;

	w.p = buf;
	w.n = len;
	w.lo = 0;
	w.sof = w.eof = 1;
	sc->why = NULL;
	if (det & (CM_SCAN_TOKEN_PATTERNS | CM_SCAN_KNOWN_SECRETS)) {
		if (cm_scan_core(sc, set, det, opts->surface ==
		    CM_SCAN_SURF_HOST, &w, &front) == -1)
			goto fail;
		cm_scan_resolve(sc, &front);
		for (i = 0; i < sc->nrh; i++) {
			cm_scan_hit_fill(set, &sc->rh[i], &h);
			h.off = sc->rh[i].start;
			if (cm_scan_hits_add(out, &h) == -1)
				goto nomem;
		}
		if (opts->views && cm_scan_views(sc, set, opts, w.p, len, out,
		    mark) == -1)
			goto fail;
	}
	if ((det & CM_SCAN_ENTROPY) && (opts->surface == CM_SCAN_SURF_QUERY ||
	    opts->surface == CM_SCAN_SURF_HEADER ||
	    opts->surface == CM_SCAN_SURF_BODY ||
	    opts->surface == CM_SCAN_SURF_WS) &&
	    cm_entropy_find(set, w.p, len, &next, &at, &mbits) == 1) {
		memset(&h, 0, sizeof(h));
		h.off = at;
		h.len = set->entropy_window;
		h.rule = h.name = "entropy";
		h.secret_idx = h.rule_idx = -1;
		h.detector = CM_SCAN_ENTROPY;
		h.entropy_mbits = mbits;
		if (cm_scan_hits_add(out, &h) == -1)
			goto nomem;
	}
	if (out->n > mark)
		cm_scan_hits_sort(out->hit + mark, out->n - mark);
	return (0);
 nomem:
	sc->why = "out of memory scanning";
 fail:
	*why = sc->why != NULL ? sc->why : "scan failed";
	return (-1);
}

const char *
cm_scan_form_name(enum cm_scan_form form)
{
	static const char *const names[] = {
		[CM_SCAN_FORM_NONE] = "",
		[CM_SCAN_FORM_RAW] = "raw",
		[CM_SCAN_FORM_BASE64] = "base64",
		[CM_SCAN_FORM_BASE64URL] = "base64url",
		[CM_SCAN_FORM_PERCENT] = "percent",
		[CM_SCAN_FORM_HEX] = "hex",
		[CM_SCAN_FORM_ALNUM] = "alnum",
		[CM_SCAN_FORM_PARTIAL] = "partial",
	};

	if ((unsigned)form >= sizeof(names) / sizeof(names[0]))
		return ("");
	return (names[form]);
}

const char *
cm_scan_detector_name(unsigned detector)
{
	switch (detector) {
	case CM_SCAN_TOKEN_PATTERNS:
		return ("token_patterns");
	case CM_SCAN_KNOWN_SECRETS:
		return ("known_secrets");
	case CM_SCAN_ENTROPY:
		return ("entropy");
	default:
		return ("");
	}
}

const char *
cm_scan_view_name(enum cm_scan_view view)
{
	switch (view) {
	case CM_SCAN_IN_PERCENT:
		return ("percent");
	case CM_SCAN_IN_JSON:
		return ("json");
	case CM_SCAN_IN_FOLD:
		return ("fold");
	default:
		return ("raw");
	}
}
