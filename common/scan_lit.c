/*
 * The literal prefilter of the scan engine (spec/egress.md §8.2): one
 * pass over the text finds every occurrence of the rule keywords and the
 * short known-secret forms, so regexes run only around candidates.
 *
 * Each literal of 4 bytes or more is found through one 4-byte window of
 * it, its anchor, chosen to be rare in prose and code; shorter ones
 * through their first two bytes.  The pass tests, per text byte, one bit
 * of a 64 Kbit filter over hashed anchors (and one of a bigram bitmap if
 * short literals exist); only a set bit looks up the exact anchor and
 * compares the literals behind it.  Both bitmaps stay in L1.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "common/scan_int.h"

#define CM_LIT_H4(w)	((uint32_t)((w) * 0x9E3779B1u) >> 16)
#define CM_LIT_BIT(bm, h) (((bm)[(h) >> 6] >> ((h) & 63)) & 1)
#define CM_LIT_KEY2	(1ull << 32)	/* tags a 2-byte anchor key */

static int	 cm_lit_weight(unsigned char c);
static size_t	 cm_lit_pick_anchor(const unsigned char *s, size_t len);
static int	 cm_lit_variants(const unsigned char *a, size_t alen,
		    int nocase, uint64_t *keys);
static size_t	 cm_lit_slot(uint64_t key, size_t mask);
static int	 cm_lit_probe(const struct cm_litset *ls, uint64_t key,
		    const unsigned char *p, size_t n, size_t i, size_t from,
		    cm_lit_fn fn, void *arg);
static int	 cm_lit_pair_cmp(const void *a, const void *b);

struct cm_lit_pair {
	uint64_t	 key;
	uint32_t	 lit;
};

void
cm_litset_init(struct cm_litset *ls)
{
	memset(ls, 0, sizeof(*ls));
}

void
cm_litset_clear(struct cm_litset *ls)
{
	size_t	 i;

	for (i = 0; i < ls->nlit; i++)
		free(ls->lit[i].s);
	free(ls->lit);
	free(ls->tkey);
	free(ls->tfirst);
	free(ls->tcount);
	free(ls->tlist);
	cm_litset_init(ls);
}

/* How common a byte is in prose and code; the anchor minimises the sum. */
static int
cm_lit_weight(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		c = (unsigned char)(c - 'A' + 'a');
	switch (c) {
	case ' ':
		return (4);
	case 'e': case 't': case 'a': case 'o': case 'i': case 'n':
		return (3);
	case 's': case 'h': case 'r': case 'd': case 'l': case 'u':
	case '-': case '=': case '*': case '#': case '/': case '.':
	case ',':
		return (2);
	case 'c': case 'm': case 'f': case 'w': case 'g': case 'y':
	case 'p': case 'b': case '_': case '"': case '\n':
		return (1);
	default:
		return (0);
	}
}

static size_t
cm_lit_pick_anchor(const unsigned char *s, size_t len)
{
	size_t	 k, j, best = 0;
	int	 score, bestscore = 1 << 30;

	if (len < 4)
		return (0);
	for (k = 0; k + 4 <= len; k++) {
		score = 0;
		for (j = 0; j < 4; j++)
			score += cm_lit_weight(s[k + j]);
		if (score < bestscore) {
			bestscore = score;
			best = k;
		}
	}
	return (best);
}

/* Every key an anchor can appear as in text; returns their number. */
static int
cm_lit_variants(const unsigned char *a, size_t alen, int nocase,
    uint64_t *keys)
{
	unsigned char	 v[4];
	size_t		 j, nletters = 0, pos[4];
	unsigned	 m, nv;
	uint32_t	 w;
	uint16_t	 b;

	for (j = 0; j < alen; j++) {
		if (nocase && a[j] >= 'a' && a[j] <= 'z')
			pos[nletters++] = j;
	}
	nv = 1u << nletters;
	for (m = 0; m < nv; m++) {
		memcpy(v, a, alen);
		for (j = 0; j < nletters; j++) {
			if (m & (1u << j))
				v[pos[j]] = (unsigned char)(v[pos[j]] - 32);
		}
		if (alen == 4) {
			memcpy(&w, v, 4);
			keys[m] = w;
		} else {
			memcpy(&b, v, 2);
			keys[m] = CM_LIT_KEY2 | b;
		}
	}
	return ((int)nv);
}

int
cm_litset_add(struct cm_litset *ls, const void *s, size_t len, int nocase,
    uint32_t owner)
{
	struct cm_lit	*l, *nv;
	size_t		 j, ncap;

	if (len < 2)
		return (-1);
	if (ls->nlit == ls->litcap) {
		ncap = ls->litcap ? ls->litcap * 2 : 64;
		if ((nv = reallocarray(ls->lit, ncap, sizeof(*nv))) == NULL)
			return (-1);
		ls->lit = nv;
		ls->litcap = ncap;
	}
	l = &ls->lit[ls->nlit];
	if ((l->s = malloc(len)) == NULL)
		return (-1);
	memcpy(l->s, s, len);
	if (nocase) {
		for (j = 0; j < len; j++) {
			if (l->s[j] >= 'A' && l->s[j] <= 'Z')
				l->s[j] = (unsigned char)(l->s[j] - 'A' + 'a');
		}
	}
	l->len = len;
	l->nocase = nocase;
	l->owner = owner;
	l->anchor = cm_lit_pick_anchor(l->s, len);
	ls->nlit++;
	if (len > ls->maxlen)
		ls->maxlen = len;
	return (0);
}

int
cm_litset_add_spec(struct cm_litset *ls, const char *spec, int nocase,
    uint32_t owner)
{
	const char	*br;
	unsigned char	 buf[64], set[256];
	size_t		 plen, i;
	int		 c, hi;

	if ((br = strchr(spec, '[')) == NULL)
		return (cm_litset_add(ls, spec, strlen(spec), nocase, owner));
	plen = (size_t)(br - spec);
	if (plen + 1 > sizeof(buf))
		return (-1);
	memcpy(buf, spec, plen);
	memset(set, 0, sizeof(set));
	for (i = 1; br[i] != '\0' && br[i] != ']'; i++) {
		c = (unsigned char)br[i];
		if (br[i + 1] == '-' && br[i + 2] != ']' && br[i + 2] != '\0') {
			for (hi = (unsigned char)br[i + 2]; c <= hi; c++)
				set[c] = 1;
			i += 2;
		} else
			set[c] = 1;
	}
	for (c = 0; c < 256; c++) {
		if (!set[c])
			continue;
		buf[plen] = (unsigned char)c;
		if (cm_litset_add(ls, buf, plen + 1, nocase, owner) == -1)
			return (-1);
	}
	return (0);
}

static size_t
cm_lit_slot(uint64_t key, size_t mask)
{
	return ((size_t)((key * 0x9E3779B97F4A7C15ull) >> 40) & mask);
}

static int
cm_lit_pair_cmp(const void *a, const void *b)
{
	const struct cm_lit_pair *x = a, *y = b;

	if (x->key != y->key)
		return (x->key < y->key ? -1 : 1);
	if (x->lit != y->lit)
		return (x->lit < y->lit ? -1 : 1);
	return (0);
}

/* Fills the filters and the exact table; call once after the adds. */
int
cm_litset_build(struct cm_litset *ls)
{
	struct cm_lit_pair	*pr = NULL;
	uint64_t		 keys[16];
	size_t			 npr = 0, i, j, nkeys = 0, size, slot, alen;
	uint32_t		 h;
	int			 nv, k;

	if (ls->nlit == 0)
		return (0);
	if ((pr = reallocarray(NULL, ls->nlit * 16, sizeof(*pr))) == NULL)
		return (-1);
	for (i = 0; i < ls->nlit; i++) {
		alen = ls->lit[i].len >= 4 ? 4 : 2;
		nv = cm_lit_variants(ls->lit[i].s + ls->lit[i].anchor, alen,
		    ls->lit[i].nocase, keys);
		for (k = 0; k < nv; k++) {
			pr[npr].key = keys[k];
			pr[npr++].lit = (uint32_t)i;
		}
	}
	qsort(pr, npr, sizeof(*pr), cm_lit_pair_cmp);
	for (i = 0; i < npr; i++) {
		if (i == 0 || pr[i].key != pr[i - 1].key)
			nkeys++;
	}
	for (size = 16; size < nkeys * 2; size *= 2)
		;
	ls->tmask = size - 1;
	ls->tkey = calloc(size, sizeof(*ls->tkey));
	ls->tfirst = calloc(size, sizeof(*ls->tfirst));
	ls->tcount = calloc(size, sizeof(*ls->tcount));
	ls->tlist = calloc(npr, sizeof(*ls->tlist));
	if (ls->tkey == NULL || ls->tfirst == NULL || ls->tcount == NULL ||
	    ls->tlist == NULL) {
		free(pr);
		return (-1);
	}
	for (i = 0, j = 0; i < npr; i++) {
		if (i > 0 && pr[i].key == pr[i - 1].key &&
		    pr[i].lit == pr[i - 1].lit)
			continue;
		if (i == 0 || pr[i].key != pr[i - 1].key) {
			slot = cm_lit_slot(pr[i].key, ls->tmask);
			while (ls->tcount[slot] != 0)
				slot = (slot + 1) & ls->tmask;
			ls->tkey[slot] = pr[i].key;
			ls->tfirst[slot] = (uint32_t)j;
			if (pr[i].key & CM_LIT_KEY2) {
				h = (uint32_t)(pr[i].key & 0xffff);
				ls->bloom2[h >> 6] |= 1ull << (h & 63);
				ls->has2 = 1;
			} else {
				h = CM_LIT_H4((uint32_t)pr[i].key);
				ls->bloom4[h >> 6] |= 1ull << (h & 63);
			}
		}
		ls->tlist[j++] = pr[i].lit;
		ls->tcount[slot]++;
	}
	free(pr);
	return (0);
}

static int
cm_lit_probe(const struct cm_litset *ls, uint64_t key, const unsigned char *p,
    size_t n, size_t i, size_t from, cm_lit_fn fn, void *arg)
{
	const struct cm_lit	*l;
	size_t			 slot, k, j, start;

	slot = cm_lit_slot(key, ls->tmask);
	while (ls->tcount[slot] != 0 && ls->tkey[slot] != key)
		slot = (slot + 1) & ls->tmask;
	for (k = 0; k < ls->tcount[slot]; k++) {
		l = &ls->lit[ls->tlist[ls->tfirst[slot] + k]];
		if (i < l->anchor)
			continue;
		start = i - l->anchor;
		if (start < from || start + l->len > n)
			continue;
		if (l->nocase) {
			for (j = 0; j < l->len; j++) {
				unsigned char c = p[start + j];

				if (c >= 'A' && c <= 'Z')
					c = (unsigned char)(c - 'A' + 'a');
				if (c != l->s[j])
					break;
			}
			if (j < l->len)
				continue;
		} else if (memcmp(p + start, l->s, l->len) != 0)
			continue;
		if (fn(arg, l, start) == -1)
			return (-1);
	}
	return (0);
}

int
cm_litset_scan(const struct cm_litset *ls, const unsigned char *p, size_t n,
    size_t from, cm_lit_fn fn, void *arg)
{
	size_t		 i;
	uint32_t	 w, h;
	uint16_t	 b;

	if (ls->nlit == 0)
		return (0);
	i = from;
	if (!ls->has2) {
		for (; i + 4 <= n; i++) {
			memcpy(&w, p + i, 4);
			h = CM_LIT_H4(w);
			if (CM_LIT_BIT(ls->bloom4, h) &&
			    cm_lit_probe(ls, w, p, n, i, from, fn, arg) == -1)
				return (-1);
		}
		return (0);
	}
	for (; i + 4 <= n; i++) {
		memcpy(&w, p + i, 4);
		h = CM_LIT_H4(w);
		if (CM_LIT_BIT(ls->bloom4, h) &&
		    cm_lit_probe(ls, w, p, n, i, from, fn, arg) == -1)
			return (-1);
		memcpy(&b, p + i, 2);
		if (CM_LIT_BIT(ls->bloom2, b) && cm_lit_probe(ls,
		    CM_LIT_KEY2 | b, p, n, i, from, fn, arg) == -1)
			return (-1);
	}
	for (; i + 2 <= n; i++) {
		memcpy(&b, p + i, 2);
		if (CM_LIT_BIT(ls->bloom2, b) && cm_lit_probe(ls,
		    CM_LIT_KEY2 | b, p, n, i, from, fn, arg) == -1)
			return (-1);
	}
	return (0);
}
