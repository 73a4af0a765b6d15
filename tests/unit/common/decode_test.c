/*
 * common/decode.c: inputs are made here with zlib's encoder (and
 * brotli's when libbrotlienc is there; else a sample made by it).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <event2/buffer.h>
#include <zlib.h>
#ifdef HAVE_BROTLIENC
#include <brotli/encode.h>
#endif

#include "common/bounds.h"
#include "common/decode.h"

/* An encoded buffer; malloc'd. */
struct enc {
	unsigned char	*p;
	size_t		 n;
};

/* "brotli sample: ..." (below), compressed by BrotliEncoderCompress(11). */
static const char br_sample_text[] = "brotli sample: the scanner must "
    "see this text, ghp-like words and all.\n";
static const unsigned char br_sample[] = {
	0x1b, 0x46, 0x00, 0x80, 0x8c, 0xd4, 0x62, 0xad, 0xb3, 0x33, 0xa4, 0x9b,
	0x4b, 0x75, 0xa1, 0x18, 0x8a, 0xad, 0xe9, 0x19, 0xf7, 0x70, 0xfc, 0x51,
	0x43, 0xc1, 0x31, 0x0e, 0xd8, 0xaf, 0xe5, 0x6d, 0xc0, 0x81, 0x07, 0xa0,
	0xc1, 0x43, 0x96, 0xca, 0x6d, 0x92, 0x42, 0xb2, 0x5e, 0x6f, 0xee, 0x81,
	0xc1, 0x5f, 0x31, 0x41, 0xf4, 0xb2, 0x4c, 0x56, 0x24, 0x4a, 0x73, 0x7c,
	0x08, 0xcd, 0xc1, 0xee, 0xf8, 0x02, 0x30, 0x34, 0xf8, 0x82, 0x1f, 0x01,
};

/* zlib: wbits 31 gzip, 15 zlib, -15 raw deflate. */
static struct enc
z_encode(const void *buf, size_t len, int wbits)
{
	struct enc	 e;
	z_stream	 z;

	memset(&z, 0, sizeof(z));
	assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, wbits, 8,
	    Z_DEFAULT_STRATEGY), Z_OK);
	e.n = deflateBound(&z, len) + 32;
	e.p = malloc(e.n);
	assert_non_null(e.p);
	z.next_in = (unsigned char *)(uintptr_t)buf;
	z.avail_in = (uInt)len;
	z.next_out = e.p;
	z.avail_out = (uInt)e.n;
	assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
	e.n = z.total_out;
	deflateEnd(&z);
	return (e);
}

static int
br_can_encode(void)
{
#ifdef HAVE_BROTLIENC
	return (1);
#else
	return (0);
#endif
}

static struct enc
br_encode(const void *buf, size_t len)
{
	struct enc	 e;

#ifdef HAVE_BROTLIENC
	e.n = BrotliEncoderMaxCompressedSize(len) + 16;
	e.p = malloc(e.n);
	assert_non_null(e.p);
	assert_true(BrotliEncoderCompress(5, 22, BROTLI_MODE_GENERIC, len,
	    buf, &e.n, e.p));
#else
	(void)buf;
	(void)len;
	e.p = NULL;
	e.n = 0;
	fail_msg("no brotli encoder");
#endif
	return (e);
}

static struct enc
enc_cat(struct enc a, struct enc b)
{
	struct enc	 e;

	e.n = a.n + b.n;
	e.p = malloc(e.n + 1);
	assert_non_null(e.p);
	memcpy(e.p, a.p, a.n);
	memcpy(e.p + a.n, b.p, b.n);
	free(a.p);
	free(b.p);
	return (e);
}

/* Text that compresses, but not to nothing. */
static unsigned char *
sample_text(size_t len)
{
	unsigned char	*p = malloc(len);
	uint32_t	 x = 12345;
	size_t		 i;

	assert_non_null(p);
	for (i = 0; i < len; i++) {
		x = x * 1103515245 + 12345;
		p[i] = (x >> 16) % 7 == 0 ? ' ' :
		    "etaoinshrdlu"[(x >> 20) % 12];
	}
	return (p);
}

/*
 * Decodes enc fed in pieces of at most step bytes, with at most max out
 * per call; returns the rc of the last read, output in out, *why.
 */
static int
decode_split(const char *ce, const void *encp, size_t encn, size_t step,
    size_t max, const struct cm_decode_limits *lim, struct evbuffer *out,
    const char **why, enum cm_decode_err *err)
{
	enum cm_decode_coding	 c[CM_MAX_DECODE_CODINGS];
	struct cm_decode	*d;
	struct evbuffer		*in = evbuffer_new();
	const unsigned char	*p = encp;
	size_t			 n, off = 0, before;
	int			 rc = 0, eof;

	assert_non_null(in);
	assert_int_equal(cm_decode_parse(ce, c, &n, why), 0);
	d = cm_decode_new(c, n, lim);
	assert_non_null(d);
	for (;;) {
		n = encn - off < step ? encn - off : step;
		evbuffer_add(in, p + off, n);
		off += n;
		eof = off == encn;
		do {
			before = evbuffer_get_length(out);
			rc = cm_decode_read(d, in, eof, out, max, why);
			assert_true(evbuffer_get_length(out) - before <= max);
		} while (rc == 0 && evbuffer_get_length(out) - before == max);
		/* After 1 the rest is still fed: it must be refused. */
		if (rc == -1 || eof)
			break;
	}
	if (err != NULL)
		*err = cm_decode_error(d);
	if (rc == 1)
		assert_int_equal(cm_decode_in_bytes(d), encn);
	cm_decode_free(d);
	evbuffer_free(in);
	return (rc);
}

static void
expect_ok(const char *ce, struct enc e, const void *want, size_t wlen)
{
	static const size_t	 steps[] = { 1, 7, 100, 4096, 1 << 20 };
	static const size_t	 maxes[] = { 1, 13, 16384, 1 << 20 };
	struct evbuffer		*out;
	const char		*why = NULL;
	size_t			 i, j;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		for (j = 0; j < sizeof(maxes) / sizeof(maxes[0]); j++) {
			/* One byte at a time through 1-byte outputs is slow. */
			if (wlen > 100000 && (steps[i] < 100 || maxes[j] < 100))
				continue;
			out = evbuffer_new();
			if (decode_split(ce, e.p, e.n, steps[i], maxes[j], NULL,
			    out, &why, NULL) != 1)
				fail_msg("%s step %zu max %zu: %s", ce,
				    steps[i], maxes[j], why);
			assert_int_equal(evbuffer_get_length(out), wlen);
			assert_memory_equal(evbuffer_pullup(out, -1), want,
			    wlen);
			evbuffer_free(out);
		}
}

static void
expect_fail(const char *ce, struct enc e, const struct cm_decode_limits *lim,
    enum cm_decode_err want_err, const char *want_why)
{
	struct evbuffer		*out = evbuffer_new();
	enum cm_decode_err	 err;
	const char		*why = NULL;
	size_t			 steps[] = { 1, 4096, 1 << 30 }, i;

	for (i = 0; i < 3; i++) {
		if (e.n > 65536 && steps[i] == 1)
			continue;
		evbuffer_drain(out, evbuffer_get_length(out));
		assert_int_equal(decode_split(ce, e.p, e.n, steps[i],
		    CM_DECODE_STAGE_BYTES, lim, out, &why, &err), -1);
		assert_string_equal(why, want_why);
		assert_int_equal(err, want_err);
	}
	evbuffer_free(out);
}

static void
test_parse(void **state)
{
	enum cm_decode_coding	 c[CM_MAX_DECODE_CODINGS];
	const char		*why = NULL;
	size_t			 n = 9;

	(void)state;
	assert_int_equal(cm_decode_parse(NULL, c, &n, &why), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cm_decode_parse("", c, &n, &why), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cm_decode_parse("identity", c, &n, &why), 0);
	assert_int_equal(n, 0);
	assert_int_equal(cm_decode_parse("GZip", c, &n, &why), 0);
	assert_int_equal(n, 1);
	assert_int_equal(c[0], CM_DECODE_GZIP);
	assert_int_equal(cm_decode_parse(" x-gzip ,, identity, deflate ", c,
	    &n, &why), 0);
	assert_int_equal(n, 2);
	assert_int_equal(c[0], CM_DECODE_GZIP);
	assert_int_equal(c[1], CM_DECODE_DEFLATE);
	assert_int_equal(cm_decode_parse("gzip, br", c, &n, &why),
	    cm_decode_have_brotli() ? 0 : -1);
	if (cm_decode_have_brotli())
		assert_int_equal(c[1], CM_DECODE_BR);
	assert_int_equal(cm_decode_parse("compress", c, &n, &why), -1);
	assert_string_equal(why, "unsupported content coding");
	assert_int_equal(cm_decode_parse("gzip, zstd", c, &n, &why), -1);
	assert_string_equal(why, "unsupported content coding");
	assert_int_equal(cm_decode_parse("gzip, gzip, gzip", c, &n, &why),
	    -1);
	assert_string_equal(why, "more than two stacked content codings");
	assert_int_equal(cm_decode_parse("gzip;q=1", c, &n, &why), -1);
	assert_string_equal(why,
	    "malformed Content-Encoding (codings take no parameters)");
	assert_int_equal(cm_decode_parse("gzip deflate", c, &n, &why), -1);
	assert_string_equal(cm_decode_coding_name(CM_DECODE_DEFLATE),
	    "deflate");
}

static void
test_identity(void **state)
{
	unsigned char	*t = sample_text(50000);
	struct enc	 e = { t, 50000 };

	(void)state;
	expect_ok("identity", e, t, 50000);
	expect_ok(NULL, e, t, 50000);
	free(t);
}

static void
test_gzip(void **state)
{
	unsigned char	*t = sample_text(300000);
	struct enc	 e;

	(void)state;
	e = z_encode(t, 300000, 31);
	expect_ok("gzip", e, t, 300000);
	expect_ok("x-gzip", e, t, 300000);
	free(e.p);
	e = z_encode(t, 10, 31);
	expect_ok("gzip", e, t, 10);
	free(e.p);
	free(t);
}

static void
test_gzip_members(void **state)
{
	struct enc	 e;

	(void)state;
	/* RFC 1952 §2.2: members follow one another; gunzip joins them. */
	e = enc_cat(z_encode("first member, ", 14, 31),
	    z_encode("second member", 13, 31));
	expect_ok("gzip", e, "first member, second member", 27);
	free(e.p);
}

static void
test_deflate_both_forms(void **state)
{
	unsigned char	*t = sample_text(70000);
	struct enc	 e;

	(void)state;
	e = z_encode(t, 70000, 15);
	expect_ok("deflate", e, t, 70000);
	free(e.p);
	/* Raw deflate, as IIS once sent it and browsers still accept. */
	e = z_encode(t, 70000, -15);
	expect_ok("deflate", e, t, 70000);
	free(e.p);
	e = z_encode("", 0, -15);
	expect_ok("deflate", e, "", 0);
	free(e.p);
	free(t);
}

static void
test_brotli(void **state)
{
	unsigned char	*t;
	struct enc	 e;

	(void)state;
	if (!cm_decode_have_brotli())
		skip();		/* built without libbrotlidec */
	e.p = malloc(sizeof(br_sample));
	memcpy(e.p, br_sample, sizeof(br_sample));
	e.n = sizeof(br_sample);
	expect_ok("br", e, br_sample_text, strlen(br_sample_text));
	free(e.p);
	if (!br_can_encode())
		return;		/* the sample above still ran */
	t = sample_text(200000);
	e = br_encode(t, 200000);
	expect_ok("br", e, t, 200000);
	free(e.p);
	free(t);
}

static void
test_stacked(void **state)
{
	unsigned char	*t = sample_text(100000);
	struct enc	 e, g;

	(void)state;
	/* "deflate, gzip": deflate applied first, so gzip is undone first. */
	g = z_encode(t, 100000, 15);
	e = z_encode(g.p, g.n, 31);
	free(g.p);
	expect_ok("deflate, gzip", e, t, 100000);
	free(e.p);
	if (cm_decode_have_brotli()) {
		g = z_encode(br_sample, sizeof(br_sample), 31);
		expect_ok("br, gzip", g, br_sample_text,
		    strlen(br_sample_text));
		free(g.p);
	}
	if (cm_decode_have_brotli() && br_can_encode()) {
		g = z_encode(t, 100000, 31);
		e = br_encode(g.p, g.n);
		free(g.p);
		expect_ok("gzip, br", e, t, 100000);
		free(e.p);
	}
	free(t);
}

static void
test_empty_body(void **state)
{
	struct enc	 e = { (unsigned char *)"", 0 };

	(void)state;
	/* Nothing was sent, so there is nothing to scan. */
	expect_ok("gzip", e, "", 0);
	expect_ok("deflate, gzip", e, "", 0);
}

static void
test_trailing_bytes(void **state)
{
	struct enc	 e;

	(void)state;
	e = z_encode("payload", 7, 31);
	e = enc_cat(e, (struct enc){ (unsigned char *)strdup("junk"), 4 });
	expect_fail("gzip", e, NULL, CM_DECODE_CORRUPT,
	    "bytes after the end of the gzip stream");
	free(e.p);
	e = z_encode("payload", 7, 15);
	e = enc_cat(e, (struct enc){ (unsigned char *)strdup("x"), 1 });
	expect_fail("deflate", e, NULL, CM_DECODE_CORRUPT,
	    "bytes after the end of the deflate stream");
	free(e.p);
	if (cm_decode_have_brotli()) {
		e.n = sizeof(br_sample) + 1;
		e.p = malloc(e.n);
		memcpy(e.p, br_sample, sizeof(br_sample));
		e.p[e.n - 1] = 0;
		expect_fail("br", e, NULL, CM_DECODE_CORRUPT,
		    "bytes after the end of the brotli stream");
		free(e.p);
	}
}

static void
test_truncated_and_corrupt(void **state)
{
	unsigned char	*t = sample_text(20000);
	struct enc	 e;

	(void)state;
	e = z_encode(t, 20000, 31);
	e.n -= 5;
	expect_fail("gzip", e, NULL, CM_DECODE_TRUNCATED,
	    "the body ends inside the gzip stream");
	e.n += 5;
	e.p[e.n - 6] ^= 0x55;		/* the CRC-32 */
	expect_fail("gzip", e, NULL, CM_DECODE_CORRUPT, "corrupt gzip stream");
	free(e.p);
	e = z_encode(t, 20000, 15);
	e.n /= 2;
	expect_fail("deflate", e, NULL, CM_DECODE_TRUNCATED,
	    "the body ends inside the deflate stream");
	free(e.p);
	e.p = (unsigned char *)strdup("not gzip at all");
	e.n = strlen((char *)e.p);
	expect_fail("gzip", e, NULL, CM_DECODE_CORRUPT, "corrupt gzip stream");
	free(e.p);
	if (cm_decode_have_brotli()) {
		e.n = sizeof(br_sample) - 3;
		e.p = malloc(e.n);
		memcpy(e.p, br_sample, e.n);
		expect_fail("br", e, NULL, CM_DECODE_TRUNCATED,
		    "the body ends inside the brotli stream");
		e.p[0] = 0xff;
		e.p[1] = 0xff;
		expect_fail("br", e, NULL, CM_DECODE_CORRUPT,
		    "corrupt brotli stream");
		free(e.p);
	}
	free(t);
}

static void
test_bombs(void **state)
{
	struct cm_decode_limits	 lim;
	unsigned char		*z = calloc(1, 16 << 20);
	struct enc		 e, g;

	(void)state;
	/* 16 MiB of zeros is about 16 KiB of gzip: over 256:1. */
	e = z_encode(z, 16 << 20, 31);
	expect_fail("gzip", e, NULL, CM_DECODE_RATIO,
	    "decoded body exceeds the compression ratio limit");
	/* With the ratio out of the way the total cap still holds. */
	memset(&lim, 0, sizeof(lim));
	lim.max_ratio = 100000;
	lim.max_output_bytes = 1 << 20;
	expect_fail("gzip", e, &lim, CM_DECODE_TOO_BIG,
	    "decoded body exceeds the size limit");
	/* Exactly the cap is fine. */
	lim.max_output_bytes = 16 << 20;
	{
		struct evbuffer	*out = evbuffer_new();
		const char	*why = NULL;

		assert_int_equal(decode_split("gzip", e.p, e.n, 1 << 20,
		    1 << 20, &lim, out, &why, NULL), 1);
		assert_int_equal(evbuffer_get_length(out), 16 << 20);
		/* No cap at all is UINT64_MAX. */
		lim.max_output_bytes = UINT64_MAX;
		evbuffer_drain(out, evbuffer_get_length(out));
		assert_int_equal(decode_split("gzip", e.p, e.n, 1 << 20,
		    1 << 20, &lim, out, &why, NULL), 1);
		assert_int_equal(evbuffer_get_length(out), 16 << 20);
		evbuffer_free(out);
	}
	/* Stacked: the inner stage's output is bounded too. */
	g = z_encode(e.p, e.n, 31);
	free(e.p);
	expect_fail("gzip, gzip", g, NULL, CM_DECODE_RATIO,
	    "decoded body exceeds the compression ratio limit");
	free(g.p);
	free(z);
}

static void
test_end_before_eof(void **state)
{
	enum cm_decode_coding	 c[CM_MAX_DECODE_CODINGS];
	struct cm_decode	*d;
	struct evbuffer		*in = evbuffer_new(), *out = evbuffer_new();
	const char		*why = NULL;
	struct enc		 e;
	size_t			 n;

	(void)state;
	/* deflate knows its end; gzip waits for eof (another member). */
	e = z_encode("hello", 5, 15);
	assert_int_equal(cm_decode_parse("deflate", c, &n, &why), 0);
	d = cm_decode_new(c, n, NULL);
	evbuffer_add(in, e.p, e.n);
	assert_int_equal(cm_decode_read(d, in, 0, out, 100, &why), 1);
	assert_int_equal(evbuffer_get_length(out), 5);
	evbuffer_add(in, "x", 1);
	assert_int_equal(cm_decode_read(d, in, 0, out, 100, &why), -1);
	assert_string_equal(why, "bytes after the end of the deflate stream");
	/* Refused stays refused. */
	assert_int_equal(cm_decode_read(d, in, 1, out, 100, &why), -1);
	assert_int_equal(cm_decode_error(d), CM_DECODE_CORRUPT);
	cm_decode_free(d);
	free(e.p);

	e = z_encode("hello", 5, 31);
	assert_int_equal(cm_decode_parse("gzip", c, &n, &why), 0);
	d = cm_decode_new(c, n, NULL);
	evbuffer_add(in, e.p, e.n);
	evbuffer_drain(in, 1);		/* the "x" left above */
	assert_int_equal(cm_decode_read(d, in, 0, out, 100, &why), 0);
	assert_int_equal(evbuffer_get_length(out), 10);
	assert_int_equal(cm_decode_read(d, in, 1, out, 100, &why), 1);
	assert_int_equal(cm_decode_out_bytes(d), 5);
	cm_decode_free(d);
	free(e.p);

	/* cm_decode_all() on a whole body. */
	e = z_encode("whole body", 10, 31);
	evbuffer_drain(out, evbuffer_get_length(out));
	evbuffer_add(in, e.p, e.n);
	d = cm_decode_new(c, n, NULL);
	assert_int_equal(cm_decode_all(d, in, out, &why), 0);
	assert_int_equal(evbuffer_get_length(out), 10);
	cm_decode_free(d);
	free(e.p);
	evbuffer_free(in);
	evbuffer_free(out);
	assert_null(cm_decode_new(c, CM_MAX_DECODE_CODINGS + 1, NULL));
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_gzip),
		cmocka_unit_test(test_gzip_members),
		cmocka_unit_test(test_deflate_both_forms),
		cmocka_unit_test(test_brotli),
		cmocka_unit_test(test_stacked),
		cmocka_unit_test(test_empty_body),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_truncated_and_corrupt),
		cmocka_unit_test(test_bombs),
		cmocka_unit_test(test_end_before_eof),
	};

	return (cmocka_run_group_tests_name("decode", tests, NULL, NULL));
}
