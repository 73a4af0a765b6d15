/*
 * Decoded views of outbound bytes (spec/egress.md §8.5): percent-decoded
 * ('+' as space) for forms and queries, JSON-unescaped for JSON bodies,
 * and folded (scan_fold.c) for text with non-ASCII bytes.  Each view
 * byte remembers the raw bytes it came from, so a hit found only in a
 * view is reported at the raw offsets of its value.
 *
 * A decoder reads the raw lane directly from d->pos and stops before an
 * escape the piece cut short, so it keeps no state of its own across
 * pieces: the stream keeps those raw bytes until they are decoded.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/scan_fold.h"
#include "common/scan_int.h"

static int	cm_vd_hex(unsigned char c);
static int	cm_vd_put(struct cm_vbuf *out, const unsigned char *b,
		    size_t n, uint64_t src, size_t slen, int changed);
static int	cm_vd_percent(struct cm_vdec *d, const unsigned char *p,
		    size_t n, size_t i, int eof, struct cm_vbuf *out);
static int	cm_vd_json(struct cm_vdec *d, const unsigned char *p, size_t n,
		    size_t i, int eof, struct cm_vbuf *out);
static int	cm_vd_fold(struct cm_vdec *d, const unsigned char *p, size_t n,
		    size_t i, int eof, struct cm_vbuf *out);
static int	cm_vd_u4(const unsigned char *p, uint32_t *v);

int
cm_vbuf_reserve(struct cm_vbuf *vb, size_t more, int map)
{
	size_t		 ncap;
	void		*nb;

	if (vb->len + more <= vb->cap)
		return (0);
	for (ncap = vb->cap ? vb->cap : 4096; ncap < vb->len + more; ncap *= 2)
		;
	if ((nb = realloc(vb->b, ncap)) == NULL)
		return (-1);
	vb->b = nb;
	if (map) {
		nb = reallocarray(vb->src, ncap, sizeof(*vb->src));
		if (nb == NULL)
			return (-1);
		vb->src = nb;
		if ((nb = realloc(vb->slen, ncap)) == NULL)
			return (-1);
		vb->slen = nb;
	}
	vb->cap = ncap;
	return (0);
}

void
cm_vbuf_free(struct cm_vbuf *vb)
{
	free(vb->b);
	free(vb->src);
	free(vb->slen);
	memset(vb, 0, sizeof(*vb));
}

void
cm_vbuf_trim(struct cm_vbuf *vb, uint64_t keep)
{
	size_t	 k;

	if (keep <= vb->base)
		return;
	k = (size_t)(keep - vb->base);
	if (k > vb->len)
		k = vb->len;
	memmove(vb->b, vb->b + k, vb->len - k);
	if (vb->src != NULL) {
		memmove(vb->src, vb->src + k, (vb->len - k) * sizeof(*vb->src));
		memmove(vb->slen, vb->slen + k, vb->len - k);
	}
	vb->len -= k;
	vb->base += k;
}

void
cm_vdec_init(struct cm_vdec *d, unsigned view)
{
	d->view = view;
	d->pos = 0;
}

enum cm_scan_view
cm_vdec_view(unsigned view)
{
	switch (view) {
	case CM_SCAN_VIEW_PERCENT:
		return (CM_SCAN_IN_PERCENT);
	case CM_SCAN_VIEW_JSON:
		return (CM_SCAN_IN_JSON);
	default:
		return (CM_SCAN_IN_FOLD);
	}
}

static int
cm_vd_hex(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return (c - '0');
	if (c >= 'a' && c <= 'f')
		return (c - 'a' + 10);
	if (c >= 'A' && c <= 'F')
		return (c - 'A' + 10);
	return (-1);
}

static int
cm_vd_put(struct cm_vbuf *out, const unsigned char *b, size_t n, uint64_t src,
    size_t slen, int changed)
{
	size_t	 i;

	if (cm_vbuf_reserve(out, n, 1) == -1)
		return (-1);
	for (i = 0; i < n; i++) {
		out->b[out->len] = b[i];
		out->src[out->len] = src;
		out->slen[out->len++] = (uint8_t)slen;
	}
	/* A removal changes what the next byte follows: count it too. */
	if (changed)
		out->changed = out->base + out->len + (n == 0);
	return (0);
}

/* Each returns bytes consumed at p[i], 0 to wait for more, -1. */
static int
cm_vd_percent(struct cm_vdec *d, const unsigned char *p, size_t n, size_t i,
    int eof, struct cm_vbuf *out)
{
	unsigned char	 c = p[i];
	int		 h, l;

	if (c == '+') {
		c = ' ';
		return (cm_vd_put(out, &c, 1, d->pos, 1, 1) == -1 ? -1 : 1);
	}
	if (c != '%')
		return (cm_vd_put(out, &c, 1, d->pos, 1, 0) == -1 ? -1 : 1);
	if (i + 2 >= n && !eof)
		return (0);
	if (i + 2 < n && (h = cm_vd_hex(p[i + 1])) >= 0 &&
	    (l = cm_vd_hex(p[i + 2])) >= 0) {
		c = (unsigned char)(h << 4 | l);
		return (cm_vd_put(out, &c, 1, d->pos, 3, 1) == -1 ? -1 : 3);
	}
	return (cm_vd_put(out, &c, 1, d->pos, 1, 0) == -1 ? -1 : 1);
}

static int
cm_vd_u4(const unsigned char *p, uint32_t *v)
{
	int	 i, h;

	*v = 0;
	for (i = 0; i < 4; i++) {
		if ((h = cm_vd_hex(p[i])) < 0)
			return (-1);
		*v = *v << 4 | (uint32_t)h;
	}
	return (0);
}

static int
cm_vd_json(struct cm_vdec *d, const unsigned char *p, size_t n, size_t i,
    int eof, struct cm_vbuf *out)
{
	unsigned char	 c = p[i], u[4];
	uint32_t	 cp, lo;
	size_t		 len = 2, k;

	if (c != '\\')
		return (cm_vd_put(out, &c, 1, d->pos, 1, 0) == -1 ? -1 : 1);
	if (i + 1 >= n) {
		if (!eof)
			return (0);
		return (cm_vd_put(out, &c, 1, d->pos, 1, 0) == -1 ? -1 : 1);
	}
	switch (p[i + 1]) {
	case '"': case '\\': case '/':
		c = p[i + 1];
		break;
	case 'b':
		c = '\b';
		break;
	case 'f':
		c = '\f';
		break;
	case 'n':
		c = '\n';
		break;
	case 'r':
		c = '\r';
		break;
	case 't':
		c = '\t';
		break;
	case 'u':
		if (i + 6 > n && !eof)
			return (0);
		if (i + 6 > n || cm_vd_u4(p + i + 2, &cp) == -1)
			goto literal;
		len = 6;
		if (cp >= 0xD800 && cp <= 0xDBFF) {
			/* A high surrogate wants its low half next. */
			if (i + 12 > n && !eof)
				return (0);
			if (i + 12 <= n && p[i + 6] == '\\' &&
			    p[i + 7] == 'u' && cm_vd_u4(p + i + 8, &lo) == 0 &&
			    lo >= 0xDC00 && lo <= 0xDFFF) {
				cp = 0x10000 + ((cp - 0xD800) << 10) +
				    (lo - 0xDC00);
				len = 12;
			} else
				cp = 0xFFFD;
		} else if (cp >= 0xDC00 && cp <= 0xDFFF)
			cp = 0xFFFD;
		k = cm_utf8_encode(cp, u);
		return (cm_vd_put(out, u, k, d->pos, len, 1) == -1 ? -1 :
		    (int)len);
	default:
		goto literal;
	}
	return (cm_vd_put(out, &c, 1, d->pos, 2, 1) == -1 ? -1 : 2);
 literal:
	c = '\\';
	return (cm_vd_put(out, &c, 1, d->pos, 1, 0) == -1 ? -1 : 1);
}

static int
cm_vd_fold(struct cm_vdec *d, const unsigned char *p, size_t n, size_t i,
    int eof, struct cm_vbuf *out)
{
	uint32_t	 cp, f[CM_FOLD_MAX];
	unsigned char	 u[CM_FOLD_MAX * 4];
	size_t		 nf, k, j;
	int		 len;

	if (p[i] < 0x80)
		return (cm_vd_put(out, p + i, 1, d->pos, 1, 0) == -1 ? -1 : 1);
	len = cm_utf8_decode(p + i, n - i, &cp);
	if (len == 0 && !eof)
		return (0);
	if (len <= 0)	/* not UTF-8: the byte as is (latin-1) */
		return (cm_vd_put(out, p + i, 1, d->pos, 1, 0) == -1 ? -1 : 1);
	nf = cm_fold_cp(cp, f);
	if (nf == 1 && f[0] == cp)
		return (cm_vd_put(out, p + i, (size_t)len, d->pos,
		    (size_t)len, 0) == -1 ? -1 : len);
	for (j = 0, k = 0; j < nf; j++)
		k += cm_utf8_encode(f[j], u + k);
	return (cm_vd_put(out, u, k, d->pos, (size_t)len, 1) == -1 ? -1 : len);
}

/* Bytes the view rewrites or must look at; the rest are copied. */
static int
cm_vd_special(unsigned view, unsigned char c)
{
	switch (view) {
	case CM_SCAN_VIEW_PERCENT:
		return (c == '%' || c == '+');
	case CM_SCAN_VIEW_JSON:
		return (c == '\\');
	default:
		return (c >= 0x80);
	}
}

int
cm_vdec_needed(unsigned view, const unsigned char *p, size_t n)
{
	size_t	 i;

	switch (view) {
	case CM_SCAN_VIEW_PERCENT:
		return (memchr(p, '%', n) != NULL || memchr(p, '+', n) != NULL);
	case CM_SCAN_VIEW_JSON:
		return (memchr(p, '\\', n) != NULL);
	default:
		for (i = 0; i < n; i++)
			if (p[i] >= 0x80)
				return (1);
		return (0);
	}
}

/* Copies a run of bytes the view leaves alone; returns its length. */
static size_t
cm_vd_copy(struct cm_vdec *d, const unsigned char *p, size_t n, size_t i,
    struct cm_vbuf *out)
{
	size_t	 j, k;

	for (j = i; j < n && !cm_vd_special(d->view, p[j]); j++)
		;
	if (j == i || cm_vbuf_reserve(out, j - i, 1) == -1)
		return (0);
	memcpy(out->b + out->len, p + i, j - i);
	memset(out->slen + out->len, 1, j - i);
	for (k = 0; k < j - i; k++)
		out->src[out->len + k] = d->pos + k;
	out->len += j - i;
	d->pos += j - i;
	return (j - i);
}

int
cm_vdec_run(struct cm_vdec *d, const unsigned char *p, size_t n,
    uint64_t base, int eof, struct cm_vbuf *out)
{
	size_t	 i, c;
	int	 k;

	if (d->pos < base)
		return (-1);	/* the stream kept too little: a bug */
	for (i = (size_t)(d->pos - base); i < n; i += (size_t)k) {
		if ((c = cm_vd_copy(d, p, n, i, out)) > 0) {
			i += c;
			if (i >= n)
				break;
		}
		switch (d->view) {
		case CM_SCAN_VIEW_PERCENT:
			k = cm_vd_percent(d, p, n, i, eof, out);
			break;
		case CM_SCAN_VIEW_JSON:
			k = cm_vd_json(d, p, n, i, eof, out);
			break;
		default:
			k = cm_vd_fold(d, p, n, i, eof, out);
			break;
		}
		if (k == -1)
			return (-1);
		if (k == 0)
			break;
		d->pos += (uint64_t)k;
	}
	return (0);
}
