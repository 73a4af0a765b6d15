/*
 * libFuzzer target for WebSocket framing (egress/ws.c).
 *
 * Input: a control byte (role, reassembly cap, piece size), then wire
 * bytes.  Every callback is logged (stream pieces joined); the log, the
 * result and the close code of the bytes fed whole must equal those of
 * the bytes fed in pieces.  Every message the parser reports is built
 * again with the frame builder, fragmented and masked as the control
 * byte says, and must parse back to the same message.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/bounds.h"
#include "egress/ws.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct fuzz_log {
	unsigned char	*p;
	size_t		 n;
	size_t		 cap;
	int		 streaming;
	uint64_t	 frame_seen;	/* payload bytes of the frame so far */
	int		 role;
	size_t		 frag;		/* rebuild fragment size */
};

static int	 fuzz_reparse(int role, struct evbuffer *wire, int op,
		    const void *buf, size_t len);

static void
fuzz_log_add(struct fuzz_log *l, const void *p, size_t n)
{
	unsigned char	*np;

	if (n == 0)
		return;
	if (l->n + n > l->cap) {
		l->cap = (l->n + n) * 2 + 64;
		if ((np = realloc(l->p, l->cap)) == NULL)
			abort();
		l->p = np;
	}
	memcpy(l->p + l->n, p, n);
	l->n += n;
}

static void
fuzz_log_tag(struct fuzz_log *l, char tag, int op, uint64_t len)
{
	char	 b[48];

	snprintf(b, sizeof(b), "%c%x:%llu;", tag, op, (unsigned long long)len);
	fuzz_log_add(l, b, strlen(b));
}

static int
fuzz_frame(void *arg, const struct eg_ws_frame *f)
{
	struct fuzz_log	*l = arg;

	if (f->off != 0 || ((f->opcode & 8) && (!f->fin || f->len > 125)))
		__builtin_trap();
	l->frame_seen = 0;
	fuzz_log_tag(l, 'F', f->opcode | (f->fin << 4), f->len);
	return (0);
}

static int
fuzz_payload(void *arg, const struct eg_ws_frame *f, const void *buf,
    size_t len)
{
	struct fuzz_log	*l = arg;

	if (f->off != l->frame_seen || f->off + len > f->len || len == 0)
		__builtin_trap();
	l->frame_seen += len;
	return (0);
}

/* A message must survive the builder and the parser unchanged. */
static void
fuzz_rebuild(struct fuzz_log *l, int op, const void *buf, size_t len)
{
	struct evbuffer	*w = evbuffer_new();
	const char	*why = NULL;
	int		 mask = l->role == EG_WS_FROM_CLIENT;

	if (w == NULL)
		abort();
	if (eg_ws_build_message(w, op, mask, buf, len, l->frag, &why) != 0)
		__builtin_trap();
	if (!fuzz_reparse(l->role, w, op, buf, len))
		__builtin_trap();
	evbuffer_free(w);
}

static int
fuzz_message(void *arg, int op, const void *buf, size_t len)
{
	struct fuzz_log	*l = arg;

	fuzz_log_tag(l, 'M', op, len);
	fuzz_log_add(l, buf, len);
	if (l->frag != (size_t)-1)
		fuzz_rebuild(l, op, buf, len);
	return (0);
}

static int
fuzz_stream(void *arg, int op, const void *buf, size_t len, int first,
    int fin)
{
	struct fuzz_log	*l = arg;

	if (!!first == l->streaming)
		__builtin_trap();
	if (first)
		fuzz_log_tag(l, 'S', op, 0);
	fuzz_log_add(l, buf, len);
	l->streaming = !fin;
	if (fin)
		fuzz_log_add(l, "]", 1);
	return (0);
}

static int
fuzz_control(void *arg, int op, const void *buf, size_t len)
{
	struct fuzz_log	*l = arg;

	if (len > 125)
		__builtin_trap();
	fuzz_log_tag(l, 'C', op, len);
	fuzz_log_add(l, buf, len);
	return (0);
}

/* The rebuilt message, parsed back: 1 when it is the same. */
struct fuzz_want {
	int		 op;
	const void	*buf;
	size_t		 len;
	int		 seen;
};

static int
fuzz_want_message(void *arg, int op, const void *buf, size_t len)
{
	struct fuzz_want	*w = arg;

	if (w->seen++ || op != w->op || len != w->len ||
	    (len > 0 && memcmp(buf, w->buf, len) != 0))
		__builtin_trap();
	return (0);
}

static int
fuzz_reparse(int role, struct evbuffer *wire, int op, const void *buf,
    size_t len)
{
	struct eg_ws_cb		 cb = { NULL, NULL, fuzz_want_message, NULL,
	    NULL };
	struct eg_ws_limits	 lim = { 0, len + 1 };
	struct fuzz_want	 w = { op, buf, len, 0 };
	struct eg_ws		*ws;
	const char		*why = NULL;
	int			 ok;

	if ((ws = eg_ws_new((enum eg_ws_role)role, &lim, &cb, &w)) == NULL)
		abort();
	ok = eg_ws_read(ws, wire, &why) == 0 && w.seen == 1 &&
	    evbuffer_get_length(wire) == 0;
	eg_ws_free(ws);
	return (ok);
}

static const struct eg_ws_cb fuzz_cb = {
	fuzz_frame, fuzz_payload, fuzz_message, fuzz_stream, fuzz_control
};

static int
fuzz_run(int role, size_t cap, const uint8_t *data, size_t size, size_t step,
    size_t frag, struct fuzz_log *l, int *code)
{
	struct eg_ws_limits	 lim = { 1 << 20, cap };
	struct eg_ws		*ws;
	struct evbuffer		*in = evbuffer_new();
	const char		*why = NULL;
	size_t			 off, n;
	int			 rc = 0;

	l->role = role;
	l->frag = frag;
	if (in == NULL || (ws = eg_ws_new((enum eg_ws_role)role, &lim,
	    &fuzz_cb, l)) == NULL)
		abort();
	for (off = 0; off < size && rc == 0; off += n) {
		n = size - off < step ? size - off : step;
		evbuffer_add(in, data + off, n);
		rc = eg_ws_read(ws, in, &why);
		/* Nothing pauses here: a header's worth at most is left. */
		if (rc == 0 && evbuffer_get_length(in) >= 14)
			__builtin_trap();
	}
	if (rc == -1 && why == NULL)
		__builtin_trap();
	*code = eg_ws_close_code(ws);
	fuzz_log_add(l, rc == 0 ? "ok" : why, rc == 0 ? 2 : strlen(why));
	eg_ws_free(ws);
	evbuffer_free(in);
	return (rc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 caps[] = { 0, 1, 8, 1 << 20 };
	static const size_t	 steps[] = { 1, 2, 7, 13 };
	static const size_t	 frags[] = { 0, 1, 3, 64 };
	struct fuzz_log		 a = { 0 }, b = { 0 };
	int			 role, ra, rb, ca, cb;
	size_t			 cap;

	if (size < 1)
		return (0);
	role = (data[0] & 1) ? EG_WS_FROM_CLIENT : EG_WS_FROM_SERVER;
	cap = caps[(data[0] >> 1) & 3];
	ra = fuzz_run(role, cap, data + 1, size - 1, size,
	    frags[(data[0] >> 5) & 3], &a, &ca);
	rb = fuzz_run(role, cap, data + 1, size - 1, steps[(data[0] >> 3) & 3],
	    (size_t)-1, &b, &cb);
	if (ra != rb || ca != cb || a.n != b.n || (a.n > 0 &&
	    memcmp(a.p, b.p, a.n) != 0))
		__builtin_trap();
	free(a.p);
	free(b.p);
	return (0);
}
