/*
 * The fold table and UTF-8 codec (scan_fold.c), and the decoded views of
 * outbound scanning (spec/egress.md §8.5): a token only a view shows is
 * reported in that view at the raw offsets of its bytes; one the raw
 * bytes show too is reported once, raw.
 */
#include "config.h"
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "common/log.h"
#include "common/scan.h"
#include "common/scan_fold.h"
#include "tests/unit/common/scan_testlib.h"

static uint32_t
fold1(uint32_t cp)
{
	uint32_t	 out[CM_FOLD_MAX];

	assert_int_equal(cm_fold_cp(cp, out), 1);
	return (out[0]);
}

static void
test_table_sorted(void **state)
{
	(void)state;
	assert_true(cm_fold_table_ok());
}

static void
test_fold_letters(void **state)
{
	uint32_t	 out[CM_FOLD_MAX];

	(void)state;
	assert_int_equal(fold1('a'), 'a');
	assert_int_equal(fold1(0xFF47), 'g');		/* fullwidth g */
	assert_int_equal(fold1(0xFF3F), '_');		/* fullwidth low line */
	assert_int_equal(fold1(0xFF10), '0');
	assert_int_equal(fold1(0x1D400), 'A');		/* bold A */
	assert_int_equal(fold1(0x1D41A), 'a');		/* bold a */
	assert_int_equal(fold1(0x1D68A), 'a');		/* monospace a */
	assert_int_equal(fold1(0x1D7CE), '0');		/* bold 0 */
	assert_int_equal(fold1(0x1D7FF), '9');		/* monospace 9 */
	assert_int_equal(fold1(0x24B6), 'A');		/* circled A */
	assert_int_equal(fold1(0x24D0), 'a');
	assert_int_equal(fold1(0x1F130), 'A');		/* squared A */
	assert_int_equal(fold1(0x2070), '0');		/* superscript 0 */
	assert_int_equal(fold1(0x00B2), '2');
	assert_int_equal(fold1(0x2089), '9');		/* subscript 9 */
	assert_int_equal(fold1(0x0430), 'a');		/* Cyrillic a */
	assert_int_equal(fold1(0x0440), 'p');		/* Cyrillic er */
	assert_int_equal(fold1(0x0441), 'c');		/* Cyrillic es */
	assert_int_equal(fold1(0x0456), 'i');
	assert_int_equal(fold1(0x041C), 'M');
	assert_int_equal(fold1(0x03BF), 'o');		/* Greek omicron */
	assert_int_equal(fold1(0x0391), 'A');
	assert_int_equal(fold1(0x03A5), 'Y');
	assert_int_equal(fold1(0x3000), ' ');		/* ideographic space */
	assert_int_equal(fold1(0x00A0), ' ');
	assert_int_equal(fold1(0x2212), '-');
	assert_int_equal(fold1(0x00E9), 0x00E9);	/* accents stay */
	assert_int_equal(fold1(0x4E2D), 0x4E2D);
	assert_int_equal(cm_fold_cp(0xFB01, out), 2);	/* fi ligature */
	assert_int_equal(out[0], 'f');
	assert_int_equal(out[1], 'i');
	assert_int_equal(cm_fold_cp(0xFB06, out), 2);
	assert_int_equal(out[0], 's');
	assert_int_equal(cm_fold_cp(0x2473, out), 2);	/* circled 20 */
	assert_int_equal(out[0], '2');
	assert_int_equal(out[1], '0');
	assert_int_equal(cm_fold_cp(0x2487, out), 4);	/* (20) */
	assert_int_equal(out[0], '(');
	assert_int_equal(out[3], ')');
}

static void
test_invisible_removed(void **state)
{
	static const uint32_t	 inv[] = {
		0x200B, 0x200C, 0x200D, 0x200E, 0x200F, 0x202A, 0x202E,
		0x2060, 0x2064, 0x2066, 0x2069, 0xFEFF, 0x00AD, 0x180E,
		0xFE00, 0xFE0F, 0xE0100, 0xE01EF,
	};
	uint32_t		 out[CM_FOLD_MAX];
	size_t			 i;

	(void)state;
	for (i = 0; i < sizeof(inv) / sizeof(inv[0]); i++) {
		assert_true(cm_fold_invisible(inv[i]));
		assert_int_equal(cm_fold_cp(inv[i], out), 0);
	}
	assert_false(cm_fold_invisible(0x2065));
	assert_false(cm_fold_invisible('a'));
	assert_true(cm_fold_is_tag(0xE0041));
	assert_int_equal(cm_fold_cp(0xE0041, out), 0);
}

static void
test_utf8(void **state)
{
	unsigned char	 b[4];
	uint32_t	 cp;

	(void)state;
	assert_int_equal(cm_utf8_decode((const unsigned char *)"A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(cm_utf8_decode((const unsigned char *)"\xef\xbd\x87",
	    3, &cp), 3);
	assert_int_equal(cp, 0xFF47);
	assert_int_equal(cm_utf8_decode((const unsigned char *)"\xef\xbd", 2,
	    &cp), 0);			/* cut short */
	assert_int_equal(cm_utf8_decode((const unsigned char *)"\xc0\xaf", 2,
	    &cp), -1);			/* overlong */
	assert_int_equal(cm_utf8_decode((const unsigned char *)"\xe0\x80\xaf",
	    3, &cp), -1);
	assert_int_equal(cm_utf8_decode((const unsigned char *)"\xed\xa0\x80",
	    3, &cp), -1);		/* surrogate */
	assert_int_equal(cm_utf8_decode(
	    (const unsigned char *)"\xf4\x90\x80\x80", 4, &cp), -1);
	assert_int_equal(cm_utf8_decode((const unsigned char *)"\xe2\x28\xa1",
	    3, &cp), -1);		/* bad continuation */
	assert_int_equal(cm_utf8_decode((const unsigned char *)"\xff", 1, &cp),
	    -1);
	assert_int_equal(cm_utf8_encode(0x1F600, b), 4);
	assert_int_equal(cm_utf8_decode(b, 4, &cp), 4);
	assert_int_equal(cp, 0x1F600);
	assert_int_equal(cm_utf8_encode(0xE9, b), 2);
	assert_memory_equal(b, "\xc3\xa9", 2);
}

struct fx {
	struct cm_scanset	*set;
	struct cm_scanner	*sc;
	struct cm_scan_hits	 hits;
};

static size_t
scan_views(struct fx *f, const char *s, size_t n, unsigned views)
{
	struct cm_scan_opts	 o = { CM_SCAN_SURF_BODY,
	    CM_SCAN_DEFAULT_DETECTORS, views };
	const char		*why = NULL;

	cm_scan_hits_clear(&f->hits);
	assert_int_equal(cm_scan_buf(f->sc, f->set, &o, s, n, &f->hits, &why),
	    0);
	return (f->hits.n);
}

static void
test_views(void **state)
{
	struct fx	 f;
	struct tl_buf	 b;
	const char	*why = NULL;
	char		 s[256];
	size_t		 n;

	(void)state;
	f.set = cm_scanset_new(NULL, NULL, 0, &why);
	f.sc = cm_scanner_new();
	cm_scan_hits_init(&f.hits);
	tl_expand(&b, "{A36}", 3);
	/* Fullwidth g: only the fold view sees the token (acceptance 31). */
	n = (size_t)snprintf(s, sizeof(s), "x \xef\xbd\x87hp_%s y", b.s);
	assert_int_equal(scan_views(&f, s, n, 0), 0);
	assert_int_equal(scan_views(&f, s, n, CM_SCAN_VIEW_FOLD), 1);
	assert_string_equal(f.hits.hit[0].rule, "github-pat-classic");
	assert_int_equal(f.hits.hit[0].view, CM_SCAN_IN_FOLD);
	assert_int_equal(f.hits.hit[0].off, 2);
	assert_int_equal(f.hits.hit[0].len, 42);
	/* A zero-width space inside the token: fold view again. */
	n = (size_t)snprintf(s, sizeof(s), "ghp_%.10s\xe2\x80\x8b%s", b.s,
	    b.s + 10);
	assert_int_equal(scan_views(&f, s, n, CM_SCAN_VIEW_FOLD), 1);
	assert_int_equal(f.hits.hit[0].view, CM_SCAN_IN_FOLD);
	assert_int_equal(f.hits.hit[0].len, n);
	/* Percent-decoded view of a form body. */
	n = (size_t)snprintf(s, sizeof(s), "a=%%67hp_%s&b=1", b.s);
	assert_int_equal(scan_views(&f, s, n, CM_SCAN_VIEW_PERCENT), 1);
	assert_int_equal(f.hits.hit[0].view, CM_SCAN_IN_PERCENT);
	assert_int_equal(f.hits.hit[0].off, 2);
	assert_int_equal(f.hits.hit[0].len, 42);
	/* JSON \u escapes, a surrogate pair before it. */
	n = (size_t)snprintf(s, sizeof(s), "{\"k\":\"\\ud83d\\ude00 "
	    "\\u0067hp_%s\"}", b.s);
	assert_int_equal(scan_views(&f, s, n, CM_SCAN_VIEW_JSON), 1);
	assert_int_equal(f.hits.hit[0].view, CM_SCAN_IN_JSON);
	assert_int_equal(f.hits.hit[0].off, 19);
	assert_int_equal(f.hits.hit[0].len, 45);
	/* Raw and view both: reported once, raw. */
	n = (size_t)snprintf(s, sizeof(s), "a=ghp_%s&b=%%41", b.s);
	assert_int_equal(scan_views(&f, s, n, CM_SCAN_VIEW_PERCENT |
	    CM_SCAN_VIEW_JSON | CM_SCAN_VIEW_FOLD), 1);
	assert_int_equal(f.hits.hit[0].view, CM_SCAN_IN_RAW);
	/* A view-only hit cannot be rewritten: redaction leaves it. */
	{
		unsigned char	*out;
		size_t		 outlen;

		n = (size_t)snprintf(s, sizeof(s), "a=%%67hp_%s", b.s);
		assert_int_equal(scan_views(&f, s, n, CM_SCAN_VIEW_PERCENT), 1);
		assert_int_equal(cm_scan_redact(s, n, 0, &f.hits,
		    CM_SCAN_REDACT_STARS, &out, &outlen, &why), 0);
		assert_int_equal(outlen, n);
		assert_memory_equal(out, s, n);
		free(out);
	}
	cm_scan_hits_free(&f.hits);
	cm_scanner_free(f.sc);
	cm_scanset_unref(f.set);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table_sorted),
		cmocka_unit_test(test_fold_letters),
		cmocka_unit_test(test_invisible_removed),
		cmocka_unit_test(test_utf8),
		cmocka_unit_test(test_views),
	};
	return (cmocka_run_group_tests_name("scan_fold", tests, NULL, NULL));
}
