/*
 * WebSocket frames, parsed and built (egress/ws.h, RFC 6455 §5).
 *
 * The parser takes a header only once all of it has arrived (2 to 14
 * bytes, checked before anything is drained) and then the payload in
 * pieces of at most EG_WS_CHUNK_BYTES, unmasked into scratch, so a huge
 * frame costs no more memory than a small one.  Whether a data message is
 * reassembled or streamed is decided at each frame header, from the
 * lengths: a message that would outgrow message_bytes switches to
 * streaming before its first byte past the cap is read.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <openssl/rand.h>

#include "common/bounds.h"
#include "egress/ws.h"

enum eg_ws_state {
	EG_WS_HEAD,		/* waiting for a whole frame header */
	EG_WS_PAYLOAD,		/* inside a frame's payload */
	EG_WS_CLOSED,		/* a close frame was parsed */
	EG_WS_FAILED,
};

struct eg_ws {
	enum eg_ws_role		 role;
	enum eg_ws_state	 state;
	struct eg_ws_cb		 cb;
	void			*arg;		/* the caller's */
	uint64_t		 max_frame;
	size_t			 msg_cap;	/* 0: never reassemble */
	struct eg_ws_frame	 f;		/* the current frame */
	uint64_t		 left;		/* its payload still to come */
	int			 masked;
	unsigned char		 key[4];
	int			 in_msg;	/* a data message is open */
	int			 msg_opcode;
	int			 streaming;	/* this message is streamed */
	int			 stream_first;	/* no stream piece yet */
	unsigned char		*buf;		/* owned: reassembly */
	size_t			 blen;
	size_t			 bcap;
	unsigned char		 ctl[EG_WS_CONTROL_BYTES];
	size_t			 clen;
	unsigned char		 chunk[EG_WS_CHUNK_BYTES];
	int			 pause;		/* a callback asked to pause */
	int			 code;		/* close code after a failure */
	const char		*why;
};

/* Above this a reassembly buffer is freed between messages. */
#define EG_WS_KEEP_BYTES	(64 * 1024)

static int	 eg_ws_fail(struct eg_ws *ws, int code, const char *why);
static int	 eg_ws_call(struct eg_ws *ws, int rc);
static int	 eg_ws_head(struct eg_ws *ws, struct evbuffer *in);
static int	 eg_ws_payload(struct eg_ws *ws, struct evbuffer *in);
static int	 eg_ws_deliver(struct eg_ws *ws, size_t n, int fin_piece);
static int	 eg_ws_frame_end(struct eg_ws *ws);
static int	 eg_ws_append(struct eg_ws *ws, const void *p, size_t n);

struct eg_ws *
eg_ws_new(enum eg_ws_role role, const struct eg_ws_limits *lim,
    const struct eg_ws_cb *cb, void *arg)
{
	struct eg_ws	*ws;

	if ((ws = calloc(1, sizeof(*ws))) == NULL)
		return (NULL);
	ws->role = role;
	ws->state = EG_WS_HEAD;
	if (cb != NULL)
		ws->cb = *cb;
	ws->arg = arg;
	ws->max_frame = EG_WS_MAX_FRAME_BYTES;
	if (lim != NULL && lim->max_frame_bytes != 0)
		ws->max_frame = lim->max_frame_bytes;
	if (lim != NULL && ws->cb.message != NULL)
		ws->msg_cap = lim->message_bytes;
	return (ws);
}

void
eg_ws_free(struct eg_ws *ws)
{
	if (ws == NULL)
		return;
	free(ws->buf);
	free(ws);
}

int
eg_ws_close_code(const struct eg_ws *ws)
{
	return (ws->code);
}

int
eg_ws_closed(const struct eg_ws *ws)
{
	return (ws->state == EG_WS_CLOSED);
}

int
eg_ws_in_message(const struct eg_ws *ws)
{
	return (ws->in_msg);
}

static int
eg_ws_fail(struct eg_ws *ws, int code, const char *why)
{
	if (ws->state != EG_WS_FAILED) {
		ws->state = EG_WS_FAILED;
		ws->code = code;
		ws->why = why;
	}
	return (-1);
}

/* A callback's answer: go on, pause after this, or stop. */
static int
eg_ws_call(struct eg_ws *ws, int rc)
{
	if (rc < 0)
		return (eg_ws_fail(ws, 0, "stopped by the caller"));
	if (rc > 0)
		ws->pause = 1;
	return (0);
}

/* §7.4: codes an endpoint may put in a close frame. */
static int
eg_ws_code_ok(unsigned c)
{
	return ((c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) ||
	    (c >= 3000 && c <= 4999));
}

int
eg_ws_close_parse(const void *buf, size_t len, unsigned *code,
    const char **reason, size_t *rlen, const char **why)
{
	const unsigned char	*b = buf;

	if (len == 0) {
		*code = EG_WS_CLOSE_NO_STATUS;
		*reason = "";
		*rlen = 0;
		return (0);
	}
	if (len == 1) {
		*why = "close frame with a one-byte payload";
		return (-1);
	}
	*code = ((unsigned)b[0] << 8) | b[1];
	if (!eg_ws_code_ok(*code)) {
		*why = "close frame with an invalid code";
		return (-1);
	}
	*reason = (const char *)b + 2;
	*rlen = len - 2;
	return (0);
}

static int
eg_ws_opcode_ok(int op)
{
	return (op == EG_WS_OP_CONT || op == EG_WS_OP_TEXT ||
	    op == EG_WS_OP_BINARY || op == EG_WS_OP_CLOSE ||
	    op == EG_WS_OP_PING || op == EG_WS_OP_PONG);
}

/* 1: a header was taken; 0: it has not all arrived; -1: refused. */
static int
eg_ws_head(struct eg_ws *ws, struct evbuffer *in)
{
	unsigned char	 h[14];
	size_t		 avail = evbuffer_get_length(in), need = 2, i;
	uint64_t	 len;
	int		 op, fin, ctl;

	if (avail < 2)
		return (0);
	(void)evbuffer_copyout(in, h, avail < sizeof(h) ? avail : sizeof(h));
	fin = (h[0] & 0x80) != 0;
	op = h[0] & 0x0f;
	ctl = (op & 0x08) != 0;
	ws->masked = (h[1] & 0x80) != 0;
	if (h[0] & 0x70)
		return (eg_ws_fail(ws, EG_WS_CLOSE_PROTOCOL,
		    "RSV bits set without a negotiated extension"));
	if (!eg_ws_opcode_ok(op))
		return (eg_ws_fail(ws, EG_WS_CLOSE_PROTOCOL,
		    "frame with an unknown opcode"));
	if (ws->role == EG_WS_FROM_CLIENT && !ws->masked)
		return (eg_ws_fail(ws, EG_WS_CLOSE_PROTOCOL,
		    "unmasked frame from the client"));
	if (ws->role == EG_WS_FROM_SERVER && ws->masked)
		return (eg_ws_fail(ws, EG_WS_CLOSE_PROTOCOL,
		    "masked frame from the server"));
	len = h[1] & 0x7f;
	need += len == 126 ? 2 : len == 127 ? 8 : 0;
	need += ws->masked ? 4 : 0;
	if (avail < need)
		return (0);
	if (len == 126)
		len = ((uint64_t)h[2] << 8) | h[3];
	else if (len == 127) {
		for (len = 0, i = 2; i < 10; i++)
			len = (len << 8) | h[i];
		if (len >> 63)
			return (eg_ws_fail(ws, EG_WS_CLOSE_PROTOCOL,
			    "frame length with its top bit set"));
	}
	if (ws->masked)
		memcpy(ws->key, h + need - 4, 4);
	if (ctl && !fin)
		return (eg_ws_fail(ws, EG_WS_CLOSE_PROTOCOL,
		    "fragmented control frame"));
	if (ctl && len > EG_WS_CONTROL_BYTES)
		return (eg_ws_fail(ws, EG_WS_CLOSE_PROTOCOL,
		    "control frame longer than 125 bytes"));
	if (len > ws->max_frame)
		return (eg_ws_fail(ws, EG_WS_CLOSE_TOO_BIG, "frame too big"));
	if (op == EG_WS_OP_CONT && !ws->in_msg)
		return (eg_ws_fail(ws, EG_WS_CLOSE_PROTOCOL,
		    "continuation frame without a message"));
	if ((op == EG_WS_OP_TEXT || op == EG_WS_OP_BINARY) && ws->in_msg)
		return (eg_ws_fail(ws, EG_WS_CLOSE_PROTOCOL,
		    "new message inside a fragmented one"));
	(void)evbuffer_drain(in, need);

	memset(&ws->f, 0, sizeof(ws->f));
	ws->f.opcode = op;
	ws->f.fin = fin;
	ws->f.len = len;
	ws->left = len;
	ws->clen = 0;
	ws->state = EG_WS_PAYLOAD;
	if (ctl)
		ws->f.msg_opcode = op;
	else {
		if (op != EG_WS_OP_CONT) {
			ws->in_msg = 1;
			ws->msg_opcode = op;
			ws->f.first = 1;
			ws->blen = 0;
			ws->stream_first = 1;
			ws->streaming = ws->msg_cap == 0 &&
			    ws->cb.stream != NULL;
		}
		ws->f.msg_opcode = ws->msg_opcode;
	}
	if (ws->cb.frame != NULL && eg_ws_call(ws, ws->cb.frame(ws->arg,
	    &ws->f)) == -1)
		return (-1);
	/* Decide from the lengths: never read past the cap to find out. */
	if (!ctl && !ws->streaming && ws->msg_cap > 0 &&
	    len > ws->msg_cap - ws->blen) {
		if (ws->cb.stream == NULL)
			return (eg_ws_fail(ws, EG_WS_CLOSE_TOO_BIG,
			    "message too big"));
		ws->streaming = 1;
		if (ws->blen > 0) {
			ws->stream_first = 0;
			if (eg_ws_call(ws, ws->cb.stream(ws->arg,
			    ws->msg_opcode, ws->buf, ws->blen, 1, 0)) == -1)
				return (-1);
			ws->blen = 0;
		}
	}
	return (1);
}

static int
eg_ws_append(struct eg_ws *ws, const void *p, size_t n)
{
	unsigned char	*nb;
	size_t		 cap;

	if (n > ws->bcap - ws->blen) {
		for (cap = ws->bcap == 0 ? 4096 : ws->bcap; cap - ws->blen < n;)
			cap *= 2;
		if (cap > ws->msg_cap)
			cap = ws->msg_cap;	/* the header check bounds n */
		if ((nb = realloc(ws->buf, cap)) == NULL)
			return (eg_ws_fail(ws, 0, "out of memory"));
		ws->buf = nb;
		ws->bcap = cap;
	}
	memcpy(ws->buf + ws->blen, p, n);
	ws->blen += n;
	return (0);
}

/* n unmasked bytes in chunk, at f.off of the frame. */
static int
eg_ws_deliver(struct eg_ws *ws, size_t n, int fin_piece)
{
	if (ws->cb.payload != NULL && eg_ws_call(ws, ws->cb.payload(ws->arg,
	    &ws->f, ws->chunk, n)) == -1)
		return (-1);
	if (ws->f.opcode & 0x08) {
		memcpy(ws->ctl + ws->clen, ws->chunk, n);
		ws->clen += n;
		return (0);
	}
	if (ws->streaming) {
		if (eg_ws_call(ws, ws->cb.stream(ws->arg, ws->msg_opcode,
		    ws->chunk, n, ws->stream_first, fin_piece)) == -1)
			return (-1);
		ws->stream_first = 0;
		return (0);
	}
	if (ws->msg_cap > 0)
		return (eg_ws_append(ws, ws->chunk, n));
	return (0);
}

static int
eg_ws_frame_end(struct eg_ws *ws)
{
	const char	*reason, *why;
	unsigned	 code;
	size_t		 rlen;
	int		 op = ws->f.opcode;

	ws->state = EG_WS_HEAD;
	if (op & 0x08) {
		if (op == EG_WS_OP_CLOSE) {
			if (eg_ws_close_parse(ws->ctl, ws->clen, &code,
			    &reason, &rlen, &why) == -1)
				return (eg_ws_fail(ws, EG_WS_CLOSE_PROTOCOL,
				    why));
			ws->state = EG_WS_CLOSED;
		}
		if (ws->cb.control != NULL)
			return (eg_ws_call(ws, ws->cb.control(ws->arg, op,
			    ws->ctl, ws->clen)));
		return (0);
	}
	if (!ws->f.fin)
		return (0);
	ws->in_msg = 0;
	if (ws->streaming) {
		ws->streaming = 0;
		/* An empty final frame: the end still has to be told. */
		if (ws->f.len == 0)
			return (eg_ws_call(ws, ws->cb.stream(ws->arg,
			    ws->msg_opcode, ws->chunk, 0, ws->stream_first,
			    1)));
		return (0);
	}
	if (ws->msg_cap > 0 && eg_ws_call(ws, ws->cb.message(ws->arg,
	    ws->msg_opcode, ws->buf, ws->blen)) == -1)
		return (-1);
	ws->blen = 0;
	if (ws->bcap > EG_WS_KEEP_BYTES) {
		free(ws->buf);
		ws->buf = NULL;
		ws->bcap = 0;
	}
	return (0);
}

/* 1: the frame ended; 0: in is spent or a callback paused; -1. */
static int
eg_ws_payload(struct eg_ws *ws, struct evbuffer *in)
{
	size_t		 avail, n, i;

	while (ws->left > 0) {
		if (ws->pause || (avail = evbuffer_get_length(in)) == 0)
			return (0);
		n = sizeof(ws->chunk);
		if (n > avail)
			n = avail;
		if (n > ws->left)
			n = (size_t)ws->left;
		if (evbuffer_remove(in, ws->chunk, n) != (int)n)
			return (eg_ws_fail(ws, 0, "out of memory"));
		if (ws->masked)
			for (i = 0; i < n; i++)
				ws->chunk[i] ^= ws->key[(ws->f.off + i) & 3];
		ws->left -= n;
		if (eg_ws_deliver(ws, n, ws->left == 0 && ws->f.fin) == -1)
			return (-1);
		ws->f.off += n;
	}
	if (eg_ws_frame_end(ws) == -1)
		return (-1);
	return (1);
}

int
eg_ws_read(struct eg_ws *ws, struct evbuffer *in, const char **why)
{
	int	 rc;

	ws->pause = 0;
	while (!ws->pause) {
		switch (ws->state) {
		case EG_WS_HEAD:
			rc = eg_ws_head(ws, in);
			break;
		case EG_WS_PAYLOAD:
			rc = eg_ws_payload(ws, in);
			break;
		case EG_WS_CLOSED:
			if (evbuffer_get_length(in) > 0)
				rc = eg_ws_fail(ws, EG_WS_CLOSE_PROTOCOL,
				    "bytes after a close frame");
			else
				rc = 0;
			break;
		default:
			rc = -1;
			break;
		}
		if (rc == -1) {
			*why = ws->why;
			return (-1);
		}
		if (rc == 0)
			break;
	}
	return (0);
}

/* ---- building ------------------------------------------------------ */

int
eg_ws_build(struct evbuffer *out, int opcode, int fin, int mask,
    const void *buf, size_t len, const char **why)
{
	struct evbuffer_iovec	 v;
	unsigned char		 h[14], key[4], *p;
	const unsigned char	*src = buf;
	size_t			 hl = 2, i;

	if (!eg_ws_opcode_ok(opcode)) {
		*why = "unknown WebSocket opcode";
		return (-1);
	}
	if ((opcode & 0x08) && (!fin || len > EG_WS_CONTROL_BYTES)) {
		*why = "control frame fragmented or too long";
		return (-1);
	}
	h[0] = (fin ? 0x80 : 0) | (unsigned char)opcode;
	if (len < 126)
		h[1] = (unsigned char)len;
	else if (len <= 0xffff) {
		h[1] = 126;
		h[2] = (unsigned char)(len >> 8);
		h[3] = (unsigned char)len;
		hl = 4;
	} else {
		h[1] = 127;
		for (i = 0; i < 8; i++)
			h[2 + i] = (unsigned char)((uint64_t)len >>
			    (56 - 8 * i));
		hl = 10;
	}
	if (mask) {
		/* §10.3: a key the page's script cannot predict. */
		if (RAND_bytes(key, sizeof(key)) != 1) {
			*why = "no random bytes for a WebSocket mask";
			return (-1);
		}
		h[1] |= 0x80;
		memcpy(h + hl, key, 4);
		hl += 4;
	}
	if (evbuffer_reserve_space(out, (ev_ssize_t)(hl + len), &v, 1) < 1) {
		*why = "out of memory";
		return (-1);
	}
	p = v.iov_base;
	memcpy(p, h, hl);
	if (mask)
		for (i = 0; i < len; i++)
			p[hl + i] = src[i] ^ key[i & 3];
	else if (len > 0)
		memcpy(p + hl, src, len);
	v.iov_len = hl + len;
	if (evbuffer_commit_space(out, &v, 1) == -1) {
		*why = "out of memory";
		return (-1);
	}
	return (0);
}

int
eg_ws_build_message(struct evbuffer *out, int opcode, int mask,
    const void *buf, size_t len, size_t frag_bytes, const char **why)
{
	struct evbuffer		*tmp;
	const unsigned char	*p = buf;
	size_t			 n, off = 0;
	int			 op = opcode, rc = 0;

	if (opcode & 0x08 || frag_bytes == 0 || len <= frag_bytes)
		return (eg_ws_build(out, opcode, 1, mask, buf, len, why));
	/* Built aside, so out never holds half a message. */
	if ((tmp = evbuffer_new()) == NULL) {
		*why = "out of memory";
		return (-1);
	}
	while (rc == 0 && off < len) {
		n = len - off < frag_bytes ? len - off : frag_bytes;
		rc = eg_ws_build(tmp, op, off + n == len, mask, p + off, n,
		    why);
		op = EG_WS_OP_CONT;
		off += n;
	}
	if (rc == 0 && evbuffer_add_buffer(out, tmp) == -1) {
		*why = "out of memory";
		rc = -1;
	}
	evbuffer_free(tmp);
	return (rc);
}

int
eg_ws_build_close(struct evbuffer *out, int mask, unsigned code,
    const char *reason, const char **why)
{
	unsigned char	 b[2 + EG_WS_CLOSE_REASON_BYTES];
	size_t		 n = 0;

	if (code == 0)
		return (eg_ws_build(out, EG_WS_OP_CLOSE, 1, mask, NULL, 0,
		    why));
	if (!eg_ws_code_ok(code)) {
		*why = "close code that may not be sent";
		return (-1);
	}
	b[0] = (unsigned char)(code >> 8);
	b[1] = (unsigned char)code;
	if (reason != NULL) {
		n = strlen(reason);
		if (n > EG_WS_CLOSE_REASON_BYTES) {
			/* Cut before a continuation byte, never inside. */
			n = EG_WS_CLOSE_REASON_BYTES;
			while (n > 0 && ((unsigned char)reason[n] & 0xc0) ==
			    0x80)
				n--;
		}
		memcpy(b + 2, reason, n);
	}
	return (eg_ws_build(out, EG_WS_OP_CLOSE, 1, mask, b, 2 + n, why));
}
