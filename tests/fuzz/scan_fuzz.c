/*
 * libFuzzer target for the scan engine (common/scan*.c).
 *
 * Input: two control bytes, then text.  Control selects the surface,
 * detectors, views, the stream's piece sizes and the injection format;
 * when its top bit is set the text is a template of scan_testlib.h
 * ("ghp_{A36}"), so seeds can reach every rule without this repository
 * holding a credential-shaped string.
 *
 * Beyond not crashing, it checks the streaming contract of
 * spec/egress.md §8.6: the hits of a stream, cut where the control byte
 * says, equal those of cm_scan_buf(), and no hit is reported after its
 * first byte was released.  It also runs redaction, excerpts, masking
 * and the injection scanner, whole and in pieces.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/scan.h"
#include "common/scan_inject.h"
#include "tests/unit/common/scan_testlib.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct cm_scanset	*set;
static struct cm_scanner	*sc;
static struct tl_buf		 tb;

static void
fuzz_init(void)
{
	static char		 t0[41], c[33];
	struct cm_secret	 v[3];
	struct cm_scan_config	 cfg;
	struct tl_buf		 b;
	const char		*why = NULL;

	tl_expand(&b, "{A40}", 11);
	memcpy(t0, b.s, 41);
	tl_expand(&b, "canary-{A25}", 3);
	memcpy(c, b.s, 33);
	v[0] = (struct cm_secret){ "T0", (unsigned char *)t0, 40 };
	v[1] = (struct cm_secret){ "C", (unsigned char *)c, strlen(c) };
	v[2] = (struct cm_secret){ "S", (unsigned char *)"pw-12345678", 11 };
	memset(&cfg, 0, sizeof(cfg));
	cfg.inbound = 1;
	if ((set = cm_scanset_new(&cfg, v, 3, &why)) == NULL ||
	    (sc = cm_scanner_new()) == NULL) {
		fprintf(stderr, "scan_fuzz: %s\n", why);
		abort();
	}
}

static int
same(const struct cm_scan_hit *a, const struct cm_scan_hit *b)
{
	return (a->off == b->off && a->len == b->len &&
	    strcmp(a->rule, b->rule) == 0 && a->form == b->form &&
	    a->view == b->view);
}

static void
fuzz_stream(const struct cm_scan_opts *o, const unsigned char *p, size_t n,
    unsigned step, const struct cm_scan_hits *whole)
{
	struct cm_scan_stream	*st;
	struct cm_scan_hits	 h;
	const char		*why = NULL;
	uint64_t		 safe = 0, last = 0;
	size_t			 at = 0, piece, i, k, before;

	cm_scan_hits_init(&h);
	if ((st = cm_scan_stream_new(set, o)) == NULL)
		return;
	while (at < n) {
		piece = 1 + (step * (at + 7)) % 97;
		if (piece > n - at)
			piece = n - at;
		before = h.n;
		if (cm_scan_stream_feed(st, sc, p + at, piece, &h, &safe,
		    &why) == -1)
			goto out;
		/* Entropy only warns and never holds bytes back. */
		for (i = before; i < h.n; i++)
			if (h.hit[i].off < last &&
			    h.hit[i].detector != CM_SCAN_ENTROPY)
				abort();	/* reported after release */
		if (safe < last || safe > at + piece)
			abort();
		last = safe;
		at += piece;
	}
	if (cm_scan_stream_finish(st, sc, &h, &safe, &why) == -1)
		goto out;
	if (safe != n || h.n != whole->n || h.lost != whole->lost)
		abort();
	/* The same hits in the same order; entropy ones may come late. */
	for (i = 0, k = 0; i < h.n; i++, k++) {
		while (i < h.n && h.hit[i].detector == CM_SCAN_ENTROPY)
			i++;
		while (k < whole->n && whole->hit[k].detector ==
		    CM_SCAN_ENTROPY)
			k++;
		if ((i < h.n) != (k < whole->n) ||
		    (i < h.n && !same(&h.hit[i], &whole->hit[k])))
			abort();
	}
 out:
	cm_scan_stream_free(st);
	cm_scan_hits_free(&h);
}

static void
fuzz_inject(const unsigned char *p, size_t n, unsigned ctl)
{
	struct cm_inject_result	 r;
	struct cm_inject	*in;
	const char		*why = NULL;
	size_t			 at, piece;

	(void)cm_inject_scan(set, sc, (enum cm_inject_format)(ctl % 3),
	    (ctl & 4) ? CM_INJECT_LATIN1 : CM_INJECT_UTF8, p, n, &r, &why);
	in = cm_inject_new(set, (enum cm_inject_format)(ctl % 3),
	    CM_INJECT_UTF8);
	if (in == NULL)
		return;
	for (at = 0; at < n; at += piece) {
		piece = 1 + (ctl * (at + 3)) % 61;
		if (piece > n - at)
			piece = n - at;
		if (cm_inject_feed(in, sc, p + at, piece, &why) == -1)
			break;
	}
	(void)cm_inject_finish(in, sc, &why);
	cm_inject_get(in, &r);
	cm_inject_free(in);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cm_scan_opts	 o;
	struct cm_scan_hits	 h;
	const unsigned char	*p;
	unsigned char		*out;
	char			 ex[256];
	const char		*why = NULL;
	size_t			 n, outlen, i;
	unsigned		 c0, c1;

	if (set == NULL)
		fuzz_init();
	if (size < 2)
		return (0);
	c0 = data[0];
	c1 = data[1];
	p = data + 2;
	n = size - 2;
	if (c1 & 0x80) {
		char *t = malloc(n + 1);

		if (t == NULL)
			return (0);
		memcpy(t, p, n);
		t[n] = '\0';
		tl_expand(&tb, t, c1);
		free(t);
		p = (const unsigned char *)tb.s;
		n = tb.n;
	}
	o.surface = (enum cm_scan_surface)(c0 % 7);
	o.detectors = ((c0 >> 3) & 3) == 0 ? CM_SCAN_DEFAULT_DETECTORS :
	    ((c0 >> 3) & 3);
	if (c0 & 0x80)
		o.detectors |= CM_SCAN_ENTROPY;
	o.views = (c0 & 0x20 ? CM_SCAN_VIEW_PERCENT : 0) |
	    (c0 & 0x40 ? CM_SCAN_VIEW_JSON | CM_SCAN_VIEW_FOLD : 0);
	cm_scan_hits_init(&h);
	if (cm_scan_buf(sc, set, &o, p, n, &h, &why) == -1)
		goto out;
	for (i = 0; i < h.n; i++) {
		if (h.hit[i].off + h.hit[i].len > n || h.hit[i].len == 0)
			abort();
		if (i > 0 && h.hit[i].off < h.hit[i - 1].off)
			abort();
	}
	fuzz_stream(&o, p, n, c1 | 1, &h);
	if (cm_scan_redact(p, n, 0, &h, (enum cm_scan_redact)(c1 % 3), &out,
	    &outlen, &why) == 0)
		free(out);
	for (i = 0; i < h.n && i < 8; i++)
		(void)cm_scan_excerpt(set, p, n, 0, &h, i, 40,
		    (enum cm_scan_redact)(c1 % 3), ex, sizeof(ex));
	if (n <= 4096 && (out = malloc(n ? n : 1)) != NULL) {
		memcpy(out, p, n);
		(void)cm_scan_mask_secrets(set, out, n, 8);
		free(out);
	}
	fuzz_inject(p, n, c1);
 out:
	cm_scan_hits_free(&h);
	return (0);
}
