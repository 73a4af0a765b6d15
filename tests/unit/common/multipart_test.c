/* common/multipart.c: parts, bodies and refusals, under every split. */
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

#include "common/bounds.h"
#include "common/http.h"
#include "common/multipart.h"

#define CT	"multipart/form-data; boundary=XyZ"

/* Every callback, written out as text. */
struct rec {
	char	 s[1 << 16];
	size_t	 n;
	int	 stop_after;	/* stop at this call (0: never) */
	int	 calls;
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

static int
rec_stop(struct rec *r)
{
	return (++r->calls == r->stop_after);
}

static int
rec_part(void *arg, const struct cm_multipart_part *p)
{
	struct rec	*r = arg;
	char		 b[512];

	snprintf(b, sizeof(b), "[P%u.%zu name=%s file=%s ct=%s%s%s]",
	    p->depth, p->index, p->name ? p->name : "-",
	    p->filename ? p->filename : "-",
	    p->content_type ? p->content_type : "-",
	    p->nested ? " nested" : "",
	    p->transfer_encoding ? " cte" : "");
	rec_add(r, b, strlen(b));
	assert_non_null(p->fields);
	return (rec_stop(r));
}

static int
rec_data(void *arg, const struct cm_multipart_part *p, const void *buf,
    size_t len)
{
	struct rec	*r = arg;

	assert_int_equal(p->nested, 0);
	assert_true(len > 0);
	rec_add(r, buf, len);
	return (rec_stop(r));
}

static int
rec_end(void *arg, const struct cm_multipart_part *p)
{
	struct rec	*r = arg;

	(void)p;
	rec_add(r, "[E]", 3);
	return (rec_stop(r));
}

static const struct cm_multipart_cb rec_cb = { rec_part, rec_data, rec_end };

/* Parses body in pieces of step; returns 0/-1 of feed + finish. */
static int
parse(const char *ct, const char *body, size_t len, size_t step,
    struct rec *r, const char **why)
{
	struct cm_multipart	*mp;
	size_t			 off, n;
	int			 rc = 0;

	r->n = 0;
	r->s[0] = '\0';
	r->calls = 0;
	mp = cm_multipart_new(ct, &rec_cb, r, why);
	assert_non_null(mp);
	for (off = 0; off < len && rc == 0; off += n) {
		n = len - off < step ? len - off : step;
		rc = cm_multipart_feed(mp, body + off, n, why);
	}
	if (rc == 0)
		rc = cm_multipart_finish(mp, why);
	cm_multipart_free(mp);
	return (rc);
}

/* body parses the same, to want, whatever the pieces. */
static void
expect(const char *ct, const char *body, const char *want)
{
	static struct rec	 r;
	const char		*why = NULL;
	size_t			 step, len = strlen(body);

	for (step = 1; step <= len; step++) {
		if (parse(ct, body, len, step, &r, &why) != 0)
			fail_msg("step %zu: %s", step, why);
		if (strcmp(r.s, want) != 0)
			fail_msg("step %zu:\n got  %s\n want %s", step, r.s,
			    want);
	}
}

static void
expect_bad(const char *ct, const char *body, const char *want_why)
{
	static struct rec	 r;
	const char		*why = NULL;
	size_t			 step, len = strlen(body);

	for (step = 1; step <= len; step += step < 8 ? 1 : 7) {
		r.stop_after = 0;
		assert_int_equal(parse(ct, body, len, step, &r, &why), -1);
		assert_string_equal(why, want_why);
	}
}

static void
test_param(void **state)
{
	char	 b[16];

	(void)state;
	assert_int_equal(cm_multipart_param("multipart/form-data; "
	    "boundary=abc", "boundary", b, sizeof(b)), 1);
	assert_string_equal(b, "abc");
	assert_int_equal(cm_multipart_param("form-data;name=\"a b\";"
	    "FILENAME=\"x\\\"y\"", "filename", b, sizeof(b)), 1);
	assert_string_equal(b, "x\"y");
	assert_int_equal(cm_multipart_param("form-data; name=\"\"", "name", b,
	    sizeof(b)), 1);
	assert_string_equal(b, "");
	assert_int_equal(cm_multipart_param("form-data", "name", b,
	    sizeof(b)), 0);
	assert_int_equal(cm_multipart_param("form-data; a=1;", "name", b,
	    sizeof(b)), 0);
	assert_int_equal(cm_multipart_param("form-data; name", "name", b,
	    sizeof(b)), -1);
	assert_int_equal(cm_multipart_param("form-data; name=\"open", "name",
	    b, sizeof(b)), -1);
	assert_int_equal(cm_multipart_param("form-data; name=a b", "name", b,
	    sizeof(b)), -1);
	assert_int_equal(cm_multipart_param("form-data; name="
	    "0123456789abcdef", "name", b, sizeof(b)), -1);
}

static void
test_new_refusals(void **state)
{
	const char	*why = NULL;
	char		 ct[200];

	(void)state;
	assert_null(cm_multipart_new("text/plain", &rec_cb, NULL, &why));
	assert_string_equal(why, "not a multipart content type");
	assert_null(cm_multipart_new(NULL, &rec_cb, NULL, &why));
	assert_null(cm_multipart_new("multipart/form-data", &rec_cb, NULL,
	    &why));
	assert_string_equal(why,
	    "multipart content type without a valid boundary");
	assert_null(cm_multipart_new("multipart/mixed; boundary=\"\"",
	    &rec_cb, NULL, &why));
	assert_null(cm_multipart_new("multipart/mixed; boundary=\"a \"",
	    &rec_cb, NULL, &why));
	snprintf(ct, sizeof(ct), "multipart/mixed; boundary=%071d", 0);
	assert_null(cm_multipart_new(ct, &rec_cb, NULL, &why));
	snprintf(ct, sizeof(ct), "multipart/mixed; boundary=%070d", 0);
	cm_multipart_free(cm_multipart_new(ct, &rec_cb, NULL, &why));
}

static void
test_form_data(void **state)
{
	(void)state;
	expect(CT,
	    "--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"user\"\r\n"
	    "\r\n"
	    "alice\r\n"
	    "--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"f\"; filename=\"a.txt\""
	    "\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "line one\r\nline two\r\n\r\n"
	    "--XyZ--\r\n",
	    "[P0.0 name=user file=- ct=-]alice[E]"
	    "[P0.1 name=f file=a.txt ct=text/plain]"
	    "line one\r\nline two\r\n[E]");
}

static void
test_preamble_epilogue_padding(void **state)
{
	(void)state;
	expect("multipart/mixed; boundary=\"b 1\"",
	    "preamble --b 1 is not at a line start\r\n"
	    "--b 1  \t\r\n"
	    "\r\n"
	    "no headers\r\n"
	    "--b 1--  epilogue\r\n--b 1\r\nignored",
	    "[P0.0 name=- file=- ct=-]no headers[E]");
}

static void
test_near_delimiters(void **state)
{
	(void)state;
	/* Prefixes of the delimiter inside a body are body bytes. */
	expect(CT,
	    "--XyZ\r\n\r\n"
	    "a\r\n--XyA\r\n-\r\r\n--Xy\r--XyZZ"
	    "\r\n--XyZ\r\n\r\n"
	    "\r\n--XyZ\r\n\r\n"
	    "\r\r\n--XyZ--",
	    "[P0.0 name=- file=- ct=-]a\r\n--XyA\r\n-\r\r\n--Xy\r--XyZZ[E]"
	    "[P0.1 name=- file=- ct=-][E]"
	    "[P0.2 name=- file=- ct=-]\r[E]");
}

static void
test_nested(void **state)
{
	(void)state;
	expect(CT,
	    "--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"files\"\r\n"
	    "Content-Type: multipart/mixed; boundary=in\r\n"
	    "\r\n"
	    "--in\r\n"
	    "Content-Disposition: file; filename=\"1.txt\"\r\n"
	    "Content-Transfer-Encoding: binary\r\n"
	    "\r\n"
	    "one\r\n"
	    "--in\r\n"
	    "Content-Type: multipart/alternative; boundary=deep\r\n"
	    "\r\n"
	    "--deep\r\n\r\ndeepest\r\n--deep--\r\n"
	    "--in--\r\n"
	    "--XyZ\r\n"
	    "Content-Disposition: form-data; name=\"after\"\r\n"
	    "\r\n"
	    "x\r\n"
	    "--XyZ--",
	    "[P0.0 name=files file=- ct=multipart/mixed; boundary=in nested]"
	    "[P1.0 name=- file=1.txt ct=- cte]one[E]"
	    "[P1.1 name=- file=- ct=multipart/alternative; boundary=deep "
	    "nested][P2.0 name=- file=- ct=-]deepest[E][E]"
	    "[E]"
	    "[P0.1 name=after file=- ct=-]x[E]");
	/* A nested type without a boundary is an ordinary body. */
	expect(CT,
	    "--XyZ\r\nContent-Type: multipart/mixed\r\n\r\n--a\r\n"
	    "\r\n--XyZ--",
	    "[P0.0 name=- file=- ct=multipart/mixed]--a\r\n[E]");
}

static void
test_depth_limit(void **state)
{
	char		 body[4096], want[4096], b[64];
	size_t		 i;

	(void)state;
	body[0] = want[0] = '\0';
	/* Levels 0 .. MAX_DEPTH - 1 parse; the last one is a plain body. */
	for (i = 0; i < CM_MULTIPART_MAX_DEPTH; i++) {
		snprintf(b, sizeof(b), "--b%zu\r\nContent-Type: multipart/"
		    "mixed; boundary=b%zu\r\n\r\n", i, i + 1);
		strcat(body, b);
		snprintf(b, sizeof(b), "[P%zu.0 name=- file=- ct=multipart/"
		    "mixed; boundary=b%zu%s]", i, i + 1,
		    i + 1 < CM_MULTIPART_MAX_DEPTH ? " nested" : "");
		strcat(want, b);
	}
	strcat(body, "--bX\r\n\r\ndeep\r\n--bX--");
	strcat(want, "--bX\r\n\r\ndeep\r\n--bX--");
	for (i = CM_MULTIPART_MAX_DEPTH; i-- > 0;) {
		snprintf(b, sizeof(b), "\r\n--b%zu--", i);
		strcat(body, b);
		strcat(want, "[E]");
	}
	expect("multipart/mixed; boundary=b0", body, want);
}

static void
test_refusals(void **state)
{
	static struct rec	 r;
	char			*big;
	const char		*why = NULL;

	(void)state;
	expect_bad(CT, "--XyZ\r\n\r\nunfinished",
	    "multipart body ends before its final boundary");
	expect_bad(CT, "no delimiter at all",
	    "multipart body ends before its final boundary");
	expect_bad(CT, "--XyZ junk\r\n\r\n--XyZ--",
	    "malformed multipart boundary line");
	expect_bad(CT, "--XyZ-\r\n", "malformed multipart boundary line");
	expect_bad(CT, "--XyZ\n\n--XyZ--", "malformed multipart boundary line");
	expect_bad(CT, "--XyZ\r\nName: v\n\r\n\r\n--XyZ--",
	    "bare LF in a multipart part header");
	expect_bad(CT, "--XyZ\r\nName: v\rx\r\n\r\n--XyZ--",
	    "bare CR in a multipart part header");
	expect_bad(CT, "--XyZ\r\nno colon\r\n\r\n--XyZ--",
	    "malformed multipart part header");
	expect_bad(CT, "--XyZ\r\nBad Name: v\r\n\r\n--XyZ--",
	    "malformed multipart part header");
	expect_bad(CT, "--XyZ\r\n: v\r\n\r\n--XyZ--",
	    "malformed multipart part header");
	expect_bad(CT, "--XyZ\r\nContent-Type: multipart/mixed; boundary=i"
	    "\r\n\r\n--i\r\n\r\nx\r\n--XyZ--",
	    "multipart body ends before its final boundary");
	big = malloc(CM_MULTIPART_HEAD_BYTES + 64);
	strcpy(big, "--XyZ\r\nA: ");
	memset(big + 10, 'v', CM_MULTIPART_HEAD_BYTES);
	strcpy(big + 10 + CM_MULTIPART_HEAD_BYTES, "\r\n\r\n--XyZ--");
	expect_bad(CT, big, "multipart part header too large");
	free(big);
	/* A callback that says stop. */
	r.stop_after = 2;
	assert_int_equal(parse(CT, "--XyZ\r\n\r\nabc\r\n--XyZ--", 21, 100, &r,
	    &why), -1);
	assert_string_equal(why, "stopped by the caller");
	r.stop_after = 0;
}

static void
test_many_fields_and_evbuffer(void **state)
{
	static struct rec	 r;
	struct cm_multipart	*mp;
	struct evbuffer		*in = evbuffer_new();
	const char		*why = NULL;
	char			 line[64];
	int			 i;

	(void)state;
	evbuffer_add_printf(in, "--XyZ\r\n");
	for (i = 0; i < CM_MULTIPART_HEAD_COUNT; i++) {
		snprintf(line, sizeof(line), "X-%d: %d\r\n", i, i);
		evbuffer_add(in, line, strlen(line));
	}
	/* Separate chains, so the evbuffer walk crosses them. */
	evbuffer_add_reference(in, "\r\nbody", 6, NULL, NULL);
	evbuffer_add_reference(in, " bytes\r\n--XyZ--", 15, NULL, NULL);
	r.n = 0;
	mp = cm_multipart_new(CT, &rec_cb, &r, &why);
	assert_int_equal(cm_multipart_feed_evbuffer(mp, in, &why), 0);
	assert_int_equal(cm_multipart_finish(mp, &why), 0);
	assert_string_equal(r.s, "[P0.0 name=- file=- ct=-]body bytes[E]");
	cm_multipart_free(mp);
	/* One field more is refused. */
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_add_printf(in, "--XyZ\r\n");
	for (i = 0; i <= CM_MULTIPART_HEAD_COUNT; i++)
		evbuffer_add_printf(in, "X-%d: %d\r\n", i, i);
	evbuffer_add_printf(in, "\r\n--XyZ--");
	mp = cm_multipart_new(CT, &rec_cb, &r, &why);
	assert_int_equal(cm_multipart_feed_evbuffer(mp, in, &why), -1);
	assert_string_equal(why, "too many multipart part header fields");
	cm_multipart_free(mp);
	evbuffer_free(in);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_param),
		cmocka_unit_test(test_new_refusals),
		cmocka_unit_test(test_form_data),
		cmocka_unit_test(test_preamble_epilogue_padding),
		cmocka_unit_test(test_near_delimiters),
		cmocka_unit_test(test_nested),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_many_fields_and_evbuffer),
	};

	return (cmocka_run_group_tests_name("multipart", tests, NULL, NULL));
}
