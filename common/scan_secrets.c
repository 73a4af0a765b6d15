/*
 * known_secrets (spec/egress.md §8.3): every value of the known-secret
 * set, raw, in its encodings, projected on [A-Za-z0-9], and by parts.
 *
 * Matching samples the text: every step bytes one 8-byte gram is looked
 * up in a table of the grams of every secret (all offsets: any run of
 * partial_min_len bytes of a secret holds a sampled gram) and of the
 * first step offsets of every encoded form (each form is longer than
 * step + 7, so one of its grams is sampled).  A hit on a secret's gram is
 * extended both ways into the longest common run: the whole secret is a
 * raw hit, partial_min_len bytes or more with a window of enough
 * distinct bytes a partial one.  The projected text (alphanumerics only,
 * a gap of more than CM_SCAN_ALNUM_GAP_BYTES separators breaking it) is
 * sampled the same way against the projected secrets.  Forms too short
 * for the sampling go to the literal prefilter instead.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "common/log.h"
#include "common/scan_int.h"

#define CM_QHASH(k, bits) \
	((size_t)(((k) * 0x9E3779B97F4A7C15ull) >> (64 - (bits))))

struct cm_qpair {
	uint64_t	 key;
	struct cm_qent	 ent;
};

struct cm_qbuild {
	struct cm_qpair	*v;
	size_t		 n;
	size_t		 cap;
};

static int	 cm_ks_alnum(unsigned char c);
static const uint32_t *cm_ks_map(struct cm_scanner *sc,
		    const struct cm_scan_win *w);
static size_t	 cm_ks_rawpos(const unsigned char *raw,
		    const unsigned char *pj, const uint32_t *ck, size_t j);
static unsigned char cm_ks_lower(unsigned char c);
static uint64_t	 cm_ks_lower64(uint64_t k);
static int	 cm_ks_good(const unsigned char *s, size_t len, size_t w,
		    uint32_t **out);
static int	 cm_ks_add_form(struct cm_scan_secrets *ks, uint32_t secret,
		    enum cm_scan_form form, const unsigned char *s, size_t len);
static size_t	 cm_ks_b64(const unsigned char *in, size_t len, int url,
		    int pad, char *out);
static int	 cm_ks_forms(struct cm_scan_secrets *ks, uint32_t k);
static int	 cm_qb_add(struct cm_qbuild *qb, const unsigned char *s,
		    int nocase, uint32_t ref, uint32_t off, int run);
static int	 cm_qtab_build(struct cm_qtab *t, struct cm_qbuild *qb,
		    int nocase);
static void	 cm_qtab_free(struct cm_qtab *t);
static int	 cm_qpair_cmp(const void *a, const void *b);
static int	 cm_ks_run(struct cm_scanner *sc,
		    const struct cm_scan_secrets *ks, const unsigned char *p,
		    size_t n,
		    const struct cm_scan_win *w, const uint32_t *map,
		    uint32_t k, size_t o, size_t t, int nocase, int proj,
		    size_t *front);
static int	 cm_ks_form_at(struct cm_scanner *sc,
		    const struct cm_scan_secrets *ks,
		    const struct cm_scan_win *w, uint32_t f, size_t start,
		    int nocase, size_t *front);
static int	 cm_ks_sample(struct cm_scanner *sc,
		    const struct cm_scan_secrets *ks, const struct cm_qtab *t,
		    const unsigned char *p, size_t n, size_t from, size_t step,
		    const struct cm_scan_win *w, const uint32_t *map,
		    int nocase, int proj, size_t *front);

static const char cm_b64std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char cm_b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static const uint8_t cm_ks_an[256] = {
	['0' ... '9'] = 1, ['A' ... 'Z'] = 1, ['a' ... 'z'] = 1,
};

/*
 * The window index of projected byte j.  The projection keeps the index
 * of every 16th byte only; the rest are found by walking from there,
 * replaying the gap rule, which is cheap next to the 4 bytes per byte a
 * full map would cost.
 */
static size_t
cm_ks_rawpos(const unsigned char *raw, const unsigned char *pj,
    const uint32_t *ck, size_t j)
{
	size_t		 k = j & ~(size_t)15, i = ck[j >> 4];
	uint32_t	 gap = pj[k] == 0 ? CM_SCAN_ALNUM_GAP_BYTES + 1 : 0;

	while (k < j) {
		i++;
		if (cm_ks_an[raw[i]]) {
			k++;
			gap = 0;
		} else if (++gap == CM_SCAN_ALNUM_GAP_BYTES + 1)
			k++;
	}
	return (i);
}

/* Checkpoints of the current window's projection, made on first use. */
static const uint32_t *
cm_ks_map(struct cm_scanner *sc, const struct cm_scan_win *w)
{
	uint32_t	*ck = sc->pmap, gap = CM_SCAN_ALNUM_GAP_BYTES + 1;
	size_t		 i, j = 0;

	if (sc->pmapok)
		return (ck);
	for (i = 0; i < w->n; i++) {
		if (cm_ks_an[w->p[i]]) {
			if ((j & 15) == 0)
				ck[j >> 4] = (uint32_t)i;
			j++;
			gap = 0;
		} else if (++gap == CM_SCAN_ALNUM_GAP_BYTES + 1) {
			if ((j & 15) == 0)
				ck[j >> 4] = (uint32_t)i;
			j++;
		}
	}
	sc->pmapok = 1;
	return (ck);
}

static int
cm_ks_alnum(unsigned char c)
{
	return ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') ||
	    (c >= 'a' && c <= 'z'));
}

static unsigned char
cm_ks_lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c);
}

/* ASCII lower-case of 8 bytes at once (SWAR). */
static uint64_t
cm_ks_lower64(uint64_t k)
{
	uint64_t	 hi = 0x8080808080808080ull;
	uint64_t	 a = (k & ~hi) + 0x3f3f3f3f3f3f3f3full;	/* > 'A' - 1 */
	uint64_t	 z = (k & ~hi) + 0x2525252525252525ull;	/* > 'Z' */

	return (k | ((a & ~z & ~k & hi) >> 2));
}

uint32_t
cm_scan_secrets_prio(const struct cm_scan_secrets *ks, uint32_t secret,
    enum cm_scan_form form)
{
	(void)ks;
	return (secret * 8 + (uint32_t)form);
}

/* Prefix counts of windows of w bytes with enough distinct bytes. */
static int
cm_ks_good(const unsigned char *s, size_t len, size_t w, uint32_t **out)
{
	uint32_t	*g;
	unsigned	 cnt[256], distinct = 0, need;
	size_t		 o, nw;

	need = w >= 16 ? CM_SCAN_PARTIAL_DISTINCT : (unsigned)(w / 2);
	nw = len >= w ? len - w + 1 : 0;
	if ((g = calloc(nw + 1, sizeof(*g))) == NULL)
		return (-1);
	memset(cnt, 0, sizeof(cnt));
	for (o = 0; o < len; o++) {
		if (cnt[s[o]]++ == 0)
			distinct++;
		if (o >= w && --cnt[s[o - w]] == 0)
			distinct--;
		if (o + 1 >= w)
			g[o + 1 - w + 1] = g[o + 1 - w] + (distinct >= need);
	}
	*out = g;
	return (0);
}

static int
cm_ks_add_form(struct cm_scan_secrets *ks, uint32_t secret,
    enum cm_scan_form form, const unsigned char *s, size_t len)
{
	struct cm_kform	*nv;
	size_t		 i;

	for (i = 0; i < ks->nform; i++) {
		if (ks->form[i].secret == secret && ks->form[i].len == len &&
		    memcmp(ks->form[i].s, s, len) == 0)
			return (0);	/* an earlier, better form is it */
	}
	if ((nv = reallocarray(ks->form, ks->nform + 1, sizeof(*nv))) == NULL)
		return (-1);
	ks->form = nv;
	if ((nv[ks->nform].s = malloc(len)) == NULL)
		return (-1);
	memcpy(nv[ks->nform].s, s, len);
	nv[ks->nform].len = len;
	nv[ks->nform].secret = secret;
	nv[ks->nform].form = form;
	ks->nform++;
	return (0);
}

static size_t
cm_ks_b64(const unsigned char *in, size_t len, int url, int pad, char *out)
{
	const char	*a = url ? cm_b64url : cm_b64std;
	size_t		 i, o = 0;
	uint32_t	 v;

	for (i = 0; i + 3 <= len; i += 3) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 |
		    in[i + 2];
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		out[o++] = a[v & 63];
	}
	if (len - i == 1) {
		v = (uint32_t)in[i] << 16;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (len - i == 2) {
		v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = a[v >> 18];
		out[o++] = a[(v >> 12) & 63];
		out[o++] = a[(v >> 6) & 63];
		if (pad)
			out[o++] = '=';
	}
	return (o);
}

/* Forms 2-4 of §8.3, best first so a duplicate keeps the better name. */
static int
cm_ks_forms(struct cm_scan_secrets *ks, uint32_t k)
{
	static const char	 hexl[] = "0123456789abcdef";
	static const char	 hexu[] = "0123456789ABCDEF";
	const struct cm_ksecret	*sec = &ks->sec[k];
	unsigned char		*in = NULL;
	char			*b = NULL;
	size_t			 len = sec->len, n, i, kk, cut, o;
	int			 url, up, every, rc = -1;
	unsigned char		 c;

	if ((in = malloc(len + 2)) == NULL ||
	    (b = malloc(3 * len + 16)) == NULL)
		goto out;
	for (url = 0; url <= 1; url++) {
		enum cm_scan_form f = url ? CM_SCAN_FORM_BASE64URL :
		    CM_SCAN_FORM_BASE64;

		n = cm_ks_b64(sec->s, len, url, 1, b);
		if (cm_ks_add_form(ks, k, f, (unsigned char *)b, n) == -1)
			goto out;
		n = cm_ks_b64(sec->s, len, url, 0, b);
		if (cm_ks_add_form(ks, k, f, (unsigned char *)b, n) == -1)
			goto out;
		/* Alignment cores: s inside a longer base64 blob. */
		for (kk = 0; kk <= 2; kk++) {
			memset(in, 0, kk);
			memcpy(in + kk, sec->s, len);
			n = cm_ks_b64(in, kk + len, url, 0, b);
			cut = kk > 0 ? kk + 1 : 0;
			if ((kk + len) % 3 != 0)
				n--;
			if (n < cut || n - cut < CM_SCAN_B64_CORE_MIN_BYTES)
				continue;
			if (cm_ks_add_form(ks, k, f, (unsigned char *)b + cut,
			    n - cut) == -1)
				goto out;
		}
	}
	/* Percent: reserved bytes only, then every byte; both cases. */
	for (every = 0; every <= 1; every++) {
		for (up = 1; up >= 0; up--) {
			for (i = 0, o = 0; i < len; i++) {
				c = sec->s[i];
				if (!every && (cm_ks_alnum(c) || c == '-' ||
				    c == '.' || c == '_' || c == '~')) {
					b[o++] = (char)c;
					continue;
				}
				b[o++] = '%';
				b[o++] = (up ? hexu : hexl)[c >> 4];
				b[o++] = (up ? hexu : hexl)[c & 15];
			}
			if (o == len)
				continue;	/* nothing to encode: raw */
			if (cm_ks_add_form(ks, k, CM_SCAN_FORM_PERCENT,
			    (unsigned char *)b, o) == -1)
				goto out;
		}
	}
	for (up = 0; up <= 1; up++) {
		for (i = 0; i < len; i++) {
			b[2 * i] = (up ? hexu : hexl)[sec->s[i] >> 4];
			b[2 * i + 1] = (up ? hexu : hexl)[sec->s[i] & 15];
		}
		if (cm_ks_add_form(ks, k, CM_SCAN_FORM_HEX, (unsigned char *)b,
		    2 * len) == -1)
			goto out;
	}
	rc = 0;
 out:
	free(in);
	free(b);
	return (rc);
}

static int
cm_qb_add(struct cm_qbuild *qb, const unsigned char *s, int nocase,
    uint32_t ref, uint32_t off, int run)
{
	struct cm_qpair	*nv;
	uint64_t	 key;
	size_t		 ncap;

	if (qb->n == qb->cap) {
		ncap = qb->cap ? qb->cap * 2 : 256;
		if ((nv = reallocarray(qb->v, ncap, sizeof(*nv))) == NULL)
			return (-1);
		qb->v = nv;
		qb->cap = ncap;
	}
	memcpy(&key, s, 8);
	if (nocase)
		key = cm_ks_lower64(key);
	qb->v[qb->n].key = key;
	qb->v[qb->n].ent.ref = ref;
	qb->v[qb->n].ent.off = off;
	qb->v[qb->n].ent.run = run;
	qb->n++;
	return (0);
}

static int
cm_qpair_cmp(const void *a, const void *b)
{
	const struct cm_qpair *x = a, *y = b;

	if (x->key != y->key)
		return (x->key < y->key ? -1 : 1);
	return (0);
}

static int
cm_qtab_build(struct cm_qtab *t, struct cm_qbuild *qb, int nocase)
{
	size_t		 i, j, nkeys = 0, size, slot = 0;
	unsigned	 bits = 8;

	memset(t, 0, sizeof(*t));
	t->nocase = nocase;
	if (qb->n == 0)
		return (0);
	qsort(qb->v, qb->n, sizeof(*qb->v), cm_qpair_cmp);
	for (i = 0; i < qb->n; i++) {
		if (i == 0 || qb->v[i].key != qb->v[i - 1].key)
			nkeys++;
	}
	for (size = 16; size < nkeys * 2; size *= 2)
		bits++;
	t->mask = size - 1;
	for (t->bbits = 16; ((size_t)1 << t->bbits) < qb->n * 16 &&
	    t->bbits < 24; t->bbits++)
		;
	t->bloom = calloc(((size_t)1 << t->bbits) / 64, sizeof(uint64_t));
	t->keys = calloc(size, sizeof(*t->keys));
	t->first = calloc(size, sizeof(*t->first));
	t->count = calloc(size, sizeof(*t->count));
	t->ent = calloc(qb->n, sizeof(*t->ent));
	if (t->bloom == NULL || t->keys == NULL || t->first == NULL ||
	    t->count == NULL || t->ent == NULL)
		return (-1);
	for (i = 0, j = 0; i < qb->n; i++) {
		if (i == 0 || qb->v[i].key != qb->v[i - 1].key) {
			size_t h = CM_QHASH(qb->v[i].key, t->bbits);

			t->bloom[h >> 6] |= 1ull << (h & 63);
			slot = CM_QHASH(qb->v[i].key, 40) & t->mask;
			while (t->count[slot] != 0)
				slot = (slot + 1) & t->mask;
			t->keys[slot] = qb->v[i].key;
			t->first[slot] = (uint32_t)j;
		}
		t->ent[j++] = qb->v[i].ent;
		t->count[slot]++;
	}
	t->nent = j;
	(void)bits;
	return (0);
}

static void
cm_qtab_free(struct cm_qtab *t)
{
	free(t->bloom);
	free(t->keys);
	free(t->first);
	free(t->count);
	free(t->ent);
	memset(t, 0, sizeof(*t));
}

void
cm_scan_secrets_free(struct cm_scan_secrets *ks)
{
	size_t	 i;

	for (i = 0; i < ks->n; i++) {
		free(ks->sec[i].name);
		free(ks->sec[i].rule);
		if (ks->sec[i].s != NULL)
			explicit_bzero(ks->sec[i].s, ks->sec[i].len);
		free(ks->sec[i].s);
		if (ks->sec[i].proj != NULL)
			explicit_bzero(ks->sec[i].proj, ks->sec[i].plen);
		free(ks->sec[i].proj);
		free(ks->sec[i].good);
		free(ks->sec[i].pgood);
	}
	for (i = 0; i < ks->nform; i++) {
		explicit_bzero(ks->form[i].s, ks->form[i].len);
		free(ks->form[i].s);
	}
	free(ks->sec);
	free(ks->form);
	for (i = 0; i < 2; i++) {
		cm_qtab_free(&ks->raw[i]);
		cm_qtab_free(&ks->proj[i]);
	}
	memset(ks, 0, sizeof(*ks));
}

int
cm_scan_secrets_build(struct cm_scanset *set, const struct cm_secret *v,
    size_t n, size_t partial, const char **why)
{
	struct cm_scan_secrets	*ks = &set->ks;
	struct cm_ksecret	*sec;
	struct cm_qbuild	 qb[4];
	size_t			 i, j, o, len, minp, ok = 0;
	int			 nc, rc = -1;

	memset(qb, 0, sizeof(qb));
	ks->partial = partial;
	ks->step = partial - 7 < 9 ? partial - 7 : 9;
	minp = partial < CM_SCAN_ALNUM_MIN_BYTES ? partial :
	    CM_SCAN_ALNUM_MIN_BYTES;
	ks->pstep = minp - 7 < 9 ? minp - 7 : 9;
	if (n > CM_MAX_SECRETS) {
		*why = "too many known secrets";
		return (-1);
	}
	if ((ks->sec = calloc(n ? n : 1, sizeof(*ks->sec))) == NULL)
		goto nomem;
	for (i = 0; i < n; i++) {
		/* Short values are too common to match (spec §8.3). */
		if (v[i].len < CM_SECRET_MIN_BYTES)
			continue;
		if (v[i].len > CM_MAX_SECRET_BYTES) {
			*why = "a known secret is over CM_MAX_SECRET_BYTES";
			goto fail;
		}
		sec = &ks->sec[ks->n++];
		len = v[i].len;
		if ((sec->name = strdup(v[i].name ? v[i].name : "?")) == NULL)
			goto nomem;
		if (asprintf(&sec->rule, "known-secret:%s", sec->name) == -1) {
			sec->rule = NULL;
			goto nomem;
		}
		if ((sec->s = malloc(len)) == NULL ||
		    (sec->proj = malloc(len)) == NULL)
			goto nomem;
		memcpy(sec->s, v[i].bytes, len);
		sec->len = len;
		for (j = 0; j < len; j++) {
			if (cm_ks_alnum(sec->s[j]))
				sec->proj[sec->plen++] = sec->s[j];
		}
		if (cm_ks_good(sec->s, len, partial, &sec->good) == -1 ||
		    cm_ks_good(sec->proj, sec->plen, partial,
		    &sec->pgood) == -1)
			goto nomem;
		if (len > ks->maxlen)
			ks->maxlen = len;
		if (len <= CM_SCAN_ENCODE_MAX_BYTES &&
		    cm_ks_forms(ks, (uint32_t)(ks->n - 1)) == -1)
			goto nomem;
	}
	for (i = 0; i < ks->n; i++) {
		sec = &ks->sec[i];
		for (nc = 0; nc <= 1; nc++) {
			if (sec->len >= ks->step + 7) {
				for (o = 0; o + 8 <= sec->len; o++)
					if (cm_qb_add(&qb[nc], sec->s + o, nc,
					    (uint32_t)i, (uint32_t)o, 1) == -1)
						goto nomem;
			}
			if (sec->plen >= ks->pstep + 7 &&
			    (sec->plen >= partial ||
			    sec->plen >= CM_SCAN_ALNUM_MIN_BYTES)) {
				for (o = 0; o + 8 <= sec->plen; o++)
					if (cm_qb_add(&qb[2 + nc],
					    sec->proj + o, nc, (uint32_t)i,
					    (uint32_t)o, 1) == -1)
						goto nomem;
				if (17 * sec->plen > ks->maxproj)
					ks->maxproj = 17 * sec->plen;
			}
		}
		if (sec->len < ks->step + 7 &&
		    cm_ks_add_form(ks, (uint32_t)i, CM_SCAN_FORM_RAW, sec->s,
		    sec->len) == -1)
			goto nomem;
	}
	for (i = 0; i < ks->nform; i++) {
		struct cm_kform *f = &ks->form[i];

		if (f->len > ks->maxlen)
			ks->maxlen = f->len;
		if (f->len < ks->step + 7) {
			if (cm_litset_add(&set->lits, f->s, f->len, 1,
			    CM_LIT_FORM | (uint32_t)i) == -1)
				goto nomem;
			if (f->len - 1 > set->kw_hold)
				set->kw_hold = f->len - 1;
			continue;
		}
		for (nc = 0; nc <= 1; nc++) {
			for (o = 0; o < ks->step; o++)
				if (cm_qb_add(&qb[nc], f->s + o, nc,
				    (uint32_t)i, (uint32_t)o, 0) == -1)
					goto nomem;
		}
	}
	for (i = 0; i < 4; i++) {
		if (cm_qtab_build(i < 2 ? &ks->raw[i] : &ks->proj[i - 2],
		    &qb[i], (int)(i & 1)) == -1)
			goto nomem;
	}
	if (ks->maxproj > ks->maxlen)
		ks->maxlen = ks->maxproj;
	ok = 1;
 nomem:
	if (!ok)
		*why = "out of memory compiling known secrets";
 fail:
	for (i = 0; i < 4; i++)
		free(qb[i].v);
	if (ok)
		rc = 0;
	return (rc);
}

/*
 * The longest common run of secret k (offset o) and the text (index t),
 * grown from the sampled gram.  Text indices are projected ones when
 * proj is set; map gives their window index.
 */
static int
cm_ks_run(struct cm_scanner *sc, const struct cm_scan_secrets *ks,
    const unsigned char *p, size_t n, const struct cm_scan_win *w,
    const uint32_t *map, uint32_t k, size_t o, size_t t, int nocase, int proj,
    size_t *front)
{
	const struct cm_ksecret	*sec = &ks->sec[k];
	const unsigned char	*s = proj ? sec->proj : sec->s;
	const uint32_t		*good = proj ? sec->pgood : sec->good;
	size_t			 slen = proj ? sec->plen : sec->len;
	size_t			 a = 0, b = 0, sa, sb, rs, re, pw = ks->partial;
	enum cm_scan_form	 form;

	if (nocase) {
		while (a < o && a < t &&
		    cm_ks_lower(p[t - a - 1]) == cm_ks_lower(s[o - a - 1]))
			a++;
		while (o + 8 + b < slen && t + 8 + b < n &&
		    cm_ks_lower(p[t + 8 + b]) == cm_ks_lower(s[o + 8 + b]))
			b++;
	} else {
		while (a < o && a < t && p[t - a - 1] == s[o - a - 1])
			a++;
		while (o + 8 + b < slen && t + 8 + b < n &&
		    p[t + 8 + b] == s[o + 8 + b])
			b++;
	}
	/*
	 * A run starting before lo was handled by an earlier window, which
	 * had its first sample; one reaching p[0] of a later window starts
	 * before lo (CM_SCAN_RETAIN_BYTES), so no run is cut short there.
	 */
	if (proj && (map = cm_ks_map(sc, w)) == NULL)
		return (-1);
	rs = proj ? cm_ks_rawpos(w->p, p, map, t - a) : t - a;
	if (rs < w->lo)
		return (0);
	if (o + 8 + b < slen && t + 8 + b == n && !w->eof) {
		if (rs < *front)
			*front = rs;
		return (0);
	}
	sa = o - a;
	sb = o + 8 + b;
	if (sa == 0 && sb == slen && (!proj ||
	    slen >= CM_SCAN_ALNUM_MIN_BYTES))
		form = proj ? CM_SCAN_FORM_ALNUM : CM_SCAN_FORM_RAW;
	else if (sb - sa >= pw && good[sb - pw + 1] > good[sa])
		form = CM_SCAN_FORM_PARTIAL;
	else
		return (0);
	re = proj ? cm_ks_rawpos(w->p, p, map, t + 8 + b - 1) + 1 :
	    t + 8 + b;
	return (cm_scanner_push(sc, rs, re, cm_scan_secrets_prio(ks, k, form),
	    k, 1, form));
}

static int
cm_ks_form_at(struct cm_scanner *sc, const struct cm_scan_secrets *ks,
    const struct cm_scan_win *w, uint32_t f, size_t start, int nocase,
    size_t *front)
{
	const struct cm_kform	*fm = &ks->form[f];
	size_t			 avail, j;

	if (start < w->lo)
		return (0);
	avail = w->n - start < fm->len ? w->n - start : fm->len;
	if (nocase) {
		for (j = 0; j < avail; j++)
			if (cm_ks_lower(w->p[start + j]) !=
			    cm_ks_lower(fm->s[j]))
				return (0);
	} else if (memcmp(w->p + start, fm->s, avail) != 0)
		return (0);
	if (avail < fm->len) {
		if (!w->eof && start < *front)
			*front = start;
		return (0);
	}
	return (cm_scanner_push(sc, start, start + fm->len,
	    cm_scan_secrets_prio(ks, fm->secret, fm->form), fm->secret, 1,
	    fm->form));
}

/* A short form found by the literal prefilter (which ignores case). */
int
cm_scan_secrets_form_hit(struct cm_scanner *sc,
    const struct cm_scan_secrets *ks, const struct cm_scan_win *w,
    uint32_t form, size_t start, int nocase, size_t *front)
{
	return (cm_ks_form_at(sc, ks, w, form, start, nocase, front));
}

static int
cm_ks_sample(struct cm_scanner *sc, const struct cm_scan_secrets *ks,
    const struct cm_qtab *t, const unsigned char *p, size_t n, size_t from,
    size_t step, const struct cm_scan_win *w, const uint32_t *map, int nocase,
    int proj, size_t *front)
{
	uint64_t	 key;
	size_t		 i, h, slot, e;
	const struct cm_qent *en;

	for (i = from; i + 8 <= n; i += step) {
		memcpy(&key, p + i, 8);
		if (nocase)
			key = cm_ks_lower64(key);
		h = CM_QHASH(key, t->bbits);
		if (((t->bloom[h >> 6] >> (h & 63)) & 1) == 0)
			continue;
		slot = CM_QHASH(key, 40) & t->mask;
		while (t->count[slot] != 0 && t->keys[slot] != key)
			slot = (slot + 1) & t->mask;
		for (e = 0; e < t->count[slot]; e++) {
			en = &t->ent[t->first[slot] + e];
			if (en->run) {
				if (cm_ks_run(sc, ks, p, n, w, map, en->ref,
				    en->off, i, nocase, proj, front) == -1)
					return (-1);
				continue;
			}
			if (i >= en->off && cm_ks_form_at(sc, ks, w, en->ref,
			    i - en->off, nocase, front) == -1)
				return (-1);
		}
	}
	return (0);
}

/* Samples the window and its projection; lowers *front as needed. */
int
cm_scan_secrets_scan(struct cm_scanner *sc, const struct cm_scan_secrets *ks,
    const struct cm_scan_win *w, int nocase, size_t *front)
{
	const struct cm_qtab	*t = &ks->raw[nocase];
	unsigned char		*pj;
	uint32_t		 gap;
	size_t			 i, j, k, plo = 0, hold, brk, last;

	if (t->nent > 0) {
		if (cm_ks_sample(sc, ks, t, w->p, w->n, w->lo, ks->step, w,
		    NULL, nocase, 0, front) == -1)
			return (-1);
		hold = ks->step + 6;
		if (!w->eof && *front > (w->n > hold ? w->n - hold : 0))
			*front = w->n > hold ? w->n - hold : 0;
	}
	t = &ks->proj[nocase];
	if (t->nent == 0)
		return (0);
	if (sc->projcap < w->n + 1) {
		free(sc->proj);
		free(sc->pmap);
		sc->projcap = w->n + 1;
		sc->proj = malloc(sc->projcap);
		sc->pmap = reallocarray(NULL, sc->projcap / 16 + 2,
		    sizeof(*sc->pmap));
		if (sc->proj == NULL || sc->pmap == NULL) {
			free(sc->proj);
			free(sc->pmap);
			sc->proj = NULL;
			sc->pmap = NULL;
			sc->projcap = 0;
			sc->why = "out of memory scanning";
			return (-1);
		}
	}
	/*
	 * Projection, branch-free in the common case; the map to window
	 * indices is built only if a projected gram hits (cm_ks_map()).
	 */
	pj = sc->proj;
	sc->pmapok = 0;
	gap = CM_SCAN_ALNUM_GAP_BYTES + 1;	/* nothing before p[0] joins */
	brk = 0;
	j = 0;
	for (i = 0; i < w->n; i++) {
		unsigned char	 c = w->p[i];
		uint32_t	 a = cm_ks_an[c];

		if (i == w->lo)
			plo = j;
		pj[j] = c;
		j += a;
		gap = (gap + 1) & (a - 1);
		if (gap == CM_SCAN_ALNUM_GAP_BYTES + 1) {
			pj[j++] = 0;	/* a break no secret byte matches */
			brk = j;
		}
	}
	if (w->lo >= w->n)
		plo = j;
	(void)brk;
	if (plo < j && cm_ks_sample(sc, ks, t, pj, j, plo, ks->pstep, w, NULL,
	    nocase, 1, front) == -1)
		return (-1);
	if (!w->eof) {
		/*
		 * Unfound runs start within the last pstep + 6 projected
		 * bytes and never before a break: walk back to there.
		 */
		hold = ks->pstep + 6;
		last = w->n;
		for (i = w->n, k = 0, gap = 0; i-- > 0; ) {
			if (cm_ks_an[w->p[i]]) {
				gap = 0;
				last = i;
				if (++k == hold)
					break;
			} else if (++gap == CM_SCAN_ALNUM_GAP_BYTES + 1)
				break;
		}
		if (last < *front)
			*front = last;
	}
	return (0);
}
