/*
 * Streaming (spec/egress.md §8.6): for any chunking a stream reports
 * exactly the hits of a whole-buffer scan (property-tested with random
 * splits, views included), releases no byte of a hit before reporting
 * it, holds after a PEM header until its END line, and lets go of text
 * with no candidate almost at once.
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
	char			 t0[41];
	char			 c[33];
};

static struct fx	 fx;
static struct tl_buf	 corpus;

static uint32_t
rnd(uint32_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return (*x);
}

static int
setup(void **state)
{
	struct tl_buf	 b;
	struct cm_secret v[2];
	const char	*why = NULL;

	tl_expand(&b, "{A40}", 11);
	memcpy(fx.t0, b.s, 41);
	tl_expand(&b, "canary-{A25}", 3);
	memcpy(fx.c, b.s, 33);
	v[0] = (struct cm_secret){ "EGRESS_TOKEN_0", (unsigned char *)fx.t0,
	    40 };
	v[1] = (struct cm_secret){ "BLUE_OWL_SECRET", (unsigned char *)fx.c,
	    strlen(fx.c) };
	fx.set = cm_scanset_new(NULL, v, 2, &why);
	fx.sc = cm_scanner_new();
	if (fx.set == NULL || fx.sc == NULL)
		return (-1);
	*state = &fx;
	return (0);
}

static int
teardown(void **state)
{
	struct fx	*f = *state;

	cm_scanner_free(f->sc);
	cm_scanset_unref(f->set);
	return (0);
}

/* Prose, JSON and code, with secrets, tokens and escapes sprinkled in. */
static void
build_corpus(struct fx *f, struct tl_buf *out)
{
	static const char *const parts[] = {
		"The quick brown fox jumps over the lazy dog. ",
		"{\"id\": 42, \"name\": \"widget\", \"tags\": [\"a\"]}\n",
		"for (i = 0; i < n; i++) { sum += v[i]; }\n",
		"t=ghp_{A36}&x=1 ",
		"Authorization: Bearer eyJ{S20}.eyJ{S30}.{S43}\r\n",
		("-----BEGIN EC PRIV{}ATE KEY-----\n{B64}\n{B20}\n"
		"-----END EC PRIV{}ATE KEY-----\n"),
		"AKIA{K16} and Bearer {G60}\n",
		"q=%67hp_{A36}&r=\\u0067hp_{A36} ",
		"fullwidth \xef\xbd\x87hp_{A36} and zero\xe2\x80\x8bwidth ",
		"xoxb-{D12}-{A24} sk-proj-{S48}\n",
	};
	struct tl_buf	 b;
	char		 tmp[256];
	size_t		 i, k;

	out->n = 0;
	out->s[0] = '\0';
	for (k = 0; k < 6; k++) {
		for (i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
			tl_expand(&b, parts[(i + k) % 10], i + k);
			tl_put(out, b.s, b.n);
		}
		snprintf(tmp, sizeof(tmp), " raw %s partial %.18s ", f->t0,
		    f->t0 + k);
		tl_put(out, tmp, strlen(tmp));
		for (i = 0; i < 40; i++) {
			tmp[2 * i] = f->t0[i];
			tmp[2 * i + 1] = k & 1 ? '.' : '-';
		}
		tl_put(out, tmp, 79);
		snprintf(tmp, sizeof(tmp), " {\"c\":\"%s\"}\n", f->c);
		tl_put(out, tmp, strlen(tmp));
	}
}

static void
whole(struct fx *f, const struct cm_scan_opts *o, const char *s, size_t n,
    struct cm_scan_hits *h)
{
	const char	*why = NULL;

	cm_scan_hits_init(h);
	assert_int_equal(cm_scan_buf(f->sc, f->set, o, s, n, h, &why), 0);
}

/* Streams s in the given piece sizes and checks the invariants. */
static void
stream(struct fx *f, const struct cm_scan_opts *o, const char *s, size_t n,
    const size_t *cuts, size_t ncuts, struct cm_scan_hits *h)
{
	struct cm_scan_stream	*st;
	const char		*why = NULL;
	uint64_t		 safe = 0, last = 0;
	size_t			 at = 0, i, k, before;

	cm_scan_hits_init(h);
	assert_non_null(st = cm_scan_stream_new(f->set, o));
	for (i = 0; i <= ncuts; i++) {
		size_t end = i < ncuts ? cuts[i] : n;

		before = h->n;
		assert_int_equal(cm_scan_stream_feed(st, f->sc, s + at,
		    end - at, h, &safe, &why), 0);
		at = end;
		assert_true(safe >= last);
		assert_true(safe <= at);
		/* No hit shows up after its first byte was released. */
		for (k = before; k < h->n; k++)
			assert_true(h->hit[k].off >= last ||
			    h->hit[k].detector == CM_SCAN_ENTROPY);
		last = safe;
	}
	before = h->n;
	assert_int_equal(cm_scan_stream_finish(st, f->sc, h, &safe, &why), 0);
	for (k = before; k < h->n; k++)
		assert_true(h->hit[k].off >= last ||
		    h->hit[k].detector == CM_SCAN_ENTROPY);
	assert_int_equal(safe, n);
	cm_scan_stream_free(st);
}

static void
same_hit(const struct cm_scan_hit *a, const struct cm_scan_hit *b, size_t i)
{
	if (a->off != b->off || a->len != b->len ||
	    strcmp(a->rule, b->rule) != 0 || a->form != b->form ||
	    a->view != b->view || a->entropy_mbits != b->entropy_mbits)
		fail_msg("hit %zu: %s@%llu+%zu %s/%s whole, "
		    "%s@%llu+%zu %s/%s streamed", i, a->rule,
		    (unsigned long long)a->off, a->len,
		    cm_scan_form_name(a->form), cm_scan_view_name(a->view),
		    b->rule, (unsigned long long)b->off, b->len,
		    cm_scan_form_name(b->form), cm_scan_view_name(b->view));
}

/* The same hits, in order; an entropy hit (warn only) may come late. */
static void
same_hits(const struct cm_scan_hits *a, const struct cm_scan_hits *b)
{
	const struct cm_scan_hit	*ea = NULL, *eb = NULL;
	size_t				 i, k;

	if (a->n != b->n)
		fail_msg("%zu hits whole, %zu streamed", a->n, b->n);
	for (i = 0, k = 0; i <= a->n && k <= b->n; i++, k++) {
		while (i < a->n && a->hit[i].detector == CM_SCAN_ENTROPY)
			ea = &a->hit[i++];
		while (k < b->n && b->hit[k].detector == CM_SCAN_ENTROPY)
			eb = &b->hit[k++];
		if (i == a->n || k == b->n) {
			assert_true(i == a->n && k == b->n);
			break;
		}
		same_hit(&a->hit[i], &b->hit[k], i);
	}
	assert_true((ea == NULL) == (eb == NULL));
	if (ea != NULL)
		same_hit(ea, eb, 0);
}

static void
random_splits(struct fx *f, const struct cm_scan_opts *o, uint32_t seed,
    int rounds)
{
	struct cm_scan_hits	 w, s;
	static size_t		 cuts[4096];
	size_t			 n, i, at, pre;
	uint32_t		 x = seed;
	int			 r;

	build_corpus(f, &corpus);
	whole(f, o, corpus.s, corpus.n, &w);
	assert_true(w.n > 20);
	for (r = 0; r < rounds; r++) {
		for (n = 0, at = 0; n < 512; n++) {
			/* Mostly small pieces, some large, some empty. */
			at += (rnd(&x) % 4 == 0) ? rnd(&x) % 600 : rnd(&x) % 40;
			if (at >= corpus.n)
				break;
			cuts[n] = at;
		}
		stream(f, o, corpus.s, corpus.n, cuts, n, &s);
		same_hits(&w, &s);
		cm_scan_hits_free(&s);
	}
	cm_scan_hits_free(&w);
	/* One byte at a time, over a prefix with a few of every kind. */
	pre = corpus.n < 4000 ? corpus.n : 4000;
	whole(f, o, corpus.s, pre, &w);
	for (i = 0; i + 1 < pre; i++)
		cuts[i] = i + 1;
	stream(f, o, corpus.s, pre, cuts, i, &s);
	same_hits(&w, &s);
	cm_scan_hits_free(&s);
	cm_scan_hits_free(&w);
}

static void
test_random_splits_raw(void **state)
{
	struct cm_scan_opts	 o = { CM_SCAN_SURF_BODY,
	    CM_SCAN_DEFAULT_DETECTORS, 0 };

	random_splits(*state, &o, 2463534242u, 60);
}

static void
test_random_splits_views(void **state)
{
	struct cm_scan_opts	 o = { CM_SCAN_SURF_BODY,
	    CM_SCAN_DEFAULT_DETECTORS | CM_SCAN_ENTROPY,
	    CM_SCAN_VIEW_PERCENT | CM_SCAN_VIEW_JSON | CM_SCAN_VIEW_FOLD };

	random_splits(*state, &o, 88172645u, 60);
}

/* Random texts of random fragments, random splits, every option. */
static void
test_random_texts(void **state)
{
	static const char *const frag[] = {
		"ghp_{A36}", "AKIA{K16}", " ", "-", "%", "%6", "%67", "\\u00",
		"\\u0067", "\xef\xbd\x87", "\xe2\x80\x8b", "Bearer ",
		"eyJ{S12}.", "eyJ{S12}.{S16}",
		"-----BEGIN RSA PRIV{}ATE KEY-----",
		"-----END RSA PRIV{}ATE KEY-----", "\n", "{B64}", "{A20}",
		"hf_",
		"{M34}", "sk-", "{A48}", "xoxb-", "Q~", "0Q~{Z31}", "+", "=",
		"\"", "{L5}", "AccountKey=", "{B86}==",
	};
	struct fx		*f = *state;
	struct cm_scan_opts	 o;
	struct cm_scan_hits	 w, st;
	struct tl_buf		 b;
	static struct tl_buf	 txt;
	size_t			 cuts[256], n, k, at, i;
	uint32_t		 x = 123456789u;
	char			 tmp[64];
	int			 r;

	for (r = 0; r < 500; r++) {
		txt.n = 0;
		for (k = 0, n = 10 + rnd(&x) % 60; k < n; k++) {
			if (rnd(&x) % 7 == 0) {
				/* A piece of a secret, raw or separated. */
				size_t a = rnd(&x) % 30, l = 8 + rnd(&x) % 12;

				if (rnd(&x) % 2) {
					for (i = 0; i < l && a + i < 40; i++) {
						tmp[2 * i] = f->t0[a + i];
						tmp[2 * i + 1] = '.';
					}
					tl_put(&txt, tmp, 2 * i);
				} else
					tl_put(&txt, f->t0 + a, a + l > 40 ?
					    40 - a : l);
				continue;
			}
			tl_expand(&b, frag[rnd(&x) % (sizeof(frag) /
			    sizeof(frag[0]))], rnd(&x) % 64);
			tl_put(&txt, b.s, b.n);
		}
		o.surface = rnd(&x) % 2 ? CM_SCAN_SURF_BODY : CM_SCAN_SURF_HOST;
		o.detectors = CM_SCAN_DEFAULT_DETECTORS;
		o.views = rnd(&x) % 8;
		whole(f, &o, txt.s, txt.n, &w);
		for (k = 0, at = 0; k < 256; k++) {
			at += 1 + rnd(&x) % 50;
			if (at >= txt.n)
				break;
			cuts[k] = at;
		}
		stream(f, &o, txt.s, txt.n, cuts, k, &st);
		same_hits(&w, &st);
		cm_scan_hits_free(&w);
		cm_scan_hits_free(&st);
	}
}

/* Every split point of a short text with a secret across it. */
static void
test_every_split_point(void **state)
{
	struct fx		*f = *state;
	struct cm_scan_opts	 o = { CM_SCAN_SURF_BODY,
	    CM_SCAN_DEFAULT_DETECTORS, CM_SCAN_VIEW_PERCENT };
	struct cm_scan_hits	 w, s;
	struct tl_buf		 b;
	char			 txt[512];
	size_t			 cut, n;

	tl_expand(&b, "ghp_{A36}", 4);
	n = (size_t)snprintf(txt, sizeof(txt), "a %s b %.17s c %s d %%%02X%s",
	    f->t0, f->t0 + 20, b.s, (unsigned char)f->t0[0], f->t0 + 1);
	whole(f, &o, txt, n, &w);
	assert_int_equal(w.n, 4);
	for (cut = 0; cut <= n; cut++) {
		stream(f, &o, txt, n, &cut, 1, &s);
		same_hits(&w, &s);
		cm_scan_hits_free(&s);
	}
	cm_scan_hits_free(&w);
}

/* After a PEM header nothing past it is released until its END line. */
static void
test_pem_holds_until_end(void **state)
{
	struct fx		*f = *state;
	struct cm_scan_opts	 o = { CM_SCAN_SURF_BODY,
	    CM_SCAN_DEFAULT_DETECTORS, 0 };
	struct cm_scan_stream	*st;
	struct cm_scan_hits	 h;
	struct tl_buf		 b;
	const char		*why = NULL;
	uint64_t		 safe;
	size_t			 i;

	cm_scan_hits_init(&h);
	st = cm_scan_stream_new(f->set, &o);
	tl_expand(&b, "intro text\n-----BEGIN RSA PRIV{}ATE KEY-----\n", 1);
	assert_int_equal(cm_scan_stream_feed(st, f->sc, b.s, b.n, &h, &safe,
	    &why), 0);
	assert_true(safe <= 11);
	for (i = 0; i < 40; i++) {
		tl_expand(&b, "{B64}\n", i);
		assert_int_equal(cm_scan_stream_feed(st, f->sc, b.s, b.n, &h,
		    &safe, &why), 0);
		assert_true(safe <= 11);
		assert_int_equal(h.n, 0);
	}
	tl_expand(&b, "-----END RSA PRIV{}ATE KEY-----\n"
	    "trailing words, enough of them to decide the key.\n", 1);
	assert_int_equal(cm_scan_stream_feed(st, f->sc, b.s, b.n, &h, &safe,
	    &why), 0);
	assert_int_equal(h.n, 1);
	assert_string_equal(h.hit[0].rule, "private-key");
	assert_int_equal(h.hit[0].off, 11);
	assert_true(safe > h.hit[0].off + h.hit[0].len);
	assert_int_equal(cm_scan_stream_finish(st, f->sc, &h, &safe, &why), 0);
	cm_scan_stream_free(st);
	cm_scan_hits_free(&h);
}

/* Plain text is released with a hold of a few bytes. */
static void
test_small_hold_without_candidates(void **state)
{
	struct fx		*f = *state;
	struct cm_scan_opts	 o = { CM_SCAN_SURF_BODY,
	    CM_SCAN_DEFAULT_DETECTORS, 0 };
	struct cm_scan_stream	*st;
	struct cm_scan_hits	 h;
	const char		*why = NULL, *txt =
	    "nothing to see here, just words and numbers 12345 (ok).\n";
	uint64_t		 safe, total = 0;
	int			 i;

	cm_scan_hits_init(&h);
	st = cm_scan_stream_new(f->set, &o);
	for (i = 0; i < 100; i++) {
		assert_int_equal(cm_scan_stream_feed(st, f->sc, txt,
		    strlen(txt), &h, &safe, &why), 0);
		total += strlen(txt);
		assert_true(total - safe <= 64);
	}
	/* The window stays small too. */
	{
		uint64_t	 base;
		size_t		 len;

		(void)cm_scan_stream_window(st, &base, &len);
		assert_true(len <= 256);
		assert_true(base > 0);
	}
	assert_int_equal(h.n, 0);
	cm_scan_stream_free(st);
	cm_scan_hits_free(&h);
}

/* A hit's bytes are in the window when it is reported: for excerpts. */
static void
test_window_holds_reported_hits(void **state)
{
	struct fx		*f = *state;
	struct cm_scan_opts	 o = { CM_SCAN_SURF_BODY,
	    CM_SCAN_DEFAULT_DETECTORS, 0 };
	struct cm_scan_stream	*st;
	struct cm_scan_hits	 h;
	const char		*why = NULL;
	const unsigned char	*w;
	char			 ex[CM_SCAN_EXCERPT_BYTES + 1];
	uint64_t		 safe, base;
	size_t			 len, i;

	cm_scan_hits_init(&h);
	st = cm_scan_stream_new(f->set, &o);
	for (i = 0; i < 200 && h.n == 0; i++) {
		const char *piece = i == 100 ? f->t0 : "filler text ";

		assert_int_equal(cm_scan_stream_feed(st, f->sc, piece,
		    strlen(piece), &h, &safe, &why), 0);
	}
	assert_int_equal(h.n, 1);
	w = cm_scan_stream_window(st, &base, &len);
	assert_true(base <= h.hit[0].off);
	assert_true(base + len >= h.hit[0].off + h.hit[0].len);
	cm_scan_excerpt(f->set, w, len, base, &h, 0, CM_SCAN_CONTEXT_BYTES,
	    CM_SCAN_REDACT_TAG, ex, sizeof(ex));
	assert_non_null(strstr(ex,
	    "[REDACTED rule=known-secret:EGRESS_TOKEN_0 len=40]"));
	assert_null(strstr(ex, f->t0));
	cm_scan_stream_free(st);
	cm_scan_hits_free(&h);
}

static void
test_finish_twice_refused(void **state)
{
	struct fx		*f = *state;
	struct cm_scan_opts	 o = { CM_SCAN_SURF_WS,
	    CM_SCAN_DEFAULT_DETECTORS, 0 };
	struct cm_scan_stream	*st;
	struct cm_scan_hits	 h;
	const char		*why = NULL;
	uint64_t		 safe;

	cm_scan_hits_init(&h);
	st = cm_scan_stream_new(f->set, &o);
	assert_int_equal(cm_scan_stream_finish(st, f->sc, &h, &safe, &why), 0);
	assert_int_equal(safe, 0);
	assert_int_equal(cm_scan_stream_feed(st, f->sc, "x", 1, &h, &safe,
	    &why), -1);
	assert_string_equal(why, "scan stream already finished");
	cm_scan_stream_free(st);
	cm_scan_hits_free(&h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_random_splits_raw),
		cmocka_unit_test(test_random_splits_views),
		cmocka_unit_test(test_random_texts),
		cmocka_unit_test(test_every_split_point),
		cmocka_unit_test(test_pem_holds_until_end),
		cmocka_unit_test(test_small_hold_without_candidates),
		cmocka_unit_test(test_window_holds_reported_hits),
		cmocka_unit_test(test_finish_twice_refused),
	};
	return (cmocka_run_group_tests_name("scan_stream", tests, setup,
	    teardown));
}
