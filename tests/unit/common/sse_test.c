/* common/sse.c: SSE events and ndjson records, whole and in pieces. */
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

#include "common/sse.h"

/*
 * Splits s (arriving step bytes at a time) and writes each unit as
 * "[" bytes "]", a piece without END as "[" bytes "+", so want shows
 * where the cuts fall.
 */
static void
split(enum cm_sse_mode mode, size_t max, const char *s, size_t step,
    char *got, size_t gotsz)
{
	struct cm_sse	*sp = cm_sse_new(mode, max);
	struct evbuffer	*in = evbuffer_new(), *out = evbuffer_new();
	const char	*why = NULL;
	size_t		 len = strlen(s), off, n, g = 0, u;
	unsigned	 flags;
	int		 open = 0, rc, fin;

	assert_non_null(sp);
	got[0] = '\0';
	for (off = 0; off <= len; off += n) {
		n = len - off < step ? len - off : step;
		evbuffer_add(in, s + off, n);
		fin = off + n == len;
		for (;;) {
			rc = fin ? cm_sse_finish(sp, in, out, &flags, &why) :
			    cm_sse_next(sp, in, out, &flags, &why);
			assert_int_not_equal(rc, -1);
			if (rc == 0)
				break;
			/* START exactly when no piece is open. */
			assert_int_equal(!!(flags & CM_SSE_START), !open);
			u = evbuffer_get_length(out);
			assert_true(u <= max);
			assert_true(g + u + 3 < gotsz);
			if (flags & CM_SSE_START)
				got[g++] = '[';
			evbuffer_remove(out, got + g, u);
			g += u;
			open = !(flags & CM_SSE_END);
			got[g++] = open ? '+' : ']';
			got[g] = '\0';
		}
		if (fin)
			break;
	}
	assert_int_equal(evbuffer_get_length(in), 0);
	assert_false(open);
	cm_sse_free(sp);
	evbuffer_free(in);
	evbuffer_free(out);
}

/*
 * A blank line's CR ends its event at once when its LF has not come yet;
 * the LF then opens the next unit.  Moves such an LF back ("\r][\n" to
 * "\r\n][", dropping a unit left empty) so every split compares equal.
 */
static void
normalise(char *s)
{
	char	*p;

	while ((p = strstr(s, "\r][\n")) != NULL) {
		memcpy(p, "\r\n][", 4);
		if (strncmp(p + 3, "[]", 2) == 0)
			memmove(p + 3, p + 5, strlen(p + 5) + 1);
	}
}

static void
expect(enum cm_sse_mode mode, size_t max, const char *s, const char *want)
{
	static char	 got[8192];
	size_t		 step;

	for (step = 1; step <= strlen(s) + 1; step++) {
		split(mode, max, s, step, got, sizeof(got));
		normalise(got);
		if (strcmp(got, want) != 0)
			fail_msg("step %zu:\n got  %s\n want %s", step, got,
			    want);
	}
}

static void
test_line_endings(void **state)
{
	(void)state;
	expect(CM_SSE_EVENTS, 1000, "data: a\n\ndata: b\nid: 2\n\n",
	    "[data: a\n\n][data: b\nid: 2\n\n]");
	expect(CM_SSE_EVENTS, 1000, "data: a\r\rdata: b\r\n\r\n",
	    "[data: a\r\r][data: b\r\n\r\n]");
	expect(CM_SSE_EVENTS, 1000, "data: a\r\n\ndata: b\n\r\n",
	    "[data: a\r\n\n][data: b\n\r\n]");
	/* A CRLF is one line end, however it is cut. */
	expect(CM_SSE_EVENTS, 1000, "data: a\r\ndata: b\r\n\r\n",
	    "[data: a\r\ndata: b\r\n\r\n]");
	/* Unfinished at the end: the last piece. */
	expect(CM_SSE_EVENTS, 1000, ": comment\n\ndata: tail",
	    "[: comment\n\n][data: tail]");
	expect(CM_SSE_EVENTS, 1000, "", "");
}

static void
test_cap_pieces(void **state)
{
	(void)state;
	expect(CM_SSE_EVENTS, 4, "data: abcdef\n\nx\n\n",
	    "[data+: ab+cdef+\n\n][x\n\n]");
	/* Exactly the cap is whole. */
	expect(CM_SSE_EVENTS, 5, "a\n\nbc\n\n", "[a\n\n][bc\n\n]");
	expect(CM_SSE_EVENTS, 1, "a\n\n", "[a+\n+\n]");
	expect(CM_SSE_NDJSON, 3, "{}\n{\"k\":1}\n\n",
	    "[{}\n][{\"k+\":1+}\n][\n]");
}

static void
test_ndjson(void **state)
{
	(void)state;
	/* CR is data in ndjson; only LF ends a record. */
	expect(CM_SSE_NDJSON, 100, "{\"a\":1}\r\n{\"b\":\"\r\"}\n{\"c\"",
	    "[{\"a\":1}\r\n][{\"b\":\"\r\"}\n][{\"c\"]");
}

static void
test_cr_at_piece_end(void **state)
{
	struct cm_sse	*sp = cm_sse_new(CM_SSE_EVENTS, 100);
	struct evbuffer	*in = evbuffer_new(), *out = evbuffer_new();
	const char	*why = NULL;
	unsigned	 flags;

	(void)state;
	/* The event ends at the CR at once: a live stream never waits. */
	evbuffer_add(in, "data: x\r\r", 9);
	assert_int_equal(cm_sse_next(sp, in, out, &flags, &why), 1);
	assert_int_equal(flags, CM_SSE_START | CM_SSE_END);
	assert_int_equal(evbuffer_get_length(out), 9);
	/* Its LF opens the next unit without ending a line there. */
	evbuffer_add(in, "\ndata: y\r\r", 10);
	assert_int_equal(cm_sse_next(sp, in, out, &flags, &why), 1);
	assert_int_equal(evbuffer_get_length(out), 19);
	assert_int_equal(cm_sse_next(sp, in, out, &flags, &why), 0);
	assert_int_equal(cm_sse_finish(sp, in, out, &flags, &why), 0);
	cm_sse_free(sp);
	evbuffer_free(in);
	evbuffer_free(out);
}

static void
test_data_fields(void **state)
{
	struct evbuffer	*out = evbuffer_new();
	const char	*ev = "event: x\r\ndata: first\r\n: note\ndata:second\r"
	    "data\nid: 3\ndatum: no\ndata:  two spaces\n\n";
	const char	*want = "first\nsecond\n\n two spaces";

	(void)state;
	assert_int_equal(cm_sse_data(ev, strlen(ev), out), 0);
	assert_int_equal(evbuffer_get_length(out), strlen(want));
	assert_memory_equal(evbuffer_pullup(out, -1), want, strlen(want));
	evbuffer_free(out);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_line_endings),
		cmocka_unit_test(test_cap_pieces),
		cmocka_unit_test(test_ndjson),
		cmocka_unit_test(test_cr_at_piece_end),
		cmocka_unit_test(test_data_fields),
	};

	return (cmocka_run_group_tests_name("sse", tests, NULL, NULL));
}
