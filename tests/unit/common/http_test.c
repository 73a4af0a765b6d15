/*
 * Unit tests of the HTTP/1.1 codec (common/http*.c): every refusal of
 * spec/egress.md §2.2 with its status, reason token and sentence, fed
 * whole and one byte at a time; limits; bodies under a budget; response
 * framing; CONNECT and Upgrade leftovers; pipelining; re-serialisation.
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/buffer.h>

#include "common/bounds.h"
#include "common/http.h"

/* A literal and its length, NULs included. */
#define S(x)	(x), (sizeof(x) - 1)

/* What feeding one message produced. */
struct run {
	int			 rc;	/* 1 done, 0 incomplete, -1 refused */
	int			 status;
	const char		*reason;
	const char		*why;
	struct cm_http_msg	*msg;	/* taken; NULL if refused in the head */
	struct evbuffer		*body;	/* decoded */
	struct evbuffer		*rest;	/* left in the input */
	char			*trailers;	/* "name=value;" each */
};

/*
 * Feeds s, step bytes at a time, through head and body (budget bytes per
 * body call) until the message completes or is refused.
 */
static void
run(enum cm_http_type type, enum llhttp_method req, const char *s,
    size_t len, size_t step, size_t budget, struct run *r)
{
	struct cm_http_parser		*p;
	const struct cm_http_fields	*t;
	size_t				 off = 0, n, before, i, tl;
	int				 head = 0, rc;

	memset(r, 0, sizeof(*r));
	p = cm_http_parser_new(type, NULL);
	assert_non_null(p);
	cm_http_parser_set_method(p, req);
	r->body = evbuffer_new();
	r->rest = evbuffer_new();
	while (r->rc == 0 && off < len) {
		n = len - off < step ? len - off : step;
		evbuffer_add(r->rest, s + off, n);
		off += n;
		for (;;) {
			if (!head) {
				rc = cm_http_head_read(p, r->rest, &r->why);
				if (rc != 1) {
					r->rc = rc;
					break;
				}
				head = 1;
			}
			before = evbuffer_get_length(r->rest);
			rc = cm_http_body_read(p, r->rest, r->body, budget,
			    &r->why);
			if (rc != 0) {
				r->rc = rc;
				break;
			}
			if (evbuffer_get_length(r->rest) == before)
				break;
		}
	}
	if (off < len)
		evbuffer_add(r->rest, s + off, len - off);	/* unread */
	r->status = cm_http_parser_error(p, &r->reason);
	if (r->rc == 1 && (t = cm_http_parser_trailers(p)) != NULL) {
		r->trailers = calloc(1, 1024);
		for (i = 0; i < cm_http_fields_len(t); i++) {
			tl = strlen(r->trailers);
			snprintf(r->trailers + tl, 1024 - tl, "%s=%s;",
			    cm_http_fields_name(t, i),
			    cm_http_fields_value(t, i));
		}
	}
	r->msg = cm_http_parser_take(p);
	cm_http_parser_free(p);
}

static void
run_free(struct run *r)
{
	cm_http_msg_free(r->msg);
	evbuffer_free(r->body);
	evbuffer_free(r->rest);
	free(r->trailers);
}

/* The whole message at once and byte by byte: both refused alike. */
static void
refused(enum cm_http_type type, const char *s, size_t len, int status,
    const char *reason, const char *why)
{
	struct run	 r;
	size_t		 steps[] = { len, 1, 7 };
	size_t		 i;

	for (i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		run(type, HTTP_GET, s, len, steps[i], 1 << 20, &r);
		if (r.rc != -1)
			fail_msg("accepted (step %zu): %.*s", steps[i],
			    (int)len, s);
		assert_int_equal(r.status, status);
		assert_string_equal(r.reason, reason);
		if (why != NULL)
			assert_string_equal(r.why, why);
		run_free(&r);
	}
}

static void
bad_req(const char *s, size_t len, const char *why)
{
	refused(CM_HTTP_REQUEST, s, len, 400, "bad_request", why);
}

static char *
body_str(struct evbuffer *b)
{
	size_t	 n = evbuffer_get_length(b);
	char	*s = calloc(1, n + 1);

	evbuffer_copyout(b, s, n);
	return (s);
}

static void
assert_buf(struct evbuffer *b, const char *want, size_t len)
{
	char	*s = body_str(b);

	assert_int_equal(evbuffer_get_length(b), len);
	assert_memory_equal(s, want, len);
	free(s);
}

/* ---- heads ------------------------------------------------------------ */

static void
test_parses_request_head(void **state)
{
	struct run		 r;
	struct cm_http_fields	*f;

	(void)state;
	run(CM_HTTP_REQUEST, HTTP_GET, S("GET /a?b=c HTTP/1.1\r\n"
	    "Host: example.test\r\nX-Mixed-Case:  spaced value \t\r\n"
	    "Accept: a\r\naccept: b\r\nX-Empty:\r\n\r\nNEXT"), 1 << 20, 64,
	    &r);
	assert_int_equal(r.rc, 1);
	assert_int_equal(cm_http_msg_method(r.msg), HTTP_GET);
	assert_string_equal(cm_http_msg_method_name(r.msg), "GET");
	assert_string_equal(cm_http_msg_target(r.msg), "/a?b=c");
	assert_int_equal(cm_http_msg_version(r.msg), 11);
	f = cm_http_msg_fields(r.msg);
	assert_int_equal(cm_http_fields_len(f), 5);
	assert_string_equal(cm_http_fields_name(f, 1), "X-Mixed-Case");
	assert_string_equal(cm_http_fields_value(f, 1), "spaced value");
	assert_string_equal(cm_http_fields_value(f, 4), "");
	assert_int_equal(cm_http_msg_framing(r.msg, NULL),
	    CM_HTTP_FRAMING_NONE);
	assert_int_equal(cm_http_msg_keep_alive(r.msg), 1);
	assert_int_equal(cm_http_msg_is_connect(r.msg), 0);
	assert_null(cm_http_msg_upgrade(r.msg));
	assert_int_equal(cm_http_msg_expect(r.msg), CM_HTTP_EXPECT_NONE);
	assert_buf(r.rest, S("NEXT"));
	run_free(&r);
}

static void
test_head_byte_at_a_time(void **state)
{
	static const char	 req[] = "POST /x HTTP/1.1\r\nHost: h\r\n"
	    "Content-Length: 3\r\n\r\nabc";
	struct cm_http_parser	*p;
	struct evbuffer		*in = evbuffer_new(), *out = evbuffer_new();
	const char		*why = NULL;
	size_t			 i, head = sizeof(req) - 1 - 3;
	uint64_t		 len;

	(void)state;
	p = cm_http_parser_new(CM_HTTP_REQUEST, NULL);
	for (i = 0; i < head - 1; i++) {
		evbuffer_add(in, req + i, 1);
		assert_int_equal(cm_http_head_read(p, in, &why), 0);
		assert_null(cm_http_parser_msg(p));
		assert_int_equal(evbuffer_get_length(in), i + 1);
	}
	evbuffer_add(in, req + i, 1);
	assert_int_equal(cm_http_head_read(p, in, &why), 1);
	assert_int_equal(evbuffer_get_length(in), 0);
	assert_int_equal(cm_http_msg_framing(cm_http_parser_msg(p), &len),
	    CM_HTTP_FRAMING_LENGTH);
	assert_int_equal(len, 3);
	for (i = head; i < sizeof(req) - 1; i++) {
		assert_int_equal(cm_http_body_read(p, in, out, 16, &why), 0);
		evbuffer_add(in, req + i, 1);
	}
	assert_int_equal(cm_http_body_read(p, in, out, 16, &why), 1);
	assert_buf(out, S("abc"));
	assert_int_equal(cm_http_parser_body_bytes(p), 3);
	/* Complete stays complete until the reset. */
	assert_int_equal(cm_http_head_read(p, in, &why), 1);
	cm_http_parser_free(p);
	evbuffer_free(in);
	evbuffer_free(out);
}

static void
test_pipelined_requests(void **state)
{
	static const char	 reqs[] = "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
	    "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
	    "PUT /3 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n"
	    "\r\n2\r\nhi\r\n0\r\n\r\n"
	    "GET /4 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n";
	static const char *const targets[] = { "/1", "/2", "/3", "/4" };
	static const char *const bodies[] = { "", "body", "hi", "" };
	struct cm_http_parser	*p;
	struct evbuffer		*in = evbuffer_new(), *out;
	const char		*why;
	char			*b;
	size_t			 i;

	(void)state;
	p = cm_http_parser_new(CM_HTTP_REQUEST, NULL);
	evbuffer_add(in, reqs, sizeof(reqs) - 1);
	for (i = 0; i < 4; i++) {
		out = evbuffer_new();
		assert_int_equal(cm_http_head_read(p, in, &why), 1);
		assert_string_equal(cm_http_msg_target(cm_http_parser_msg(p)),
		    targets[i]);
		assert_int_equal(cm_http_body_read(p, in, out, 1 << 20, &why),
		    1);
		b = body_str(out);
		assert_string_equal(b, bodies[i]);
		free(b);
		assert_int_equal(cm_http_msg_keep_alive(cm_http_parser_msg(p)),
		    i < 3);
		cm_http_parser_reset(p);
		evbuffer_free(out);
	}
	assert_int_equal(evbuffer_get_length(in), 0);
	assert_int_equal(cm_http_head_read(p, in, &why), 0);
	cm_http_parser_free(p);
	evbuffer_free(in);
}

static void
test_one_leading_empty_line_ignored(void **state)
{
	struct run	 r;

	(void)state;
	run(CM_HTTP_REQUEST, HTTP_GET, S("\r\nGET / HTTP/1.1\r\nHost: h\r\n"
	    "\r\n"), 1, 64, &r);
	assert_int_equal(r.rc, 1);
	assert_string_equal(cm_http_msg_target(r.msg), "/");
	run_free(&r);
	bad_req(S("\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "malformed request line");
}

static void
test_take_outlives_reset(void **state)
{
	struct cm_http_parser	*p;
	struct cm_http_msg	*m;
	struct evbuffer		*in = evbuffer_new();
	const char		*why;

	(void)state;
	p = cm_http_parser_new(CM_HTTP_REQUEST, NULL);
	evbuffer_add(in, S("GET /kept HTTP/1.1\r\nHost: h\r\n\r\n"));
	assert_int_equal(cm_http_head_read(p, in, &why), 1);
	m = cm_http_parser_take(p);
	assert_null(cm_http_parser_msg(p));
	cm_http_parser_reset(p);
	cm_http_parser_free(p);
	assert_string_equal(cm_http_msg_target(m), "/kept");
	cm_http_msg_free(m);
	evbuffer_free(in);
}

/* ---- refusals: framing (§2.2 first item) ----------------------------- */

static void
test_refuses_cl_with_te(void **state)
{
	(void)state;
	bad_req(S("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"),
	    "Content-Length together with Transfer-Encoding");
	bad_req(S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
	    "\r\nContent-Length: 5\r\n\r\n"),
	    "Content-Length together with Transfer-Encoding");
	refused(CM_HTTP_RESPONSE, S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), 502,
	    "upstream_protocol_error",
	    "Content-Length together with Transfer-Encoding");
}

static void
test_refuses_two_content_lengths(void **state)
{
	(void)state;
	bad_req(S("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n"
	    "Content-Length: 5\r\n\r\nhello"), "more than one Content-Length");
	bad_req(S("POST / HTTP/1.1\r\nHost: h\r\ncontent-length: 5\r\n"
	    "CONTENT-LENGTH: 6\r\n\r\nhello"), "more than one Content-Length");
}

static void
test_refuses_non_digit_content_length(void **state)
{
	static const char *const bad[] = { "5a", "+5", "-1", "0x5", "1 2",
	    "5, 5", "", "99999999999999999999" };
	char	 req[256];
	size_t	 i;
	int	 n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nHost: h\r\n"
		    "Content-Length: %s\r\n\r\n", bad[i]);
		bad_req(req, (size_t)n,
		    "Content-Length is not a decimal number");
	}
}

static void
test_refuses_te_other_than_chunked(void **state)
{
	static const char *const bad[] = { "chunked, identity", "identity",
	    "xchunked", "gzip, chunked", "chunked;q=1", "chunked chunked" };
	char	 req[256];
	size_t	 i;
	int	 n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: %s\r\n\r\n0\r\n\r\n", bad[i]);
		bad_req(req, (size_t)n,
		    "Transfer-Encoding other than exactly chunked");
	}
	bad_req(S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
	    "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
	    "Transfer-Encoding other than exactly chunked");
	bad_req(S("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\n\r\n"), "Transfer-Encoding in an HTTP/1.0 message");
	refused(CM_HTTP_RESPONSE, S("HTTP/1.1 200 OK\r\nTransfer-Encoding: "
	    "gzip\r\n\r\n"), 502, "upstream_protocol_error",
	    "Transfer-Encoding other than exactly chunked");
}

static void
test_chunked_te_is_case_insensitive(void **state)
{
	struct run	 r;

	(void)state;
	run(CM_HTTP_REQUEST, HTTP_GET, S("POST / HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: ChUnKeD\r\n\r\n1\r\nx\r\n0\r\n\r\n"), 1 << 20,
	    64, &r);
	assert_int_equal(r.rc, 1);
	assert_buf(r.body, S("x"));
	run_free(&r);
}

static void
test_refuses_bad_chunk_syntax(void **state)
{
	static const char *const bad[] = { "0x5\r\nhello\r\n0\r\n\r\n",
	    "5 \r\nhello\r\n0\r\n\r\n", "-5\r\nhello\r\n0\r\n\r\n",
	    "\r\nhello\r\n0\r\n\r\n", "fffffffffffffffff\r\n",
	    "5\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n\r\n",
	    "5\r\nhello\r\n0\n\r\n", "g\r\n" };
	char	 req[256];
	size_t	 i;
	int	 n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = snprintf(req, sizeof(req), "POST / HTTP/1.1\r\nHost: h\r\n"
		    "Transfer-Encoding: chunked\r\n\r\n%s", bad[i]);
		bad_req(req, (size_t)n, "malformed chunk size");
	}
}

/* Only llhttp's strict build refuses these: proves how it was built. */
static void
test_refuses_junk_around_chunks(void **state)
{
	(void)state;
	bad_req(S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n5\r\nhelloX\r\n0\r\n\r\n"), "malformed chunked framing");
	bad_req(S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n5\r\nhello\n0\r\n\r\n"), "malformed chunked framing");
	bad_req(S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n5\r\nhello\r\n0\r\r\n\r\n"), "malformed chunked framing");
	bad_req(S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n5;\r\nhello\r\n0\r\n\r\n"), "malformed chunked framing");
	bad_req(S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n5;a=b c\r\nhello\r\n0\r\n\r\n"),
	    "malformed chunked framing");
}

static void
test_refuses_long_chunk_extensions(void **state)
{
	struct cm_http_limits	 lim = { 16, 0, 0 };
	struct cm_http_parser	*p;
	struct evbuffer		*in = evbuffer_new(), *out = evbuffer_new();
	const char		*why = NULL, *reason;
	int			 i, rc = 0;

	(void)state;
	p = cm_http_parser_new(CM_HTTP_REQUEST, &lim);
	evbuffer_add(in, S("POST / HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n1;a"));
	assert_int_equal(cm_http_head_read(p, in, &why), 1);
	for (i = 0; i < 64 && rc == 0; i++) {
		rc = cm_http_body_read(p, in, out, 1 << 20, &why);
		evbuffer_add(in, "a", 1);
	}
	assert_int_equal(rc, -1);
	assert_string_equal(why, "chunk extensions too long");
	assert_int_equal(cm_http_parser_error(p, &reason), 400);
	assert_string_equal(reason, "bad_request");
	cm_http_parser_free(p);
	evbuffer_free(in);
	evbuffer_free(out);
}

static void
test_refuses_connect_with_body(void **state)
{
	(void)state;
	bad_req(S("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n"
	    "Content-Length: 3\r\n\r\nabc"), "CONNECT with a body");
	bad_req(S("CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"), "CONNECT with a body");
}

/* ---- refusals: lines and fields -------------------------------------- */

static void
test_refuses_obs_fold(void **state)
{
	(void)state;
	bad_req(S("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n b\r\n\r\n"),
	    "obs-fold (field line starting with whitespace)");
	bad_req(S("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\r\n\tb\r\n\r\n"),
	    "obs-fold (field line starting with whitespace)");
	bad_req(S("GET / HTTP/1.1\r\n Host: h\r\n\r\n"),
	    "obs-fold (field line starting with whitespace)");
	refused(CM_HTTP_RESPONSE, S("HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"),
	    502, "upstream_protocol_error",
	    "obs-fold (field line starting with whitespace)");
}

static void
test_refuses_bare_lf(void **state)
{
	(void)state;
	bad_req(S("GET / HTTP/1.1\nHost: h\r\n\r\n"), "bare LF line ending");
	bad_req(S("GET / HTTP/1.1\r\nHost: h\n\r\n"), "bare LF line ending");
	bad_req(S("GET / HTTP/1.1\r\nHost: h\r\n\n"), "bare LF line ending");
	bad_req(S("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "bare LF line ending");
	refused(CM_HTTP_RESPONSE, S("HTTP/1.1 200 OK\nX: a\r\n\r\n"), 502,
	    "upstream_protocol_error", "bare LF line ending");
}

static void
test_refuses_bare_cr(void **state)
{
	(void)state;
	bad_req(S("GET / HTTP/1.1\rHost: h\r\n\r\n"), "bare CR line ending");
	bad_req(S("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n"),
	    "bare CR line ending");
	bad_req(S("GET / HTTP/1.1\r\nHost: h\r\n\rX"), "bare CR line ending");
	bad_req(S("\rGET / HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "bare CR line ending");
}

static void
test_refuses_whitespace_before_colon(void **state)
{
	(void)state;
	bad_req(S("GET / HTTP/1.1\r\nHost : h\r\n\r\n"),
	    "whitespace between field name and colon");
	bad_req(S("GET / HTTP/1.1\r\nHost\t: h\r\n\r\n"),
	    "whitespace between field name and colon");
}

static void
test_refuses_bad_field_names(void **state)
{
	(void)state;
	bad_req(S("GET / HTTP/1.1\r\nHost: h\r\n: empty\r\n\r\n"),
	    "empty field name");
	bad_req(S("GET / HTTP/1.1\r\nHost: h\r\nX{y}: v\r\n\r\n"),
	    "invalid character in a field name");
	bad_req(S("GET / HTTP/1.1\r\nHost: h\r\n\x80X: v\r\n\r\n"),
	    "invalid character in a field name");
	bad_req(S("GET / HTTP/1.1\r\nHost: h\r\nNoColon\r\n\r\n"),
	    "field line without a colon");
}

static void
test_refuses_ctl_in_values(void **state)
{
	(void)state;
	bad_req(S("GET / HTTP/1.1\r\nHost: h\r\nX: a\0b\r\n\r\n"),
	    "NUL in a field value");
	bad_req(S("GET / HTTP/1.1\r\nHost: h\r\nX: a\x01" "b\r\n\r\n"),
	    "control character in a field value");
	bad_req(S("GET / HTTP/1.1\r\nHost: h\r\nX: a\x7f" "b\r\n\r\n"),
	    "control character in a field value");
	bad_req(S("GET / HTTP/1.1\r\nHost: h\r\nX: a\x1b" "b\r\n\r\n"),
	    "control character in a field value");
}

static void
test_allows_obs_text_and_htab_in_values(void **state)
{
	struct run	 r;

	(void)state;
	run(CM_HTTP_REQUEST, HTTP_GET, S("GET / HTTP/1.1\r\nHost: h\r\n"
	    "X: caf\xc3\xa9\ta\xff\r\n\r\n"), 1, 64, &r);
	assert_int_equal(r.rc, 1);
	assert_string_equal(cm_http_fields_get(cm_http_msg_fields(r.msg),
	    "x"), "caf\xc3\xa9\ta\xff");
	run_free(&r);
}

/* ---- refusals: request line ------------------------------------------ */

static void
test_refuses_malformed_request_line(void **state)
{
	(void)state;
	bad_req(S("GET  / HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "malformed request line");
	bad_req(S("GET /  HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "malformed request line");
	bad_req(S("GET / HTTP/1.1 \r\nHost: h\r\n\r\n"),
	    "malformed request line");
	bad_req(S("GET /\r\nHost: h\r\n\r\n"), "malformed request line");
	bad_req(S(" GET / HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "malformed request line");
	bad_req(S("GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "malformed request line");
	bad_req(S("GET / HTTP/1.10\r\nHost: h\r\n\r\n"),
	    "malformed HTTP version");
	bad_req(S("GET / http/1.1\r\nHost: h\r\n\r\n"),
	    "malformed HTTP version");
	bad_req(S("GET / HTTP/1\r\nHost: h\r\n\r\n"), "malformed HTTP version");
}

static void
test_refuses_http_version(void **state)
{
	static const char *const bad[] = { "HTTP/1.2", "HTTP/2.0", "HTTP/0.9",
	    "HTTP/3.0" };
	char	 req[128];
	size_t	 i;
	int	 n;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = snprintf(req, sizeof(req), "GET / %s\r\nHost: h\r\n\r\n",
		    bad[i]);
		refused(CM_HTTP_REQUEST, req, (size_t)n, 505, "http_version",
		    "HTTP version not supported (only 1.0 and 1.1)");
	}
	refused(CM_HTTP_RESPONSE, S("HTTP/2.0 200 OK\r\n\r\n"), 502,
	    "upstream_protocol_error",
	    "HTTP version not supported (only 1.0 and 1.1)");
}

static void
test_refuses_unknown_methods(void **state)
{
	(void)state;
	bad_req(S("FOO / HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "unknown request method");
	bad_req(S("get / HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "unknown request method");
	/* TRACK is refused by name: 405, as spec/egress.md §6.1 says. */
	refused(CM_HTTP_REQUEST, S("TRACK / HTTP/1.1\r\nHost: h\r\n\r\n"),
	    405, "method_not_allowed", "method TRACK is not allowed");
	bad_req(S("DESCRIBE / HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "unknown request method");
	bad_req(S("G@T / HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "malformed request line");
}

static void
test_refuses_bad_target_bytes(void **state)
{
	(void)state;
	bad_req(S("GET /a#frag HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "fragment in the request-target");
	bad_req(S("GET /a\\b HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "backslash in the request-target");
	bad_req(S("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "non-ASCII byte in the request-target");
	bad_req(S("GET /a\x01 HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "control character in the request-target");
	bad_req(S("GET /a\x7f HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "control character in the request-target");
	bad_req(S("GET /a\0 HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "control character in the request-target");
}

static void
test_refuses_target_form(void **state)
{
	(void)state;
	bad_req(S("CONNECT /x HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "CONNECT target is not host:port");
	bad_req(S("CONNECT h HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "CONNECT target is not host:port");
	bad_req(S("CONNECT h:x HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "CONNECT target is not host:port");
	bad_req(S("CONNECT ::1:443 HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "CONNECT target is not host:port");
	bad_req(S("GET * HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "asterisk-form target outside OPTIONS");
	bad_req(S("GET h:80 HTTP/1.1\r\nHost: h\r\n\r\n"), NULL);
	bad_req(S("GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "empty authority in the request-target");
}

static void
test_accepts_target_forms(void **state)
{
	static const char *const ok[] = {
	    "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n",
	    "CONNECT h.test:443 HTTP/1.1\r\nHost: h.test:443\r\n\r\n",
	    "CONNECT [::1]:443 HTTP/1.1\r\nHost: [::1]:443\r\n\r\n",
	    "GET http://h.test:8080/p?q HTTP/1.1\r\nHost: h.test:8080\r\n\r\n",
	    "GET http://h.test HTTP/1.1\r\nHost: h.test\r\n\r\n",
	    "GET /%7Ea|b{c}^`<>\" HTTP/1.1\r\nHost: h\r\n\r\n",
	};
	struct run	 r;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		run(CM_HTTP_REQUEST, HTTP_GET, ok[i], strlen(ok[i]), 1 << 20,
		    64, &r);
		if (r.rc != 1)
			fail_msg("refused (%s): %s", r.why, ok[i]);
		run_free(&r);
	}
}

static void
test_refuses_host_count(void **state)
{
	struct run	 r;

	(void)state;
	bad_req(S("GET / HTTP/1.1\r\n\r\n"), "HTTP/1.1 request without Host");
	bad_req(S("GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
	    "more than one Host");
	bad_req(S("GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n"),
	    "more than one Host");
	run(CM_HTTP_REQUEST, HTTP_GET, S("GET / HTTP/1.0\r\n\r\n"), 1 << 20,
	    64, &r);
	assert_int_equal(r.rc, 1);
	assert_int_equal(cm_http_msg_version(r.msg), 10);
	run_free(&r);
}

static void
test_refuses_userinfo(void **state)
{
	(void)state;
	bad_req(S("GET / HTTP/1.1\r\nHost: user@h\r\n\r\n"),
	    "userinfo in Host");
	bad_req(S("GET / HTTP/1.1\r\nHost: h/x\r\n\r\n"), "malformed Host");
	bad_req(S("GET http://u:p@h/ HTTP/1.1\r\nHost: h\r\n\r\n"),
	    "userinfo in the request-target");
	bad_req(S("CONNECT u@h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n"),
	    "userinfo in the request-target");
}

/* ---- limits (§17) ----------------------------------------------------- */

/* "GET /aaa... HTTP/1.1" of exactly line bytes, then a Host and the end. */
static char *
long_line(size_t line, size_t *len)
{
	static const char	 tail[] = " HTTP/1.1\r\nHost: h\r\n\r\n";
	char			*s = malloc(line + sizeof(tail));

	memcpy(s, "GET /", 5);
	memset(s + 5, 'a', line - 5 - 9);
	memcpy(s + line - 9, tail, sizeof(tail));
	*len = line - 9 + sizeof(tail) - 1;
	return (s);
}

static void
test_limit_request_line_414(void **state)
{
	struct cm_http_parser	*p;
	struct evbuffer		*in = evbuffer_new();
	const char		*why, *reason;
	struct run		 r;
	char			*line;
	size_t			 i, len, n = CM_DEF_REQUEST_LINE_BYTES;
	int			 rc = 0;

	(void)state;
	/* A request line that never ends is refused right at the limit. */
	p = cm_http_parser_new(CM_HTTP_REQUEST, NULL);
	evbuffer_add(in, "GET /", 5);
	for (i = 0; i < n + 100 && rc == 0; i++) {
		rc = cm_http_head_read(p, in, &why);
		if (rc == 0)
			evbuffer_add(in, "a", 1);
	}
	assert_int_equal(rc, -1);
	assert_int_equal(evbuffer_get_length(in), n + 1);
	assert_string_equal(why, "request line too long");
	assert_int_equal(cm_http_parser_error(p, &reason), 414);
	assert_string_equal(reason, "uri_too_long");
	cm_http_parser_free(p);
	evbuffer_free(in);

	/* Exactly at the limit passes; one more byte does not. */
	line = long_line(n, &len);
	run(CM_HTTP_REQUEST, HTTP_GET, line, len, 1 << 20, 64, &r);
	assert_int_equal(r.rc, 1);
	run_free(&r);
	free(line);
	line = long_line(n + 1, &len);
	refused(CM_HTTP_REQUEST, line, len, 414, "uri_too_long",
	    "request line too long");
	free(line);
}

static void
test_limit_head_bytes_431(void **state)
{
	struct cm_http_limits	 lim = { 0, 256, 0 };
	struct cm_http_parser	*p;
	struct evbuffer		*in = evbuffer_new();
	const char		*why, *reason;
	size_t			 i;
	int			 rc = 0;

	(void)state;
	/* A head that never ends: refused once past the limit, not later. */
	p = cm_http_parser_new(CM_HTTP_REQUEST, &lim);
	evbuffer_add(in, S("GET / HTTP/1.1\r\nHost: h\r\nX: "));
	for (i = 0; i < 1000 && rc == 0; i++) {
		rc = cm_http_head_read(p, in, &why);
		if (rc == 0)
			evbuffer_add(in, "v", 1);
	}
	assert_int_equal(rc, -1);
	assert_int_equal(evbuffer_get_length(in), 257);
	assert_string_equal(why, "head too large");
	assert_int_equal(cm_http_parser_error(p, &reason), 431);
	assert_string_equal(reason, "headers_too_large");
	/* Refusals are sticky. */
	cm_http_parser_reset(p);
	assert_int_equal(cm_http_head_read(p, in, &why), -1);
	cm_http_parser_free(p);
	evbuffer_free(in);

	/* Default limit, whole head too large at once. */
	{
		size_t	 n = CM_DEF_HEADER_BYTES + 64;
		char	*big = malloc(n);

		memset(big, 'v', n);
		memcpy(big, "GET / HTTP/1.1\r\nHost: h\r\nX: ", 28);
		memcpy(big + n - 4, "\r\n\r\n", 4);
		refused(CM_HTTP_REQUEST, big, n, 431, "headers_too_large",
		    "head too large");
		free(big);
	}
}

static void
test_limit_header_count_431(void **state)
{
	char	*req;
	size_t	 len = 0, i;

	(void)state;
	req = malloc(64 * 1024);
	len += (size_t)sprintf(req, "GET / HTTP/1.1\r\nHost: h\r\n");
	for (i = 1; i < CM_DEF_HEADER_COUNT; i++)
		len += (size_t)sprintf(req + len, "X-%zu: v\r\n", i);
	memcpy(req + len, "\r\n", 2);
	{
		struct run	 r;

		run(CM_HTTP_REQUEST, HTTP_GET, req, len + 2, 1 << 20, 64, &r);
		assert_int_equal(r.rc, 1);
		assert_int_equal(cm_http_fields_len(cm_http_msg_fields(r.msg)),
		    CM_DEF_HEADER_COUNT);
		run_free(&r);
	}
	len += (size_t)sprintf(req + len, "X-last: v\r\n\r\n");
	refused(CM_HTTP_REQUEST, req, len, 431, "headers_too_large",
	    "too many header fields");
	free(req);
}

static void
test_limits_are_clamped(void **state)
{
	struct cm_http_limits	 lim = { SIZE_MAX, SIZE_MAX, SIZE_MAX };
	struct cm_http_limits	 def;
	struct cm_http_parser	*p;

	(void)state;
	cm_http_limits_default(&def);
	assert_int_equal(def.request_line_bytes, CM_DEF_REQUEST_LINE_BYTES);
	assert_int_equal(def.header_bytes, CM_DEF_HEADER_BYTES);
	assert_int_equal(def.header_count, CM_DEF_HEADER_COUNT);
	p = cm_http_parser_new(CM_HTTP_REQUEST, &lim);
	assert_non_null(p);
	cm_http_parser_free(p);
}

/* ---- bodies ----------------------------------------------------------- */

static void
test_length_body_respects_budget(void **state)
{
	struct cm_http_parser	*p;
	struct evbuffer		*in = evbuffer_new(), *out = evbuffer_new();
	const char		*why;

	(void)state;
	p = cm_http_parser_new(CM_HTTP_REQUEST, NULL);
	evbuffer_add(in, S("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 10"
	    "\r\n\r\n0123456789GET"));
	assert_int_equal(cm_http_head_read(p, in, &why), 1);
	assert_int_equal(cm_http_body_read(p, in, out, 4, &why), 0);
	assert_int_equal(evbuffer_get_length(out), 4);
	assert_int_equal(cm_http_body_read(p, in, out, 0, &why), 0);
	assert_int_equal(evbuffer_get_length(out), 4);
	assert_int_equal(cm_http_body_read(p, in, out, 4, &why), 0);
	assert_int_equal(cm_http_body_read(p, in, out, 4, &why), 1);
	assert_buf(out, S("0123456789"));
	assert_buf(in, S("GET"));
	cm_http_parser_free(p);
	evbuffer_free(in);
	evbuffer_free(out);
}

static void
test_chunked_split_anywhere(void **state)
{
	static const char	 req[] = "POST / HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "5;ext=1\r\nhello\r\n1\r\n \r\nA;a=\"q s\"\r\nworld12345\r\n"
	    "0\r\nX-Sum: abc\r\nX-Two: 2 \r\n\r\nNEXT";
	size_t			 step, budget;
	struct run		 r;

	(void)state;
	for (step = 1; step <= 13; step++) {
		for (budget = 1; budget <= 64; budget += 9) {
			run(CM_HTTP_REQUEST, HTTP_GET, req, sizeof(req) - 1,
			    step, budget, &r);
			assert_int_equal(r.rc, 1);
			assert_buf(r.body, S("hello world12345"));
			assert_string_equal(r.trailers, "X-Sum=abc;X-Two=2;");
			assert_buf(r.rest, S("NEXT"));
			run_free(&r);
		}
	}
}

static void
test_chunked_budget_bounds_output(void **state)
{
	struct cm_http_parser	*p;
	struct evbuffer		*in = evbuffer_new(), *out = evbuffer_new();
	const char		*why;
	size_t			 before;
	int			 rc, calls = 0;

	(void)state;
	p = cm_http_parser_new(CM_HTTP_REQUEST, NULL);
	evbuffer_add(in, S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: "
	    "chunked\r\n\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"));
	assert_int_equal(cm_http_head_read(p, in, &why), 1);
	do {
		before = evbuffer_get_length(out);
		rc = cm_http_body_read(p, in, out, 3, &why);
		assert_true(evbuffer_get_length(out) - before <= 3);
		calls++;
	} while (rc == 0);
	assert_int_equal(rc, 1);
	assert_true(calls > 5);
	assert_buf(out, S("0123456789abcdef"));
	assert_int_equal(cm_http_parser_body_bytes(p), 16);
	assert_null(cm_http_parser_trailers(p));
	cm_http_parser_free(p);
	evbuffer_free(in);
	evbuffer_free(out);
}

static void
test_refuses_bad_trailers(void **state)
{
	(void)state;
	bad_req(S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n0\r\nX: a\r\n b\r\n\r\n"),
	    "obs-fold (field line starting with whitespace)");
	bad_req(S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n0\r\nX: a\n\r\n"), "bare LF line ending");
	bad_req(S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n0\r\n\n"), "bare LF line ending");
	bad_req(S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n0\r\nX : a\r\n\r\n"),
	    "whitespace between field name and colon");
	bad_req(S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n0\r\nContent-Length: 5\r\n\r\n"),
	    "framing or routing field in chunked trailers");
	bad_req(S("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n0\r\nX: \x01\r\n\r\n"),
	    "control character in a field value");
}

static void
test_limit_trailers_431(void **state)
{
	char	*req;
	size_t	 len, i;

	(void)state;
	req = malloc(8192);
	len = (size_t)sprintf(req, "POST / HTTP/1.1\r\nHost: h\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n0\r\n");
	for (i = 0; i <= CM_DEF_HEADER_COUNT; i++)
		len += (size_t)sprintf(req + len, "T%zu: v\r\n", i);
	len += (size_t)sprintf(req + len, "\r\n");
	refused(CM_HTTP_REQUEST, req, len, 431, "headers_too_large",
	    "too many trailer fields");
	free(req);
}

/* ---- responses ------------------------------------------------------- */

static void
response(enum llhttp_method req, const char *s, size_t len,
    enum cm_http_framing framing, int tunnel, const char *body,
    const char *rest)
{
	struct run	 r;

	run(CM_HTTP_RESPONSE, req, s, len, 1, 1 << 20, &r);
	if (r.rc != 1)
		fail_msg("rc %d (%s): %.*s", r.rc, r.why, (int)len, s);
	assert_int_equal(cm_http_msg_framing(r.msg, NULL), framing);
	assert_int_equal(cm_http_msg_tunnel(r.msg), tunnel);
	assert_buf(r.body, body, strlen(body));
	assert_buf(r.rest, rest, strlen(rest));
	run_free(&r);
}

static void
test_response_framing(void **state)
{
	(void)state;
	response(HTTP_GET, S("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n"
	    "hiHTTP"), CM_HTTP_FRAMING_LENGTH, 0, "hi", "HTTP");
	response(HTTP_GET, S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n2\r\nhi\r\n0\r\n\r\nHTTP"), CM_HTTP_FRAMING_CHUNKED, 0,
	    "hi", "HTTP");
	response(HTTP_GET, S("HTTP/1.1 204 No Content\r\n\r\nHTTP"),
	    CM_HTTP_FRAMING_NONE, 0, "", "HTTP");
	response(HTTP_GET, S("HTTP/1.1 304 Not Modified\r\nContent-Length: "
	    "10\r\n\r\nHTTP"), CM_HTTP_FRAMING_NONE, 0, "", "HTTP");
	response(HTTP_HEAD, S("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"
	    "HTTP"), CM_HTTP_FRAMING_NONE, 0, "", "HTTP");
	response(HTTP_HEAD, S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked"
	    "\r\n\r\nHTTP"), CM_HTTP_FRAMING_NONE, 0, "", "HTTP");
	response(HTTP_GET, S("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK"),
	    CM_HTTP_FRAMING_NONE, 0, "", "HTTP/1.1 200 OK");
	response(HTTP_CONNECT, S("HTTP/1.1 200 Connection established\r\n"
	    "Content-Length: 99\r\n\r\n\x16\x03"), CM_HTTP_FRAMING_NONE, 1, "",
	    "\x16\x03");
	response(HTTP_CONNECT, S("HTTP/1.1 403 Forbidden\r\nContent-Length: "
	    "2\r\n\r\nnoX"), CM_HTTP_FRAMING_LENGTH, 0, "no", "X");
	response(HTTP_GET, S("HTTP/1.1 101 Switching Protocols\r\nUpgrade: "
	    "websocket\r\nConnection: Upgrade\r\n\r\n\x81\x05"),
	    CM_HTTP_FRAMING_NONE, 1, "", "\x81\x05");
	response(HTTP_GET, S("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n"),
	    CM_HTTP_FRAMING_LENGTH, 0, "", "");
}

static void
test_response_until_close(void **state)
{
	struct cm_http_parser	*p;
	struct cm_http_msg	*m;
	struct evbuffer		*in = evbuffer_new(), *out = evbuffer_new();
	const char		*why;

	(void)state;
	p = cm_http_parser_new(CM_HTTP_RESPONSE, NULL);
	evbuffer_add(in, S("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "\r\nsome"));
	assert_int_equal(cm_http_head_read(p, in, &why), 1);
	m = cm_http_parser_msg(p);
	assert_int_equal(cm_http_msg_status(m), 200);
	assert_string_equal(cm_http_msg_reason(m), "OK");
	assert_int_equal(cm_http_msg_framing(m, NULL), CM_HTTP_FRAMING_CLOSE);
	assert_int_equal(cm_http_msg_keep_alive(m), 0);
	assert_int_equal(cm_http_body_read(p, in, out, 2, &why), 0);
	assert_int_equal(cm_http_body_read(p, in, out, 64, &why), 0);
	evbuffer_add(in, S(" more"));
	assert_int_equal(cm_http_body_read(p, in, out, 64, &why), 0);
	assert_int_equal(cm_http_parser_eof(p, &why), 1);
	assert_int_equal(cm_http_body_read(p, in, out, 64, &why), 1);
	assert_buf(out, S("some more"));
	cm_http_parser_free(p);
	evbuffer_free(in);
	evbuffer_free(out);
}

static void
test_response_status_line(void **state)
{
	struct run	 r;

	(void)state;
	run(CM_HTTP_RESPONSE, HTTP_GET, S("HTTP/1.1 404\r\nContent-Length: 0"
	    "\r\n\r\n"), 1, 64, &r);
	assert_int_equal(r.rc, 1);
	assert_int_equal(cm_http_msg_status(r.msg), 404);
	assert_string_equal(cm_http_msg_reason(r.msg), "");
	run_free(&r);
	refused(CM_HTTP_RESPONSE, S("HTTP/1.1 999 X\r\n\r\n"), 502,
	    "upstream_protocol_error", "status code out of range");
	refused(CM_HTTP_RESPONSE, S("HTTP/1.1 099 X\r\n\r\n"), 502,
	    "upstream_protocol_error", "status code out of range");
	refused(CM_HTTP_RESPONSE, S("HTTP/1.1 20 X\r\n\r\n"), 502,
	    "upstream_protocol_error", "malformed status line");
	refused(CM_HTTP_RESPONSE, S("HTTP/1.1 200 O\x01K\r\n\r\n"), 502,
	    "upstream_protocol_error",
	    "control character in the reason phrase");
	refused(CM_HTTP_RESPONSE, S("\r\nHTTP/1.1 200 OK\r\n\r\n"), 502,
	    "upstream_protocol_error", "malformed status line");
}

static void
test_eof_states(void **state)
{
	struct cm_http_parser	*p;
	struct evbuffer		*in = evbuffer_new(), *out = evbuffer_new();
	const char		*why;

	(void)state;
	p = cm_http_parser_new(CM_HTTP_RESPONSE, NULL);
	assert_int_equal(cm_http_parser_eof(p, &why), 0);
	evbuffer_add(in, S("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab"));
	assert_int_equal(cm_http_head_read(p, in, &why), 1);
	assert_int_equal(cm_http_body_read(p, in, out, 64, &why), 0);
	assert_int_equal(cm_http_parser_eof(p, &why), -1);
	assert_string_equal(why, "connection closed inside the body");
	assert_int_equal(cm_http_parser_error(p, NULL), 502);
	/* A refusal after the head keeps the message for the logs. */
	assert_non_null(cm_http_parser_msg(p));
	cm_http_parser_free(p);

	p = cm_http_parser_new(CM_HTTP_REQUEST, NULL);
	evbuffer_drain(in, evbuffer_get_length(in));
	evbuffer_add(in, S("GET / HT"));
	assert_int_equal(cm_http_head_read(p, in, &why), 0);
	assert_int_equal(cm_http_parser_eof(p, &why), -1);
	assert_string_equal(why, "connection closed inside the head");
	assert_int_equal(cm_http_parser_error(p, NULL), 400);
	cm_http_parser_free(p);
	evbuffer_free(in);
	evbuffer_free(out);
}

/* ---- CONNECT, Upgrade, keep-alive, Expect ---------------------------- */

static void
test_connect_leaves_tunnel_bytes(void **state)
{
	struct cm_http_parser	*p;
	struct cm_http_msg	*m;
	struct evbuffer		*in = evbuffer_new(), *out = evbuffer_new();
	const char		*why;

	(void)state;
	p = cm_http_parser_new(CM_HTTP_REQUEST, NULL);
	evbuffer_add(in, S("CONNECT api.test:443 HTTP/1.1\r\nHost: api.test:443"
	    "\r\nContent-Length: 0\r\n\r\n\x16\x03\x01\x02\x00GET / HTTP/1.1"));
	assert_int_equal(cm_http_head_read(p, in, &why), 1);
	m = cm_http_parser_msg(p);
	assert_int_equal(cm_http_msg_is_connect(m), 1);
	assert_int_equal(cm_http_msg_tunnel(m), 1);
	assert_int_equal(cm_http_msg_keep_alive(m), 0);
	assert_string_equal(cm_http_msg_target(m), "api.test:443");
	assert_int_equal(cm_http_body_read(p, in, out, 64, &why), 1);
	assert_int_equal(evbuffer_get_length(out), 0);
	assert_buf(in, S("\x16\x03\x01\x02\x00GET / HTTP/1.1"));
	cm_http_parser_free(p);
	evbuffer_free(in);
	evbuffer_free(out);
}

static void
test_upgrade_requests(void **state)
{
	struct run	 r;

	(void)state;
	run(CM_HTTP_REQUEST, HTTP_GET, S("GET /ws HTTP/1.1\r\nHost: h\r\n"
	    "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n"
	    "\x81"), 1, 64, &r);
	assert_int_equal(r.rc, 1);
	assert_string_equal(cm_http_msg_upgrade(r.msg), "websocket");
	assert_int_equal(cm_http_msg_tunnel(r.msg), 0);
	assert_buf(r.rest, S("\x81"));
	run_free(&r);
	/* Upgrade without the Connection token is no upgrade. */
	run(CM_HTTP_REQUEST, HTTP_GET, S("GET / HTTP/1.1\r\nHost: h\r\n"
	    "Upgrade: h2c\r\n\r\n"), 1 << 20, 64, &r);
	assert_null(cm_http_msg_upgrade(r.msg));
	run_free(&r);
	/* An upgrade request with a body: the body is still HTTP. */
	run(CM_HTTP_REQUEST, HTTP_GET, S("POST / HTTP/1.1\r\nHost: h\r\n"
	    "Upgrade: h2c\r\nConnection: upgrade\r\nContent-Length: 2\r\n\r\n"
	    "abXY"), 1 << 20, 64, &r);
	assert_int_equal(r.rc, 1);
	assert_string_equal(cm_http_msg_upgrade(r.msg), "h2c");
	assert_buf(r.body, S("ab"));
	assert_buf(r.rest, S("XY"));
	run_free(&r);
	run(CM_HTTP_REQUEST, HTTP_GET, S("POST / HTTP/1.1\r\nHost: h\r\n"
	    "Upgrade: websocket\r\nConnection: upgrade\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\nXY"), 3, 2,
	    &r);
	assert_int_equal(r.rc, 1);
	assert_string_equal(cm_http_msg_upgrade(r.msg), "websocket");
	assert_buf(r.body, S("ab"));
	assert_buf(r.rest, S("XY"));
	run_free(&r);
}

static void
test_keep_alive_rules(void **state)
{
	static const struct {
		const char	*req;
		int		 keep;
	} t[] = {
		{ "GET / HTTP/1.1\r\nHost: h\r\n\r\n", 1 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n", 0 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: x, CLOSE\r\n\r\n",
		    0 },
		{ "GET / HTTP/1.1\r\nHost: h\r\nConnection: closed\r\n\r\n",
		    1 },
		{ "GET / HTTP/1.0\r\n\r\n", 0 },
		{ "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", 1 },
		{ "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: "
		    "close\r\n\r\n", 0 },
	};
	struct run	 r;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		run(CM_HTTP_REQUEST, HTTP_GET, t[i].req, strlen(t[i].req),
		    1 << 20, 64, &r);
		assert_int_equal(r.rc, 1);
		assert_int_equal(cm_http_msg_keep_alive(r.msg), t[i].keep);
		run_free(&r);
	}
}

static void
test_expect(void **state)
{
	static const struct {
		const char		*req;
		enum cm_http_expect	 want;
	} t[] = {
		{ "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-Continue\r\n"
		    "Content-Length: 0\r\n\r\n", CM_HTTP_EXPECT_CONTINUE },
		{ "POST / HTTP/1.1\r\nHost: h\r\nExpect: x\r\n\r\n",
		    CM_HTTP_EXPECT_OTHER },
		{ "POST / HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\n"
		    "Expect: 100-continue\r\n\r\n", CM_HTTP_EXPECT_OTHER },
		{ "POST / HTTP/1.1\r\nHost: h\r\n\r\n", CM_HTTP_EXPECT_NONE },
	};
	struct run	 r;
	size_t		 i;

	(void)state;
	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		run(CM_HTTP_REQUEST, HTTP_GET, t[i].req, strlen(t[i].req),
		    1 << 20, 64, &r);
		assert_int_equal(r.rc, 1);
		assert_int_equal(cm_http_msg_expect(r.msg), t[i].want);
		run_free(&r);
	}
}

/* ---- fields ----------------------------------------------------------- */

static void
test_fields_helpers(void **state)
{
	struct cm_http_fields	*f = cm_http_fields_new();
	char			*j;

	(void)state;
	assert_int_equal(cm_http_fields_add(f, "Accept", "a"), 0);
	assert_int_equal(cm_http_fields_add(f, "X-Keep", " kept\t"), 0);
	assert_int_equal(cm_http_fields_add(f, "accept", "b, c"), 0);
	assert_int_equal(cm_http_fields_add(f, "Connection", "Keep-Alive, "
	    "X-Hop"), 0);
	assert_string_equal(cm_http_fields_get(f, "ACCEPT"), "a");
	assert_string_equal(cm_http_fields_get(f, "x-keep"), "kept");
	assert_null(cm_http_fields_get(f, "missing"));
	assert_int_equal(cm_http_fields_count(f, "Accept"), 2);
	j = cm_http_fields_join(f, "accept");
	assert_string_equal(j, "a, b, c");
	free(j);
	assert_null(cm_http_fields_join(f, "missing"));
	assert_int_equal(cm_http_fields_has_token(f, "connection", "x-hop"),
	    1);
	assert_int_equal(cm_http_fields_has_token(f, "connection", "keep"), 0);
	assert_int_equal(cm_http_fields_has_token(f, "accept", "c"), 1);

	/* Nothing that could split a message gets in. */
	assert_int_equal(cm_http_fields_add(f, "X", "a\r\nEvil: 1"), -1);
	assert_int_equal(cm_http_fields_add(f, "X", "a\nb"), -1);
	assert_int_equal(cm_http_fields_add(f, "X Y", "v"), -1);
	assert_int_equal(cm_http_fields_add(f, "", "v"), -1);
	assert_int_equal(cm_http_fields_add(f, "X:", "v"), -1);
	assert_int_equal(cm_http_fields_set(f, "X", "\x7f"), -1);
	assert_int_equal(cm_http_fields_len(f), 4);

	/* set keeps the first position and drops the rest. */
	assert_int_equal(cm_http_fields_set(f, "ACCEPT", "z"), 0);
	assert_int_equal(cm_http_fields_len(f), 3);
	assert_string_equal(cm_http_fields_name(f, 0), "ACCEPT");
	assert_string_equal(cm_http_fields_value(f, 0), "z");
	assert_int_equal(cm_http_fields_set(f, "New", "n"), 0);
	assert_string_equal(cm_http_fields_name(f, 3), "New");
	assert_int_equal(cm_http_fields_remove(f, "x-keep"), 1);
	assert_int_equal(cm_http_fields_remove(f, "x-keep"), 0);
	cm_http_fields_remove_at(f, 0);
	assert_string_equal(cm_http_fields_name(f, 0), "Connection");
	cm_http_fields_remove_at(f, 9);
	assert_int_equal(cm_http_fields_len(f), 2);
	assert_null(cm_http_fields_name(f, 2));
	cm_http_fields_free(f);
	cm_http_fields_free(NULL);
}

/* ---- writing ---------------------------------------------------------- */

static void
test_writes_request_exactly(void **state)
{
	static const char	 want[] = "POST /p?q HTTP/1.1\r\n"
	    "Host: origin.test\r\nAccept: */*\r\nX-Case: v a\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n";
	struct run		 r;
	struct cm_http_fields	*f;
	struct evbuffer		*out = evbuffer_new();
	const char		*why;

	(void)state;
	run(CM_HTTP_REQUEST, HTTP_GET, S("POST http://origin.test/p?q "
	    "HTTP/1.1\r\nAccept: */*\r\nHost: origin.test\r\n"
	    "X-Case:   v a  \r\n"
	    "Connection: x-hop\r\nX-Hop: 1\r\nContent-Length: 3\r\n\r\nabc"),
	    1 << 20, 64, &r);
	assert_int_equal(r.rc, 1);
	f = cm_http_msg_fields(r.msg);
	cm_http_fields_remove(f, "x-hop");
	cm_http_fields_remove(f, "connection");
	assert_int_equal(cm_http_write_request(out,
	    cm_http_msg_method_name(r.msg), "/p?q", "origin.test", f,
	    CM_HTTP_FRAMING_CHUNKED, 0, &why), 0);
	assert_buf(out, want, sizeof(want) - 1);
	evbuffer_drain(out, evbuffer_get_length(out));
	assert_int_equal(cm_http_write_request(out, "GET", "/", NULL, NULL,
	    CM_HTTP_FRAMING_LENGTH, 12, &why), 0);
	assert_buf(out, S("GET / HTTP/1.1\r\nContent-Length: 12\r\n\r\n"));
	run_free(&r);
	evbuffer_free(out);
}

static void
test_write_refuses_splitting(void **state)
{
	struct evbuffer	*out = evbuffer_new();
	const char	*why;

	(void)state;
	assert_int_equal(cm_http_write_request(out, "GET", "/a b", NULL, NULL,
	    CM_HTTP_FRAMING_NONE, 0, &why), -1);
	assert_string_equal(why,
	    "request-target has bytes a strict parser refuses");
	assert_int_equal(cm_http_write_request(out, "GET", "/\r\nX: y", NULL,
	    NULL, CM_HTTP_FRAMING_NONE, 0, &why), -1);
	assert_int_equal(cm_http_write_request(out, "G T", "/", NULL, NULL,
	    CM_HTTP_FRAMING_NONE, 0, &why), -1);
	assert_string_equal(why, "method is not a token");
	assert_int_equal(cm_http_write_request(out, "GET", "/", "h\r\nX: y",
	    NULL, CM_HTTP_FRAMING_NONE, 0, &why), -1);
	assert_string_equal(why, "Host is not an authority");
	assert_int_equal(cm_http_write_response(out, 200, "OK\r\nX: y", NULL,
	    CM_HTTP_FRAMING_NONE, 0, &why), -1);
	assert_string_equal(why, "reason phrase holds a control character");
	assert_int_equal(cm_http_write_response(out, 1000, NULL, NULL,
	    CM_HTTP_FRAMING_NONE, 0, &why), -1);
	assert_string_equal(why, "status code out of range");
	assert_int_equal(evbuffer_get_length(out), 0);
	evbuffer_free(out);
}

static void
test_writes_response_exactly(void **state)
{
	struct cm_http_fields	*f = cm_http_fields_new();
	struct evbuffer		*out = evbuffer_new();
	const char		*why;

	(void)state;
	cm_http_fields_add(f, "Content-Type", "text/plain; charset=utf-8");
	cm_http_fields_add(f, "Content-Length", "999");
	cm_http_fields_add(f, "X-Bb-Sidecar-Reason", "host_not_allowed");
	assert_int_equal(cm_http_write_response(out, 403, NULL, f,
	    CM_HTTP_FRAMING_LENGTH, 5, &why), 0);
	assert_buf(out, S("HTTP/1.1 403 Forbidden\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "X-Bb-Sidecar-Reason: host_not_allowed\r\n"
	    "Content-Length: 5\r\n\r\n"));
	evbuffer_drain(out, evbuffer_get_length(out));
	assert_int_equal(cm_http_write_response(out, 299, NULL, NULL,
	    CM_HTTP_FRAMING_CLOSE, 0, &why), 0);
	assert_buf(out, S("HTTP/1.1 299 \r\n\r\n"));
	evbuffer_drain(out, evbuffer_get_length(out));
	assert_int_equal(cm_http_write_response(out, 200, "Connection "
	    "established", NULL, CM_HTTP_FRAMING_NONE, 0, &why), 0);
	assert_buf(out, S("HTTP/1.1 200 Connection established\r\n\r\n"));
	cm_http_fields_free(f);
	evbuffer_free(out);
}

static void
test_chunk_encoder_round_trips(void **state)
{
	struct cm_http_fields	*t = cm_http_fields_new();
	struct evbuffer		*out = evbuffer_new(), *data = evbuffer_new();
	const char		*why;
	struct run		 r;
	char			*s;
	size_t			 n;

	(void)state;
	assert_int_equal(cm_http_write_response(out, 200, NULL, NULL,
	    CM_HTTP_FRAMING_CHUNKED, 0, &why), 0);
	evbuffer_add(data, S("0123456789abcdefXYZ"));
	assert_int_equal(cm_http_write_chunk(out, data), 0);
	assert_int_equal(evbuffer_get_length(data), 0);
	assert_int_equal(cm_http_write_chunk(out, data), 0);
	assert_int_equal(cm_http_write_chunk_bytes(out, "", 0), 0);
	assert_int_equal(cm_http_write_chunk_bytes(out, S("!")), 0);
	cm_http_fields_add(t, "X-Checksum", "42");
	cm_http_fields_add(t, "Content-Length", "1");
	assert_int_equal(cm_http_write_last_chunk(out, t), 0);
	s = body_str(out);
	assert_string_equal(s, "HTTP/1.1 200 OK\r\n"
	    "Transfer-Encoding: chunked\r\n\r\n"
	    "13\r\n0123456789abcdefXYZ\r\n1\r\n!\r\n0\r\n"
	    "X-Checksum: 42\r\n\r\n");
	n = strlen(s);
	run(CM_HTTP_RESPONSE, HTTP_GET, s, n, 3, 5, &r);
	assert_int_equal(r.rc, 1);
	assert_buf(r.body, S("0123456789abcdefXYZ!"));
	assert_string_equal(r.trailers, "X-Checksum=42;");
	run_free(&r);
	free(s);
	evbuffer_drain(out, evbuffer_get_length(out));
	assert_int_equal(cm_http_write_last_chunk(out, NULL), 0);
	assert_buf(out, S("0\r\n\r\n"));
	cm_http_fields_free(t);
	evbuffer_free(out);
	evbuffer_free(data);
}

static void
test_status_text(void **state)
{
	(void)state;
	assert_string_equal(cm_http_status_text(200), "OK");
	assert_string_equal(cm_http_status_text(414), "URI Too Long");
	assert_string_equal(cm_http_status_text(431),
	    "Request Header Fields Too Large");
	assert_string_equal(cm_http_status_text(505),
	    "HTTP Version Not Supported");
	assert_null(cm_http_status_text(299));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parses_request_head),
		cmocka_unit_test(test_head_byte_at_a_time),
		cmocka_unit_test(test_pipelined_requests),
		cmocka_unit_test(test_one_leading_empty_line_ignored),
		cmocka_unit_test(test_take_outlives_reset),
		cmocka_unit_test(test_refuses_cl_with_te),
		cmocka_unit_test(test_refuses_two_content_lengths),
		cmocka_unit_test(test_refuses_non_digit_content_length),
		cmocka_unit_test(test_refuses_te_other_than_chunked),
		cmocka_unit_test(test_chunked_te_is_case_insensitive),
		cmocka_unit_test(test_refuses_bad_chunk_syntax),
		cmocka_unit_test(test_refuses_junk_around_chunks),
		cmocka_unit_test(test_refuses_long_chunk_extensions),
		cmocka_unit_test(test_refuses_connect_with_body),
		cmocka_unit_test(test_refuses_obs_fold),
		cmocka_unit_test(test_refuses_bare_lf),
		cmocka_unit_test(test_refuses_bare_cr),
		cmocka_unit_test(test_refuses_whitespace_before_colon),
		cmocka_unit_test(test_refuses_bad_field_names),
		cmocka_unit_test(test_refuses_ctl_in_values),
		cmocka_unit_test(test_allows_obs_text_and_htab_in_values),
		cmocka_unit_test(test_refuses_malformed_request_line),
		cmocka_unit_test(test_refuses_http_version),
		cmocka_unit_test(test_refuses_unknown_methods),
		cmocka_unit_test(test_refuses_bad_target_bytes),
		cmocka_unit_test(test_refuses_target_form),
		cmocka_unit_test(test_accepts_target_forms),
		cmocka_unit_test(test_refuses_host_count),
		cmocka_unit_test(test_refuses_userinfo),
		cmocka_unit_test(test_limit_request_line_414),
		cmocka_unit_test(test_limit_head_bytes_431),
		cmocka_unit_test(test_limit_header_count_431),
		cmocka_unit_test(test_limits_are_clamped),
		cmocka_unit_test(test_length_body_respects_budget),
		cmocka_unit_test(test_chunked_split_anywhere),
		cmocka_unit_test(test_chunked_budget_bounds_output),
		cmocka_unit_test(test_refuses_bad_trailers),
		cmocka_unit_test(test_limit_trailers_431),
		cmocka_unit_test(test_response_framing),
		cmocka_unit_test(test_response_until_close),
		cmocka_unit_test(test_response_status_line),
		cmocka_unit_test(test_eof_states),
		cmocka_unit_test(test_connect_leaves_tunnel_bytes),
		cmocka_unit_test(test_upgrade_requests),
		cmocka_unit_test(test_keep_alive_rules),
		cmocka_unit_test(test_expect),
		cmocka_unit_test(test_fields_helpers),
		cmocka_unit_test(test_writes_request_exactly),
		cmocka_unit_test(test_write_refuses_splitting),
		cmocka_unit_test(test_writes_response_exactly),
		cmocka_unit_test(test_chunk_encoder_round_trips),
		cmocka_unit_test(test_status_text),
	};
	return (cmocka_run_group_tests_name("http", tests, NULL, NULL));
}
