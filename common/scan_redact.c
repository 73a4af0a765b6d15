/*
 * Rewriting and describing hits without their bytes: redaction of a
 * request (spec/egress.md §9.2), excerpts for logs, proposals and push
 * rejections (§9.3, spec/gitgate.md §8.4), and the last check that an
 * excerpt holds no run of a known secret (spec/supervise.md §5.3).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "common/scan_int.h"

struct cm_span {
	size_t		 s;		/* clipped to the buffer */
	size_t		 e;
	int		 head;		/* the value starts in the buffer */
	const char	*rule;
	size_t		 len;		/* whole value */
};

static size_t	 cm_redact_spans(const struct cm_scan_hits *hits, size_t len,
		    uint64_t base, int all, struct cm_span *v);
static int	 cm_span_cmp(const void *a, const void *b);
static size_t	 cm_redact_text(const struct cm_span *sp,
		    enum cm_scan_redact style, char *out, size_t outsz);

static int
cm_span_cmp(const void *a, const void *b)
{
	const struct cm_span *x = a, *y = b;

	if (x->s != y->s)
		return (x->s < y->s ? -1 : 1);
	return (0);
}

/*
 * Hits cut to [base, base + len), sorted and merged; v has n slots.
 * Only raw hits can be rewritten; an excerpt (all) hides every hit.
 */
static size_t
cm_redact_spans(const struct cm_scan_hits *hits, size_t len, uint64_t base,
    int all, struct cm_span *v)
{
	const struct cm_scan_hit	*h;
	size_t				 i, n = 0, k;
	uint64_t			 s, e;

	for (i = 0; i < hits->n; i++) {
		h = &hits->hit[i];
		if (!all && (h->view != CM_SCAN_IN_RAW ||
		    h->detector == CM_SCAN_ENTROPY))
			continue;
		s = h->off > base ? h->off : base;
		e = h->off + h->len < base + len ? h->off + h->len : base + len;
		if (s >= e)
			continue;
		v[n].s = (size_t)(s - base);
		v[n].e = (size_t)(e - base);
		v[n].head = h->off >= base;
		v[n].rule = h->rule;
		v[n++].len = h->len;
	}
	qsort(v, n, sizeof(*v), cm_span_cmp);
	for (i = 0, k = 0; i < n; i++) {
		if (k > 0 && v[i].s < v[k - 1].e) {
			if (v[i].e > v[k - 1].e)
				v[k - 1].e = v[i].e;
			continue;
		}
		v[k++] = v[i];
	}
	return (k);
}

static size_t
cm_redact_text(const struct cm_span *sp, enum cm_scan_redact style, char *out,
    size_t outsz)
{
	int	 r;

	switch (style) {
	case CM_SCAN_REDACT_SAMELEN:
		if (sp->e - sp->s > outsz)
			return (0);
		memset(out, '*', sp->e - sp->s);
		return (sp->e - sp->s);
	case CM_SCAN_REDACT_STARS:
		if (!sp->head || outsz < 8)
			return (0);
		memcpy(out, "********", 8);
		return (8);
	default:
		if (!sp->head)
			return (0);
		r = snprintf(out, outsz, "[REDACTED rule=%s len=%zu]",
		    sp->rule, sp->len);
		return (r < 0 || (size_t)r >= outsz ? 0 : (size_t)r);
	}
}

int
cm_scan_redact(const void *buf, size_t len, uint64_t base,
    const struct cm_scan_hits *hits, enum cm_scan_redact style,
    unsigned char **outp, size_t *outlen, const char **why)
{
	const unsigned char	*p = buf;
	struct cm_span		*sp;
	unsigned char		*out;
	size_t			 n, i, o = 0, at = 0, cap, extra = 0;

	if ((sp = calloc(hits->n ? hits->n : 1, sizeof(*sp))) == NULL)
		goto nomem;
	n = cm_redact_spans(hits, len, base, 0, sp);
	for (i = 0; i < n; i++)
		extra += 48 + strlen(sp[i].rule) + 24;
	cap = len + extra + 1;
	if ((out = malloc(cap)) == NULL) {
		free(sp);
		goto nomem;
	}
	for (i = 0; i < n; i++) {
		memcpy(out + o, p + at, sp[i].s - at);
		o += sp[i].s - at;
		o += cm_redact_text(&sp[i], style, (char *)out + o, cap - o);
		at = sp[i].e;
	}
	memcpy(out + o, p + at, len - at);
	o += len - at;
	free(sp);
	*outp = out;
	*outlen = o;
	return (0);
 nomem:
	*why = "out of memory redacting";
	return (-1);
}

size_t
cm_scan_excerpt(const struct cm_scanset *set, const void *buf, size_t len,
    uint64_t base, const struct cm_scan_hits *hits, size_t i, size_t ctx,
    enum cm_scan_redact style, char *out, size_t outsz)
{
	const struct cm_scan_hit	*h = &hits->hit[i];
	const unsigned char		*p = buf;
	struct cm_span			*sp;
	unsigned char			*tmp;
	size_t				 n, k, from, to, hs, he, o = 0, j, lim;
	char				 esc[8];

	if (outsz == 0)
		return (0);
	out[0] = '\0';
	lim = outsz - 1 < CM_SCAN_EXCERPT_BYTES ? outsz - 1 :
	    CM_SCAN_EXCERPT_BYTES;
	hs = h->off > base ? (size_t)(h->off - base) : 0;
	he = h->off + h->len > base ? (size_t)(h->off + h->len - base) : 0;
	if (hs > len)
		hs = len;
	if (he > len)
		he = len;
	from = hs > ctx ? hs - ctx : 0;
	to = he + ctx < len ? he + ctx : len;
	sp = calloc(hits->n ? hits->n : 1, sizeof(*sp));
	tmp = malloc(to - from + 1);
	if (sp == NULL || tmp == NULL) {
		free(sp);
		free(tmp);
		return (0);
	}
	memcpy(tmp, p + from, to - from);
	(void)cm_scan_mask_secrets(set, tmp, to - from,
	    CM_SCAN_SECRET_RUN_BYTES);
	n = cm_redact_spans(hits, len, base, 1, sp);
	/* A value cut by the excerpt is still named once, where it starts. */
	for (k = 0; k < n; k++)
		sp[k].head = 1;
	for (j = from, k = 0; j < to && o < lim; ) {
		while (k < n && sp[k].e <= j)
			k++;
		if (k < n && sp[k].s <= j) {
			char	 rep[128];
			size_t	 r = cm_redact_text(&sp[k], style, rep,
			    sizeof(rep));

			if (style == CM_SCAN_REDACT_SAMELEN && r > 0)
				r = sp[k].e - j < r ? sp[k].e - j : r;
			if (o + r > lim)
				break;
			memcpy(out + o, rep, r);
			o += r;
			j = sp[k].e;
			continue;
		}
		if (tmp[j - from] >= 0x20 && tmp[j - from] < 0x7f)
			out[o++] = (char)tmp[j - from];
		else {
			(void)snprintf(esc, sizeof(esc), "\\x%02x",
			    tmp[j - from]);
			if (o + 4 > lim)
				break;
			memcpy(out + o, esc, 4);
			o += 4;
		}
		j++;
	}
	out[o] = '\0';
	explicit_bzero(tmp, to - from);
	free(tmp);
	free(sp);
	return (o);
}

size_t
cm_scan_mask_secrets(const struct cm_scanset *set, void *buf, size_t len,
    size_t min_run)
{
	const struct cm_scan_secrets	*ks = &set->ks;
	unsigned char		*p = buf;
	size_t			 t, k, o, b, best, masked = 0;

	if (min_run == 0)
		min_run = CM_SCAN_SECRET_RUN_BYTES;
	/*
	 * Plain search, every offset of every secret: excerpts are short, and
	 * this must not depend on the sampling the scanner uses.
	 */
	for (t = 0; t + min_run <= len; t++) {
		best = 0;
		for (k = 0; k < ks->n; k++) {
			const struct cm_ksecret *sec = &ks->sec[k];

			for (o = 0; o + min_run <= sec->len; o++) {
				if (sec->s[o] != p[t])
					continue;
				for (b = 1; t + b < len && o + b < sec->len &&
				    p[t + b] == sec->s[o + b]; b++)
					;
				if (b > best)
					best = b;
			}
		}
		if (best >= min_run) {
			memset(p + t, '*', best);
			masked++;
			t += best - 1;
		}
	}
	return (masked);
}
