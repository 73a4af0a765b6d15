/* common/form.c: urlencoded pairs, whole and in pieces. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/bounds.h"
#include "common/form.h"

struct rec {
	char	 s[1 << 17];
	size_t	 n;
	int	 stop_after;
	int	 calls;
	size_t	 pieces;
};

static void
rec_add(struct rec *r, const void *p, size_t n)
{
	if (n == 0)
		return;
	assert_true(r->n + n < sizeof(r->s));
	memcpy(r->s + r->n, p, n);
	r->n += n;
	r->s[r->n] = '\0';
}

/* Whole pairs as "name=value;" (the bytes as decoded). */
static int
rec_pair(void *arg, const char *name, size_t nlen, const char *value,
    size_t vlen)
{
	struct rec	*r = arg;

	rec_add(r, "<", 1);
	rec_add(r, name, nlen);
	rec_add(r, "|", 1);
	rec_add(r, value, vlen);
	rec_add(r, ">", 1);
	return (++r->calls == r->stop_after);
}

/* Pieces, checking the flags make whole names and values. */
static int
rec_piece(void *arg, unsigned flags, const void *buf, size_t len)
{
	struct rec	*r = arg;

	if (flags & CM_FORM_FIRST)
		rec_add(r, (flags & CM_FORM_NAME) ? "<" : "|", 1);
	rec_add(r, buf, len);
	if ((flags & CM_FORM_LAST) && !(flags & CM_FORM_NAME))
		rec_add(r, ">", 1);
	r->pieces++;
	return (0);
}

static void
expect(const char *body, const char *want)
{
	static struct rec	 r;
	struct cm_form		*f;
	const char		*why = NULL;
	size_t			 len = strlen(body), step, off, n;

	memset(&r, 0, sizeof(r));
	assert_int_equal(cm_form_pairs(body, len, rec_pair, &r, &why), 0);
	assert_string_equal(r.s, want);
	for (step = 1; step <= len; step++) {
		memset(&r, 0, sizeof(r));
		f = cm_form_new(rec_piece, &r);
		for (off = 0; off < len; off += n) {
			n = len - off < step ? len - off : step;
			assert_int_equal(cm_form_feed(f, body + off, n, &why),
			    0);
		}
		assert_int_equal(cm_form_finish(f, &why), 0);
		cm_form_free(f);
		if (strcmp(r.s, want) != 0)
			fail_msg("step %zu: got %s want %s", step, r.s, want);
	}
}

static void
test_pairs(void **state)
{
	(void)state;
	expect("a=1&b=hello+world&c=%41%62%2b", "<a|1><b|hello world><c|Ab+>");
	/* A '%' that starts no triplet is kept, as browsers keep it. */
	expect("c=%zz%4&d=%&e=%4g100%", "<c|%zz%4><d|%><e|%4g100%>");
	/* Empty pairs skipped; no '=' is an empty value; '=' in a value. */
	expect("&&d&=e&f=x=y&", "<d|><|e><f|x=y>");
	expect("%61%3D%26=%3d&k%2", "<a=&|=><k%2|>");
	expect("", "");
	expect("=", "<|>");
	expect("name+with+spaces=", "<name with spaces|>");
}

static void
test_long_value_in_pieces(void **state)
{
	static struct rec	 r;
	struct cm_form		*f;
	const char		*why = NULL;
	size_t			 n = 3 * CM_FORM_PIECE_BYTES + 5;
	char			*body = malloc(n + 3);

	(void)state;
	memcpy(body, "k=", 2);
	memset(body + 2, 'v', n);
	memset(&r, 0, sizeof(r));
	f = cm_form_new(rec_piece, &r);
	assert_int_equal(cm_form_feed(f, body, n + 2, &why), 0);
	assert_int_equal(cm_form_finish(f, &why), 0);
	cm_form_free(f);
	/* name, then the value in four pieces. */
	assert_int_equal(r.pieces, 5);
	assert_int_equal(r.n, 1 + 1 + 1 + n + 1);
	memset(&r, 0, sizeof(r));
	assert_int_equal(cm_form_pairs(body, n + 2, rec_pair, &r, &why), 0);
	assert_int_equal(r.n, n + 4);
	free(body);
}

static void
test_stop(void **state)
{
	static struct rec	 r;
	const char		*why = NULL;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.stop_after = 2;
	assert_int_equal(cm_form_pairs("a=1&b=2&c=3", 11, rec_pair, &r, &why),
	    -1);
	assert_string_equal(why, "stopped by the caller");
	assert_string_equal(r.s, "<a|1><b|2>");
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_pairs),
		cmocka_unit_test(test_long_value_in_pieces),
		cmocka_unit_test(test_stop),
	};

	return (cmocka_run_group_tests_name("form", tests, NULL, NULL));
}
