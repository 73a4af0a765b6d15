/*
 * bbt-origin's WebSocket server (RFC 6455), for spec/egress.md §13 and
 * §22 tests 48-50.  It is written independently of the sidecar's own
 * framing code on purpose: a test peer that shared the code under test
 * would share its bugs.
 *
 * Paths, on a GET with Upgrade: websocket:
 *   /ws/echo, any other /ws/...  echo each message back as one frame
 *   /ws/hello		the echo JSON of the upgrade request first, then echo
 *   /ws/send/NAME	text.c's NAME (combo, single, clean) first, then echo
 *   /ws/deflate	the 101 names permessage-deflate (the sidecar must
 *			refuse it); frames are never compressed
 *   /ws/bad-accept	the 101 carries a wrong Sec-WebSocket-Accept
 *   /ws/reject		a 403 with the echo instead of a 101
 *
 * Client frames must be masked and have no RSV bits (else close 1002);
 * fragments are reassembled (control frames may come between them);
 * ping gets pong, close gets close with the same code.  Frames are
 * unmasked as they stream in, so a message larger than the input
 * watermark still arrives; messages past BBT_WS_MAX_MESSAGE_BYTES close
 * with 1009.  Each client message is logged: {"event": "ws", "conn",
 * "op", "len", "frames", "sha256", "prefix"}.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/bufferevent.h>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "tests/origin/origin.h"

#define BBT_WS_OP_CONT		0x0
#define BBT_WS_OP_TEXT		0x1
#define BBT_WS_OP_BINARY	0x2
#define BBT_WS_OP_CLOSE		0x8
#define BBT_WS_OP_PING		0x9
#define BBT_WS_OP_PONG		0xa
/* RFC 6455 §5.5: control payloads fit in the 7-bit length. */
#define BBT_WS_CONTROL_BYTES	125
/* RFC 6455 §7.4.1 status codes the server sends. */
#define BBT_WS_CLOSE_NORMAL	1000
#define BBT_WS_CLOSE_PROTOCOL	1002
#define BBT_WS_CLOSE_TOO_BIG	1009
/* Stop reading while this much of our output waits for the client. */
#define BBT_WS_OUT_BYTES	(1024 * 1024)

struct bbt_ws {
	int		 in_frame;	/* a header was read; payload follows */
	int		 fin;
	int		 op;		/* of the current frame */
	unsigned char	 mask[4];
	uint64_t	 left;		/* payload bytes still to read */
	uint64_t	 pos;		/* payload bytes read (mask index) */
	int		 msg_op;	/* TEXT or BINARY; 0: no message open */
	struct evbuffer	*msg;		/* owned: the message so far */
	unsigned char	 ctl[BBT_WS_CONTROL_BYTES];
	size_t		 ctl_len;
	unsigned int	 frames;	/* frames in the open message */
	int		 closing;	/* our close frame is sent */
};

static int	 bbt_ws_accept_key(const char *key, char *out, size_t size);
static void	 bbt_ws_send(struct bbt_conn *c, int op, const void *p,
		    size_t len);
static void	 bbt_ws_close(struct bbt_conn *c, int code, const char *why);
static int	 bbt_ws_header(struct bbt_conn *c, struct evbuffer *in);
static void	 bbt_ws_frame_done(struct bbt_conn *c);
static void	 bbt_ws_message(struct bbt_conn *c);

void
bbt_ws_free(struct bbt_ws *ws)
{
	if (ws == NULL)
		return;
	if (ws->msg != NULL)
		evbuffer_free(ws->msg);
	free(ws);
}

/* base64(SHA-1(key GUID)), RFC 6455 §4.2.2; -1 if key is not 16 bytes. */
static int
bbt_ws_accept_key(const char *key, char *out, size_t size)
{
	unsigned char	 raw[32], md[SHA_DIGEST_LENGTH];
	char		 cat[128];
	size_t		 klen = strlen(key);
	int		 n;

	/* 16 random bytes are 24 base64 characters, two of them padding. */
	if (klen != 24 || key[22] != '=' || key[23] != '=' ||
	    (n = EVP_DecodeBlock(raw, (const unsigned char *)key, 24)) != 18)
		return (-1);
	(void)snprintf(cat, sizeof(cat), "%s%s", key, BBT_WS_GUID);
	if (EVP_Digest(cat, strlen(cat), md, NULL, EVP_sha1(), NULL) != 1 ||
	    size < 29)
		return (-1);
	(void)EVP_EncodeBlock((unsigned char *)out, md, sizeof(md));
	return (0);
}

int
bbt_ws_upgrade(struct bbt_conn *c)
{
	struct cm_http_msg	*m = c->req.msg;
	struct cm_http_fields	*h = cm_http_msg_fields(m), *f;
	const char		*key, *ver, *path = c->req.path, *why, *name;
	char			 accept[64], *s;
	json_t			*j;

	key = cm_http_fields_get(h, "Sec-WebSocket-Key");
	ver = cm_http_fields_get(h, "Sec-WebSocket-Version");
	if (cm_http_msg_method(m) != HTTP_GET || key == NULL || ver == NULL ||
	    strcmp(ver, "13") != 0 ||
	    bbt_ws_accept_key(key, accept, sizeof(accept)) == -1) {
		bbt_conn_finish_req(c, 1);
		bbt_conn_set(c, BBT_CONN_REPLY);
		bbt_conn_simple(c, 400, "text/plain", "bad websocket upgrade\n",
		    22);
		return (0);
	}
	if (strcmp(path, "/ws/reject") == 0) {
		bbt_conn_finish_req(c, 1);
		bbt_conn_set(c, BBT_CONN_REPLY);
		if ((j = bbt_fixture_echo_json(c)) == NULL ||
		    (s = json_dumps(j, JSON_COMPACT)) == NULL) {
			json_decref(j);
			return (-1);
		}
		json_decref(j);
		bbt_conn_simple(c, 403, "application/json", s, strlen(s));
		free(s);
		return (0);
	}
	if (strcmp(path, "/ws/bad-accept") == 0)
		accept[0] = accept[0] == 'A' ? 'B' : 'A';
	if ((c->ws = calloc(1, sizeof(*c->ws))) == NULL ||
	    (c->ws->msg = evbuffer_new()) == NULL ||
	    (f = cm_http_fields_new()) == NULL)
		return (-1);
	(void)cm_http_fields_add(f, "Upgrade", "websocket");
	(void)cm_http_fields_add(f, "Connection", "Upgrade");
	(void)cm_http_fields_add(f, "Sec-WebSocket-Accept", accept);
	if (strcmp(path, "/ws/deflate") == 0)
		(void)cm_http_fields_add(f, "Sec-WebSocket-Extensions",
		    "permessage-deflate");
	if (cm_http_write_response(bbt_conn_out(c), 101, NULL, f,
	    CM_HTTP_FRAMING_NONE, 0, &why) == -1) {
		cm_http_fields_free(f);
		return (-1);
	}
	cm_http_fields_free(f);
	c->o->st.ws_sessions++;
	bufferevent_setwatermark(c->bev, EV_WRITE, BBT_WS_OUT_BYTES / 2, 0);
	if (strcmp(path, "/ws/hello") == 0 &&
	    (j = bbt_fixture_echo_json(c)) != NULL) {
		if ((s = json_dumps(j, JSON_COMPACT)) != NULL) {
			bbt_ws_send(c, BBT_WS_OP_TEXT, s, strlen(s));
			free(s);
		}
		json_decref(j);
	}
	if (strncmp(path, "/ws/send/", 9) == 0 &&
	    (name = bbt_text_get(path + 9)) != NULL)
		bbt_ws_send(c, BBT_WS_OP_TEXT, name, strlen(name));
	bbt_conn_upgraded(c);
	return (0);
}

/* Server frames are never masked (RFC 6455 §5.1) and never fragmented. */
static void
bbt_ws_send(struct bbt_conn *c, int op, const void *p, size_t len)
{
	unsigned char	 h[10];
	size_t		 hl = 2;
	int		 i;

	h[0] = (unsigned char)(0x80 | op);
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
	(void)evbuffer_add(bbt_conn_out(c), h, hl);
	(void)evbuffer_add(bbt_conn_out(c), p, len);
}

static void
bbt_ws_close(struct bbt_conn *c, int code, const char *why)
{
	unsigned char	 p[BBT_WS_CONTROL_BYTES];
	size_t		 n = strlen(why);

	if (n > sizeof(p) - 2)
		n = sizeof(p) - 2;
	p[0] = (unsigned char)(code >> 8);
	p[1] = (unsigned char)code;
	memcpy(p + 2, why, n);
	if (!c->ws->closing)
		bbt_ws_send(c, BBT_WS_OP_CLOSE, p, n + 2);
	c->ws->closing = 1;
	c->rep.close = 1;
	bbt_conn_done(c);
}

/* 1: a frame header was consumed; 0: need more; -1: closed. */
static int
bbt_ws_header(struct bbt_conn *c, struct evbuffer *in)
{
	struct bbt_ws	*ws = c->ws;
	unsigned char	 h[14];
	size_t		 have = evbuffer_get_length(in), need = 2;
	uint64_t	 len;
	int		 i, ext;

	if (have < 2)
		return (0);
	(void)evbuffer_copyout(in, h, 2);
	ext = (h[1] & 0x7f) == 126 ? 2 : (h[1] & 0x7f) == 127 ? 8 : 0;
	need += (size_t)ext + ((h[1] & 0x80) ? 4 : 0);
	if (have < need)
		return (0);
	(void)evbuffer_remove(in, h, need);
	ws->fin = (h[0] & 0x80) != 0;
	ws->op = h[0] & 0x0f;
	if ((h[0] & 0x70) != 0) {
		bbt_ws_close(c, BBT_WS_CLOSE_PROTOCOL, "RSV bits set");
		return (-1);
	}
	if ((h[1] & 0x80) == 0) {
		bbt_ws_close(c, BBT_WS_CLOSE_PROTOCOL, "client frame unmasked");
		return (-1);
	}
	len = h[1] & 0x7f;
	if (ext == 2)
		len = ((uint64_t)h[2] << 8) | h[3];
	else if (ext == 8) {
		len = 0;
		for (i = 0; i < 8; i++)
			len = (len << 8) | h[2 + i];
	}
	memcpy(ws->mask, h + 2 + ext, 4);
	switch (ws->op) {
	case BBT_WS_OP_CLOSE:
	case BBT_WS_OP_PING:
	case BBT_WS_OP_PONG:
		if (!ws->fin || len > BBT_WS_CONTROL_BYTES) {
			bbt_ws_close(c, BBT_WS_CLOSE_PROTOCOL,
			    "bad control frame");
			return (-1);
		}
		ws->ctl_len = 0;
		break;
	case BBT_WS_OP_CONT:
		if (ws->msg_op == 0) {
			bbt_ws_close(c, BBT_WS_CLOSE_PROTOCOL,
			    "continuation without a message");
			return (-1);
		}
		break;
	case BBT_WS_OP_TEXT:
	case BBT_WS_OP_BINARY:
		if (ws->msg_op != 0) {
			bbt_ws_close(c, BBT_WS_CLOSE_PROTOCOL,
			    "new message inside a fragmented one");
			return (-1);
		}
		ws->msg_op = ws->op;
		ws->frames = 0;
		break;
	default:
		bbt_ws_close(c, BBT_WS_CLOSE_PROTOCOL, "unknown opcode");
		return (-1);
	}
	if (ws->op < BBT_WS_OP_CLOSE &&
	    evbuffer_get_length(ws->msg) + len > BBT_WS_MAX_MESSAGE_BYTES) {
		bbt_ws_close(c, BBT_WS_CLOSE_TOO_BIG, "message too big");
		return (-1);
	}
	ws->in_frame = 1;
	ws->left = len;
	ws->pos = 0;
	return (1);
}

static void
bbt_ws_message(struct bbt_conn *c)
{
	struct bbt_ws	*ws = c->ws;
	unsigned char	 md[SHA256_DIGEST_LENGTH], pre[BBT_BODY_PREFIX_BYTES];
	char		 hex[SHA256_DIGEST_LENGTH * 2 + 1];
	size_t		 len = evbuffer_get_length(ws->msg), plen, i;
	unsigned char	*p;

	p = evbuffer_pullup(ws->msg, -1);
	c->o->st.ws_messages++;
	if (c->o->log_fd != -1) {
		(void)EVP_Digest(p != NULL ? p : (unsigned char *)"", len, md,
		    NULL, EVP_sha256(), NULL);
		for (i = 0; i < sizeof(md); i++)
			(void)snprintf(hex + i * 2, 3, "%02x", md[i]);
		plen = len < sizeof(pre) ? len : sizeof(pre);
		if (plen > 0)
			memcpy(pre, p, plen);
		bbt_main_log(c->o, json_pack("{s:s, s:I, s:s, s:I, s:i, s:s, "
		    "s:o}", "event", "ws", "conn", (json_int_t)c->id, "op",
		    ws->msg_op == BBT_WS_OP_TEXT ? "text" : "binary", "len",
		    (json_int_t)len, "frames", (int)ws->frames, "sha256", hex,
		    "prefix", bbt_conn_text(pre, plen)));
	}
	bbt_ws_send(c, ws->msg_op, p != NULL ? p : (unsigned char *)"", len);
	(void)evbuffer_drain(ws->msg, len);
	ws->msg_op = 0;
	ws->frames = 0;
}

static void
bbt_ws_frame_done(struct bbt_conn *c)
{
	struct bbt_ws	*ws = c->ws;
	int		 code;

	ws->in_frame = 0;
	switch (ws->op) {
	case BBT_WS_OP_PING:
		bbt_ws_send(c, BBT_WS_OP_PONG, ws->ctl, ws->ctl_len);
		break;
	case BBT_WS_OP_PONG:
		break;
	case BBT_WS_OP_CLOSE:
		if (ws->closing) {
			bbt_conn_close(c, "websocket closed");
			return;
		}
		/* Echo the client's code; none given means none returned. */
		if (ws->ctl_len >= 2) {
			code = (ws->ctl[0] << 8) | ws->ctl[1];
			bbt_ws_close(c, code, "");
		} else {
			bbt_ws_send(c, BBT_WS_OP_CLOSE, "", 0);
			ws->closing = 1;
			c->rep.close = 1;
			bbt_conn_done(c);
		}
		break;
	default:
		ws->frames++;
		if (ws->fin)
			bbt_ws_message(c);
		break;
	}
}

void
bbt_ws_read(struct bbt_conn *c)
{
	struct bbt_ws	*ws = c->ws;
	struct evbuffer	*in = bufferevent_get_input(c->bev);
	unsigned char	 buf[BBT_OUT_PIECE_BYTES];
	size_t		 n, i;
	int		 rc;

	while (c->state == BBT_CONN_WS) {
		/* The client is not reading our echoes: stop reading its. */
		if (evbuffer_get_length(bbt_conn_out(c)) >= BBT_WS_OUT_BYTES)
			return;
		if (!ws->in_frame) {
			if ((rc = bbt_ws_header(c, in)) != 1)
				return;
			if (ws->left == 0) {
				bbt_ws_frame_done(c);
				continue;
			}
		}
		if ((n = evbuffer_get_length(in)) == 0)
			return;
		if (n > sizeof(buf))
			n = sizeof(buf);
		if (n > ws->left)
			n = (size_t)ws->left;
		(void)evbuffer_remove(in, buf, n);
		for (i = 0; i < n; i++)
			buf[i] ^= ws->mask[(ws->pos + i) % 4];
		ws->pos += n;
		ws->left -= n;
		if (ws->op >= BBT_WS_OP_CLOSE) {
			memcpy(ws->ctl + ws->ctl_len, buf, n);
			ws->ctl_len += n;
		} else
			(void)evbuffer_add(ws->msg, buf, n);
		if (ws->left == 0)
			bbt_ws_frame_done(c);
	}
}
