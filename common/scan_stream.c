/*
 * Streaming scans (spec/egress.md §8.6).  Invariant: a byte is released
 * only once no match that could include it can still be found.
 *
 * A stream has one lane per view: the raw bytes, then each decoded view
 * (scan_view.c) the options ask for.  Each lane keeps a window of its
 * bytes from CM_SCAN_RETAIN_BYTES before its done index (hits starting
 * earlier were handled) to the end of what has arrived.  Every feed
 * scans each window again from done: candidates the window can decide
 * become hits, the others lower the lane's front (cm_scan_core()), and
 * clusters of overlapping hits ending by the front are final
 * (cm_scan_resolve()).  So the hold is dynamic: a few bytes when no
 * candidate is open at the end, up to the longest match (16 KiB after a
 * PEM header, 4 KiB after "Bearer ") while one is.
 *
 * The release point is the lowest front over all lanes, mapped to raw
 * offsets, and never past the first hit not yet reported.  Final hits
 * wait in pend until then; a view's hit is dropped when the raw lane has
 * a hit over any of the same bytes, exactly as cm_scan_buf() does.
 * A view with nothing rewritten in its window is not scanned: its hits
 * would be the raw lane's.  It then holds back the longest match, as a
 * rewrite arriving later may complete a value that started earlier.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "common/scan_int.h"

struct cm_lane {
	struct cm_vbuf		 vb;		/* raw lane: no src map */
	struct cm_vdec		 dec;		/* views only */
	enum cm_scan_view	 view;
	uint64_t		 done;		/* lane index */
	uint64_t		 rawfront;	/* raw offset it lets go */
};

struct cm_scan_stream {
	struct cm_scanset	*set;		/* a reference */
	struct cm_scan_opts	 opts;
	int			 nocase;
	int			 entropy;	/* the detector runs here */
	struct cm_lane		 lane[4];	/* [0] is the raw bytes */
	size_t			 nlane;
	uint64_t		 safe;
	struct cm_scan_hits	 pend;		/* final, not yet reported */
	struct cm_scan_hits	 recent;	/* raw, a view's may overlap */
	uint64_t		 ent_next;	/* raw offset of the next one */
	int			 ent_found;
	int			 finished;
};

static void	cm_stream_trim(struct cm_scan_stream *st);
static int	cm_stream_lane(struct cm_scan_stream *st, struct cm_scanner *sc,
		    struct cm_lane *l, int eof);
static int	cm_stream_dup(const struct cm_scan_stream *st,
		    const struct cm_scan_hit *h);
static int	cm_stream_emit(struct cm_scan_stream *st, uint64_t *g,
		    struct cm_scan_hits *out);
static int	cm_stream_step(struct cm_scan_stream *st, struct cm_scanner *sc,
		    const void *buf, size_t len, int eof,
		    struct cm_scan_hits *out, uint64_t *safe, const char **why);

struct cm_scan_stream *
cm_scan_stream_new(const struct cm_scanset *set,
    const struct cm_scan_opts *opts)
{
	struct cm_scan_stream	*st;
	unsigned		 bit;

	if ((st = calloc(1, sizeof(*st))) == NULL)
		return (NULL);
	/* The stream's reference keeps the set alive across a reload. */
	st->set = (struct cm_scanset *)(uintptr_t)set;
	cm_scanset_ref(st->set);
	st->opts = *opts;
	st->nocase = opts->surface == CM_SCAN_SURF_HOST;
	st->entropy = (opts->detectors & CM_SCAN_ENTROPY) &&
	    (opts->surface == CM_SCAN_SURF_QUERY ||
	    opts->surface == CM_SCAN_SURF_HEADER ||
	    opts->surface == CM_SCAN_SURF_BODY ||
	    opts->surface == CM_SCAN_SURF_WS);
	st->lane[0].view = CM_SCAN_IN_RAW;
	st->nlane = 1;
	for (bit = CM_SCAN_VIEW_PERCENT; bit <= CM_SCAN_VIEW_FOLD; bit <<= 1) {
		if ((opts->views & bit) == 0)
			continue;
		cm_vdec_init(&st->lane[st->nlane].dec, bit);
		st->lane[st->nlane++].view = cm_vdec_view(bit);
	}
	cm_scan_hits_init(&st->pend);
	cm_scan_hits_init(&st->recent);
	return (st);
}

void
cm_scan_stream_free(struct cm_scan_stream *st)
{
	size_t	 i;

	if (st == NULL)
		return;
	for (i = 0; i < st->nlane; i++) {
		if (st->lane[i].vb.b != NULL)
			explicit_bzero(st->lane[i].vb.b, st->lane[i].vb.cap);
		cm_vbuf_free(&st->lane[i].vb);
	}
	cm_scan_hits_free(&st->pend);
	cm_scan_hits_free(&st->recent);
	cm_scanset_unref(st->set);
	free(st);
}

const unsigned char *
cm_scan_stream_window(const struct cm_scan_stream *st, uint64_t *base,
    size_t *len)
{
	*base = st->lane[0].vb.base;
	*len = st->lane[0].vb.len;
	return (st->lane[0].vb.b);
}

/* Drops what no lane, decoder, entropy window or excerpt still needs. */
static void
cm_stream_trim(struct cm_scan_stream *st)
{
	struct cm_lane	*raw = &st->lane[0];
	uint64_t	 keep = raw->done < st->safe ? raw->done : st->safe;
	size_t		 i, r = CM_SCAN_RETAIN_BYTES;

	for (i = 1; i < st->nlane; i++) {
		if (st->lane[i].dec.pos < keep)
			keep = st->lane[i].dec.pos;
		cm_vbuf_trim(&st->lane[i].vb, st->lane[i].done > r ?
		    st->lane[i].done - r : 0);
	}
	if (st->entropy && !st->ent_found && st->ent_next < keep)
		keep = st->ent_next;
	cm_vbuf_trim(&raw->vb, keep > r ? keep - r : 0);
}

static int
cm_stream_lane(struct cm_scan_stream *st, struct cm_scanner *sc,
    struct cm_lane *l, int eof)
{
	const struct cm_scanset	*set = st->set;
	struct cm_vbuf		*vb = &l->vb;
	struct cm_scan_win	 w;
	struct cm_scan_hit	 h;
	const struct cm_rhit	*r;
	size_t			 front, i, lo = (size_t)(l->done - vb->base);

	if (l->view != CM_SCAN_IN_RAW && vb->changed <= vb->base) {
		front = eof ? vb->len : (vb->len > set->max_match ?
		    vb->len - set->max_match : 0);
		if (front < lo)
			front = lo;
	} else {
		w.p = vb->b;
		w.n = vb->len;
		w.lo = lo;
		w.sof = vb->base == 0;
		w.eof = eof;
		if (cm_scan_core(sc, set, st->opts.detectors, st->nocase, &w,
		    &front) == -1)
			return (-1);
		cm_scan_resolve(sc, &front);
		for (i = 0; i < sc->nrh; i++) {
			r = &sc->rh[i];
			cm_scan_hit_fill(set, r, &h);
			h.view = l->view;
			if (l->view == CM_SCAN_IN_RAW)
				h.off = vb->base + r->start;
			else {
				h.off = vb->src[r->start];
				h.len = (size_t)(vb->src[r->end - 1] +
				    vb->slen[r->end - 1] - h.off);
			}
			if (cm_scan_hits_add(&st->pend, &h) == -1) {
				sc->why = "out of memory scanning";
				return (-1);
			}
		}
	}
	l->done = vb->base + front;
	if (l->view == CM_SCAN_IN_RAW)
		l->rawfront = l->done;
	else
		l->rawfront = front < vb->len ? vb->src[front] : l->dec.pos;
	return (0);
}

/* A view's hit on bytes a raw hit covers: cm_scan_buf() drops it too. */
static int
cm_stream_dup(const struct cm_scan_stream *st, const struct cm_scan_hit *h)
{
	const struct cm_scan_hits	*v[2] = { &st->recent, &st->pend };
	const struct cm_scan_hit	*r;
	size_t				 i, k;

	for (k = 0; k < 2; k++) {
		for (i = 0; i < v[k]->n; i++) {
			r = &v[k]->hit[i];
			if (r->view == CM_SCAN_IN_RAW &&
			    r->detector != CM_SCAN_ENTROPY &&
			    r->off < h->off + h->len &&
			    h->off < r->off + r->len)
				return (1);
		}
	}
	return (0);
}

/*
 * Reports pending hits in offset order up to the first one the release
 * point *g does not yet cover, and lowers *g to that hit's offset.
 */
static int
cm_stream_emit(struct cm_scan_stream *st, uint64_t *g,
    struct cm_scan_hits *out)
{
	struct cm_scan_hit	*h;
	size_t			 i, k, stop;

	cm_scan_hits_sort(st->pend.hit, st->pend.n);
	for (stop = 0; stop < st->pend.n; stop++) {
		h = &st->pend.hit[stop];
		if (h->off >= *g)
			break;
		if (h->detector != CM_SCAN_ENTROPY && h->off + h->len > *g) {
			*g = h->off;
			break;
		}
	}
	for (i = 0; i < stop; i++) {
		h = &st->pend.hit[i];
		if (h->view != CM_SCAN_IN_RAW && cm_stream_dup(st, h))
			continue;
		if (cm_scan_hits_add(out, h) == -1)
			return (-1);
		if (h->view == CM_SCAN_IN_RAW &&
		    h->detector != CM_SCAN_ENTROPY && st->nlane > 1 &&
		    cm_scan_hits_add(&st->recent, h) == -1)
			return (-1);
	}
	if (stop > 0) {
		memmove(st->pend.hit, st->pend.hit + stop,
		    (st->pend.n - stop) * sizeof(*st->pend.hit));
		st->pend.n -= stop;
	}
	/* Later view hits start at or after *g. */
	for (i = 0, k = 0; i < st->recent.n; i++) {
		if (st->recent.hit[i].off + st->recent.hit[i].len > *g)
			st->recent.hit[k++] = st->recent.hit[i];
	}
	st->recent.n = k;
	return (0);
}

static int
cm_stream_step(struct cm_scan_stream *st, struct cm_scanner *sc,
    const void *buf, size_t len, int eof, struct cm_scan_hits *out,
    uint64_t *safe, const char **why)
{
	struct cm_lane		*raw = &st->lane[0];
	struct cm_scan_hit	 h;
	uint64_t		 total, g;
	size_t			 i, nx, at;
	unsigned		 mbits;

	if (st->finished) {
		*why = "scan stream already finished";
		return (-1);
	}
	sc->why = NULL;
	cm_stream_trim(st);
	if (len > 0) {
		if (cm_vbuf_reserve(&raw->vb, len, 0) == -1)
			goto nomem;
		memcpy(raw->vb.b + raw->vb.len, buf, len);
		raw->vb.len += len;
	}
	total = raw->vb.base + raw->vb.len;
	g = total;
	for (i = 0; i < st->nlane; i++) {
		struct cm_lane *l = &st->lane[i];

		if (i > 0 && cm_vdec_run(&l->dec, raw->vb.b, raw->vb.len,
		    raw->vb.base, eof, &l->vb) == -1)
			goto nomem;
		if (st->opts.detectors & (CM_SCAN_TOKEN_PATTERNS |
		    CM_SCAN_KNOWN_SECRETS)) {
			if (cm_stream_lane(st, sc, l, eof) == -1)
				goto fail;
		} else {
			l->done = l->vb.base + l->vb.len;
			l->rawfront = i == 0 ? total : l->dec.pos;
		}
		if (l->rawfront < g)
			g = l->rawfront;
	}
	if (st->entropy && !st->ent_found) {
		nx = (size_t)(st->ent_next - raw->vb.base);
		if (cm_entropy_find(st->set, raw->vb.b, raw->vb.len, &nx, &at,
		    &mbits) == 1) {
			memset(&h, 0, sizeof(h));
			h.off = raw->vb.base + at;
			h.len = st->set->entropy_window;
			h.rule = h.name = "entropy";
			h.secret_idx = h.rule_idx = -1;
			h.detector = CM_SCAN_ENTROPY;
			h.entropy_mbits = mbits;
			if (cm_scan_hits_add(&st->pend, &h) == -1)
				goto nomem;
			st->ent_found = 1;
		}
		st->ent_next = raw->vb.base + nx;
	}
	if (eof)
		g = total;
	if (g < st->safe)
		g = st->safe;
	if (cm_stream_emit(st, &g, out) == -1)
		goto nomem;
	st->safe = g;
	*safe = g;
	if (eof)
		st->finished = 1;
	return (0);
 nomem:
	sc->why = "out of memory scanning";
 fail:
	*why = sc->why != NULL ? sc->why : "scan failed";
	return (-1);
}

int
cm_scan_stream_feed(struct cm_scan_stream *st, struct cm_scanner *sc,
    const void *buf, size_t len, struct cm_scan_hits *out, uint64_t *safe,
    const char **why)
{
	return (cm_stream_step(st, sc, buf, len, 0, out, safe, why));
}

int
cm_scan_stream_finish(struct cm_scan_stream *st, struct cm_scanner *sc,
    struct cm_scan_hits *out, uint64_t *safe, const char **why)
{
	return (cm_stream_step(st, sc, NULL, 0, 1, out, safe, why));
}
