/* egress/ws.c: RFC 6455 frames parsed (every split) and built. */
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
#include "egress/ws.h"

/*
 * Callbacks as text: frames "F<op><fin>(<len>)", their payload "{...}",
 * messages "M<op>:...;", streamed messages "S<op>[...]" (pieces joined,
 * so the text does not depend on how the input was cut), controls
 * "C<op>:...;".  Payload bytes are printed as they are.
 */
struct rec {
	char	 s[1 << 18];
	size_t	 n;
	int	 pause_on;	/* 'M', 'C', 'F': pause after those */
	int	 fail_on;
	int	 in_stream;
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

static void
rec_fmt(struct rec *r, const char *fmt, ...)
{
	char	 b[128];
	va_list	 ap;

	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	rec_add(r, b, strlen(b));
}

static int
rec_ret(struct rec *r, int what)
{
	if (r->fail_on == what)
		return (-1);
	return (r->pause_on == what);
}

static int
rec_frame(void *arg, const struct eg_ws_frame *f)
{
	struct rec	*r = arg;

	rec_fmt(r, "F%x%d(%llu)%s", f->opcode, f->fin,
	    (unsigned long long)f->len, f->first ? "^" : "");
	assert_int_equal(f->off, 0);
	return (rec_ret(r, 'F'));
}

static int
rec_payload(void *arg, const struct eg_ws_frame *f, const void *buf,
    size_t len)
{
	struct rec	*r = arg;

	assert_true(f->off + len <= f->len);
	rec_add(r, buf, len);
	return (0);
}

static int
rec_message(void *arg, int op, const void *buf, size_t len)
{
	struct rec	*r = arg;

	rec_fmt(r, "M%x:", op);
	rec_add(r, buf, len);
	rec_add(r, ";", 1);
	return (rec_ret(r, 'M'));
}

static int
rec_stream(void *arg, int op, const void *buf, size_t len, int first,
    int fin)
{
	struct rec	*r = arg;

	assert_int_equal(!!first, !r->in_stream);
	if (first)
		rec_fmt(r, "S%x[", op);
	r->in_stream = !fin;
	rec_add(r, buf, len);
	if (fin)
		rec_add(r, "]", 1);
	return (rec_ret(r, 'S'));
}

static int
rec_control(void *arg, int op, const void *buf, size_t len)
{
	struct rec	*r = arg;

	rec_fmt(r, "C%x:", op);
	rec_add(r, buf, len);
	rec_add(r, ";", 1);
	return (rec_ret(r, 'C'));
}

/* Message-level callbacks only. */
static const struct eg_ws_cb msg_cb = {
	NULL, NULL, rec_message, rec_stream, rec_control
};
/* Everything. */
static const struct eg_ws_cb all_cb = {
	rec_frame, rec_payload, rec_message, rec_stream, rec_control
};

/*
 * Feeds wire in pieces of step bytes; returns the last read's rc, with
 * *code and *why after a failure.  A paused read is resumed at once.
 */
static int
run(enum eg_ws_role role, const struct eg_ws_cb *cb, size_t cap,
    uint64_t max_frame, const void *wire, size_t len, size_t step,
    struct rec *r, int *code, const char **why)
{
	struct eg_ws_limits	 lim = { max_frame, cap };
	struct eg_ws		*ws = eg_ws_new(role, &lim, cb, r);
	struct evbuffer		*in = evbuffer_new();
	const unsigned char	*p = wire;
	size_t			 off, n, before;
	int			 rc = 0;

	assert_non_null(ws);
	r->n = 0;
	r->s[0] = '\0';
	r->in_stream = 0;
	for (off = 0; off < len && rc == 0; off += n) {
		n = len - off < step ? len - off : step;
		evbuffer_add(in, p + off, n);
		do {
			before = evbuffer_get_length(in);
			rc = eg_ws_read(ws, in, why);
		} while (rc == 0 && evbuffer_get_length(in) > 0 &&
		    evbuffer_get_length(in) < before);
	}
	*code = eg_ws_close_code(ws);
	eg_ws_free(ws);
	evbuffer_free(in);
	return (rc);
}

static void
expect(enum eg_ws_role role, const struct eg_ws_cb *cb, size_t cap,
    const void *wire, size_t len, const char *want)
{
	static struct rec	 r;
	const char		*why = NULL;
	size_t			 step;
	int			 code;

	for (step = 1; step <= len; step += step < 40 ? 1 : 997) {
		if (run(role, cb, cap, 0, wire, len, step, &r, &code,
		    &why) != 0)
			fail_msg("step %zu: %s", step, why);
		if (strcmp(r.s, want) != 0)
			fail_msg("step %zu:\n got  %s\n want %s", step, r.s,
			    want);
	}
}

static void
expect_bad(enum eg_ws_role role, size_t cap, uint64_t max_frame,
    const void *wire, size_t len, int want_code, const char *want_why)
{
	static struct rec	 r;
	const char		*why = NULL;
	size_t			 step;
	int			 code;

	memset(&r, 0, sizeof(r));
	for (step = 1; step <= len; step++) {
		assert_int_equal(run(role, &msg_cb, cap, max_frame, wire, len,
		    step, &r, &code, &why), -1);
		assert_string_equal(why, want_why);
		assert_int_equal(code, want_code);
	}
}

static void
test_rfc_examples(void **state)
{
	/* RFC 6455 §5.7. */
	static const unsigned char masked[] = { 0x81, 0x85, 0x37, 0xfa,
	    0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };
	static const unsigned char plain[] = { 0x81, 0x05, 'H', 'e', 'l', 'l',
	    'o' };
	static const unsigned char frags[] = { 0x01, 0x03, 'H', 'e', 'l',
	    0x89, 0x05, 'H', 'e', 'l', 'l', 'o', 0x80, 0x02, 'l', 'o' };
	static const unsigned char pong[] = { 0x8a, 0x85, 0x37, 0xfa, 0x21,
	    0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58 };

	(void)state;
	expect(EG_WS_FROM_CLIENT, &all_cb, 100, masked, sizeof(masked),
	    "F11(5)^HelloM1:Hello;");
	expect(EG_WS_FROM_SERVER, &all_cb, 100, plain, sizeof(plain),
	    "F11(5)^HelloM1:Hello;");
	/* A ping between the fragments of a message. */
	expect(EG_WS_FROM_SERVER, &msg_cb, 100, frags, sizeof(frags),
	    "C9:Hello;M1:Hello;");
	expect(EG_WS_FROM_SERVER, &all_cb, 100, frags, sizeof(frags),
	    "F10(3)^HelF91(5)HelloC9:Hello;F01(2)loM1:Hello;");
	expect(EG_WS_FROM_CLIENT, &msg_cb, 100, pong, sizeof(pong),
	    "Ca:Hello;");
}

/* Builds frames with eg_ws_build() and parses them back. */
static void
test_lengths_roundtrip(void **state)
{
	static const size_t	 sizes[] = { 0, 125, 126, 65535, 65536,
	    200000 };
	static struct rec	 r;
	struct evbuffer		*w = evbuffer_new();
	unsigned char		*pay, *want;
	const char		*why = NULL;
	size_t			 i, n;
	int			 mask, code;

	(void)state;
	pay = malloc(200000);
	want = malloc(200000 + 16);
	for (i = 0; i < 200000; i++)
		pay[i] = (unsigned char)('a' + i % 26);
	for (mask = 0; mask <= 1; mask++)
		for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			evbuffer_drain(w, evbuffer_get_length(w));
			assert_int_equal(eg_ws_build(w, EG_WS_OP_BINARY, 1,
			    mask, pay, sizes[i], &why), 0);
			n = evbuffer_get_length(w);
			assert_int_equal(n, sizes[i] + (sizes[i] < 126 ? 2 :
			    sizes[i] < 65536 ? 4 : 10) + (mask ? 4 : 0));
			assert_int_equal(run(mask ? EG_WS_FROM_CLIENT :
			    EG_WS_FROM_SERVER, &msg_cb, 1 << 20, 0,
			    evbuffer_pullup(w, -1), n, 4096, &r, &code, &why),
			    0);
			memcpy(want, "M2:", 3);
			memcpy(want + 3, pay, sizes[i]);
			want[3 + sizes[i]] = ';';
			assert_int_equal(r.n, sizes[i] + 4);
			assert_memory_equal(r.s, want, r.n);
		}
	free(pay);
	free(want);
	evbuffer_free(w);
}

static void
test_fragment_builder(void **state)
{
	struct evbuffer	*w = evbuffer_new();
	const char	*why = NULL;

	(void)state;
	assert_int_equal(eg_ws_build_message(w, EG_WS_OP_TEXT, 0,
	    "0123456789", 10, 4, &why), 0);
	assert_int_equal(evbuffer_get_length(w), 3 * 2 + 10);
	expect(EG_WS_FROM_SERVER, &all_cb, 100, evbuffer_pullup(w, -1),
	    evbuffer_get_length(w),
	    "F10(4)^0123F00(4)4567F01(2)89M1:0123456789;");
	evbuffer_drain(w, evbuffer_get_length(w));
	/* Masked: each frame gets its own key. */
	assert_int_equal(eg_ws_build_message(w, EG_WS_OP_BINARY, 1,
	    "abcdefgh", 8, 4, &why), 0);
	expect(EG_WS_FROM_CLIENT, &msg_cb, 100, evbuffer_pullup(w, -1),
	    evbuffer_get_length(w), "M2:abcdefgh;");
	evbuffer_free(w);
}

static void
test_masks_are_fresh(void **state)
{
	struct evbuffer	*a = evbuffer_new(), *b = evbuffer_new();
	const char	*why = NULL;
	unsigned char	*pa, *pb;

	(void)state;
	assert_int_equal(eg_ws_build(a, EG_WS_OP_TEXT, 1, 1, "same", 4,
	    &why), 0);
	assert_int_equal(eg_ws_build(b, EG_WS_OP_TEXT, 1, 1, "same", 4,
	    &why), 0);
	pa = evbuffer_pullup(a, -1);
	pb = evbuffer_pullup(b, -1);
	assert_int_equal(pa[1], 0x84);
	/* Two keys collide once in 2^32 runs. */
	assert_memory_not_equal(pa + 2, pb + 2, 4);
	evbuffer_free(a);
	evbuffer_free(b);
}

static void
test_reassembly_cap(void **state)
{
	struct evbuffer	*w = evbuffer_new();
	const char	*why = NULL;

	(void)state;
	/* 4 + 4 fit a cap of 10; the third fragment would not. */
	assert_int_equal(eg_ws_build(w, EG_WS_OP_TEXT, 0, 0, "aaaa", 4, &why),
	    0);
	assert_int_equal(eg_ws_build(w, EG_WS_OP_PING, 1, 0, "p", 1, &why),
	    0);
	assert_int_equal(eg_ws_build(w, EG_WS_OP_CONT, 0, 0, "bbbb", 4, &why),
	    0);
	assert_int_equal(eg_ws_build(w, EG_WS_OP_CONT, 1, 0, "cccc", 4, &why),
	    0);
	/* A single frame over the cap streams from its first byte. */
	assert_int_equal(eg_ws_build(w, EG_WS_OP_BINARY, 1, 0, "0123456789X",
	    11, &why), 0);
	/* An empty final frame still ends a streamed message. */
	assert_int_equal(eg_ws_build(w, EG_WS_OP_TEXT, 0, 0, "0123456789X",
	    11, &why), 0);
	assert_int_equal(eg_ws_build(w, EG_WS_OP_CONT, 1, 0, NULL, 0, &why),
	    0);
	/* And a message that fits after them is whole again. */
	assert_int_equal(eg_ws_build(w, EG_WS_OP_TEXT, 1, 0, "fits", 4, &why),
	    0);
	expect(EG_WS_FROM_SERVER, &msg_cb, 10, evbuffer_pullup(w, -1),
	    evbuffer_get_length(w),
	    "C9:p;S1[aaaabbbbcccc]S2[0123456789X]S1[0123456789X]M1:fits;");
	/* No reassembly at all: everything streams. */
	expect(EG_WS_FROM_SERVER, &msg_cb, 0, evbuffer_pullup(w, -1),
	    evbuffer_get_length(w),
	    "S1[aaaaC9:p;bbbbcccc]S2[0123456789X]S1[0123456789X]S1[fits]");
	evbuffer_drain(w, evbuffer_get_length(w));
	/* Without a stream callback, too big is an error. */
	assert_int_equal(eg_ws_build(w, EG_WS_OP_TEXT, 1, 0, "0123456789X",
	    11, &why), 0);
	{
		static const struct eg_ws_cb	 only = { NULL, NULL,
		    rec_message, NULL, NULL };
		static struct rec		 r;
		int				 code;

		assert_int_equal(run(EG_WS_FROM_SERVER, &only, 10, 0,
		    evbuffer_pullup(w, -1), evbuffer_get_length(w), 100, &r,
		    &code, &why), -1);
		assert_string_equal(why, "message too big");
		assert_int_equal(code, EG_WS_CLOSE_TOO_BIG);
	}
	evbuffer_free(w);
}

static void
test_protocol_errors(void **state)
{
	/* A masked client frame header: FIN, opcode, mask, zero key. */
#define M(b0, len)	b0, 0x80 | (len), 0, 0, 0, 0
	static const unsigned char unmasked[] = { 0x81, 0x01, 'x' };
	static const unsigned char masked_srv[] = { M(0x81, 1), 'x' };
	static const unsigned char rsv[] = { M(0xc1, 1), 'x' };
	static const unsigned char rsv3[] = { M(0x91, 0) };
	static const unsigned char op3[] = { M(0x83, 0) };
	static const unsigned char opb[] = { M(0x8b, 0) };
	static const unsigned char frag_ping[] = { M(0x09, 0) };
	static const unsigned char long_ping[] = { 0x89, 0xfe, 0, 126, 0, 0,
	    0, 0 };
	static const unsigned char cont[] = { M(0x80, 0) };
	static const unsigned char nested[] = { M(0x01, 0), M(0x82, 0) };
	static const unsigned char top_bit[] = { 0x82, 0xff, 0x80, 0, 0, 0,
	    0, 0, 0, 1, 0, 0, 0, 0 };
	static const unsigned char big[] = { 0x82, 0xfe, 0x10, 0x00, 0, 0,
	    0, 0 };
	static const unsigned char close1[] = { M(0x88, 1), 3 };
	static const unsigned char close1005[] = { M(0x88, 2), 0x03, 0xed };
	static const unsigned char close999[] = { M(0x88, 2), 0x03, 0xe7 };
	static const unsigned char after_close[] = { M(0x88, 2), 0x03, 0xe8,
	    M(0x81, 0) };

	(void)state;
	expect_bad(EG_WS_FROM_CLIENT, 100, 0, unmasked, sizeof(unmasked),
	    1002, "unmasked frame from the client");
	expect_bad(EG_WS_FROM_SERVER, 100, 0, masked_srv, sizeof(masked_srv),
	    1002, "masked frame from the server");
	expect_bad(EG_WS_FROM_CLIENT, 100, 0, rsv, sizeof(rsv), 1002,
	    "RSV bits set without a negotiated extension");
	expect_bad(EG_WS_FROM_CLIENT, 100, 0, rsv3, sizeof(rsv3), 1002,
	    "RSV bits set without a negotiated extension");
	expect_bad(EG_WS_FROM_CLIENT, 100, 0, op3, sizeof(op3), 1002,
	    "frame with an unknown opcode");
	expect_bad(EG_WS_FROM_CLIENT, 100, 0, opb, sizeof(opb), 1002,
	    "frame with an unknown opcode");
	expect_bad(EG_WS_FROM_CLIENT, 100, 0, frag_ping, sizeof(frag_ping),
	    1002, "fragmented control frame");
	expect_bad(EG_WS_FROM_CLIENT, 100, 0, long_ping, sizeof(long_ping),
	    1002, "control frame longer than 125 bytes");
	expect_bad(EG_WS_FROM_CLIENT, 100, 0, cont, sizeof(cont), 1002,
	    "continuation frame without a message");
	expect_bad(EG_WS_FROM_CLIENT, 100, 0, nested, sizeof(nested), 1002,
	    "new message inside a fragmented one");
	expect_bad(EG_WS_FROM_CLIENT, 100, 0, top_bit, sizeof(top_bit), 1002,
	    "frame length with its top bit set");
	expect_bad(EG_WS_FROM_CLIENT, 100, 4095, big, sizeof(big), 1009,
	    "frame too big");
	expect_bad(EG_WS_FROM_CLIENT, 100, 0, close1, sizeof(close1), 1002,
	    "close frame with a one-byte payload");
	expect_bad(EG_WS_FROM_CLIENT, 100, 0, close1005, sizeof(close1005),
	    1002, "close frame with an invalid code");
	expect_bad(EG_WS_FROM_CLIENT, 100, 0, close999, sizeof(close999),
	    1002, "close frame with an invalid code");
	expect_bad(EG_WS_FROM_CLIENT, 100, 0, after_close, sizeof(after_close),
	    1002, "bytes after a close frame");
#undef M
}

static void
test_pause_and_stop(void **state)
{
	static struct rec	 r;
	struct eg_ws		*ws;
	struct evbuffer		*w = evbuffer_new();
	struct eg_ws_limits	 lim = { 0, 100 };
	const char		*why = NULL;
	size_t			 one;

	(void)state;
	assert_int_equal(eg_ws_build(w, EG_WS_OP_TEXT, 1, 1, "one", 3, &why),
	    0);
	one = evbuffer_get_length(w);
	assert_int_equal(eg_ws_build(w, EG_WS_OP_TEXT, 1, 1, "two", 3, &why),
	    0);
	memset(&r, 0, sizeof(r));
	r.pause_on = 'M';
	ws = eg_ws_new(EG_WS_FROM_CLIENT, &lim, &msg_cb, &r);
	/* A hold: the first message stops the read, the second waits. */
	assert_int_equal(eg_ws_read(ws, w, &why), 0);
	assert_string_equal(r.s, "M1:one;");
	assert_int_equal(evbuffer_get_length(w), one);
	assert_int_equal(eg_ws_read(ws, w, &why), 0);
	assert_string_equal(r.s, "M1:one;M1:two;");
	assert_int_equal(evbuffer_get_length(w), 0);
	assert_false(eg_ws_closed(ws));
	assert_false(eg_ws_in_message(ws));
	eg_ws_free(ws);
	/* A callback that says stop fails the read. */
	assert_int_equal(eg_ws_build(w, EG_WS_OP_TEXT, 1, 1, "x", 1, &why),
	    0);
	r.pause_on = 0;
	r.fail_on = 'M';
	ws = eg_ws_new(EG_WS_FROM_CLIENT, &lim, &msg_cb, &r);
	assert_int_equal(eg_ws_read(ws, w, &why), -1);
	assert_string_equal(why, "stopped by the caller");
	assert_int_equal(eg_ws_close_code(ws), 0);
	assert_int_equal(eg_ws_read(ws, w, &why), -1);
	eg_ws_free(ws);
	evbuffer_free(w);
}

static void
test_close_build_parse(void **state)
{
	static struct rec	 r;
	struct evbuffer		*w = evbuffer_new();
	char			 reason[200];
	const char		*why = NULL, *rs;
	unsigned char		*p;
	unsigned		 code;
	size_t			 rlen;
	int			 c;

	(void)state;
	/* 122 ASCII bytes and a 2-byte character across the 123 cut. */
	memset(reason, 'r', 122);
	strcpy(reason + 122, "\xc3\xa9 and more");
	assert_int_equal(eg_ws_build_close(w, 0, EG_WS_CLOSE_POLICY, reason,
	    &why), 0);
	p = evbuffer_pullup(w, -1);
	assert_int_equal(evbuffer_get_length(w), 2 + 2 + 122);
	assert_int_equal(eg_ws_close_parse(p + 2, 124, &code, &rs, &rlen,
	    &why), 0);
	assert_int_equal(code, 1008);
	assert_int_equal(rlen, 122);
	assert_int_equal(run(EG_WS_FROM_SERVER, &msg_cb, 10, 0, p,
	    evbuffer_get_length(w), 7, &r, &c, &why), 0);
	assert_int_equal(r.n, 3 + 2 + 122 + 1);
	evbuffer_drain(w, evbuffer_get_length(w));
	assert_int_equal(eg_ws_build_close(w, 1, 0, "ignored", &why), 0);
	assert_int_equal(evbuffer_get_length(w), 2 + 4);
	assert_int_equal(eg_ws_close_parse("", 0, &code, &rs, &rlen, &why),
	    0);
	assert_int_equal(code, EG_WS_CLOSE_NO_STATUS);
	assert_int_equal(eg_ws_build_close(w, 0, 1005, NULL, &why), -1);
	assert_string_equal(why, "close code that may not be sent");
	assert_int_equal(eg_ws_build(w, EG_WS_OP_PING, 1, 0, reason, 126,
	    &why), -1);
	assert_string_equal(why, "control frame fragmented or too long");
	assert_int_equal(eg_ws_build(w, EG_WS_OP_CLOSE, 0, 0, "", 0, &why),
	    -1);
	assert_int_equal(eg_ws_build(w, 3, 1, 0, "", 0, &why), -1);
	assert_string_equal(why, "unknown WebSocket opcode");
	assert_int_equal(eg_ws_build_close(w, 0, 4000, "ok", &why), 0);
	evbuffer_free(w);
}

int
main(void)
{
	const struct CMUnitTest	 tests[] = {
		cmocka_unit_test(test_rfc_examples),
		cmocka_unit_test(test_lengths_roundtrip),
		cmocka_unit_test(test_fragment_builder),
		cmocka_unit_test(test_masks_are_fresh),
		cmocka_unit_test(test_reassembly_cap),
		cmocka_unit_test(test_protocol_errors),
		cmocka_unit_test(test_pause_and_stop),
		cmocka_unit_test(test_close_build_parse),
	};

	return (cmocka_run_group_tests_name("ws", tests, NULL, NULL));
}
