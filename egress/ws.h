/*
 * RFC 6455 framing for egress's WebSocket relay (spec/egress.md §13):
 * a parser per direction and a frame builder.
 *
 * The parser checks what the RFC makes a protocol error (close 1002):
 * RSV bits (no extension is ever negotiated: Sec-WebSocket-Extensions is
 * removed), unknown opcodes, an unmasked client frame or a masked server
 * frame, a control frame that is fragmented or longer than 125 bytes, a
 * continuation with no message open or a new message inside one, a
 * 64-bit length with its top bit set, a bad close payload, bytes after a
 * close.  Lengths past max_frame_bytes close with 1009.  Text is not
 * checked for UTF-8: the far end does that, on the bytes egress relays.
 *
 * Payloads come out unmasked through callbacks: per frame (header, then
 * payload pieces), per message (a data message reassembled across its
 * fragments while it fits message_bytes, or else streamed in pieces, the
 * first piece being what was buffered), and per control frame (whole;
 * they may come between the fragments of a message).
 *
 * Pure computation on evbuffers; memory is one reassembly buffer up to
 * message_bytes plus EG_WS_CHUNK_BYTES of scratch.
 */
#ifndef EG_WS_H
#define EG_WS_H

#include <stddef.h>
#include <stdint.h>

struct evbuffer;
struct eg_ws;			/* opaque: egress/ws.c */

#define EG_WS_OP_CONT		0x0
#define EG_WS_OP_TEXT		0x1
#define EG_WS_OP_BINARY		0x2
#define EG_WS_OP_CLOSE		0x8
#define EG_WS_OP_PING		0x9
#define EG_WS_OP_PONG		0xa

/* Close codes (RFC 6455 §7.4.1) egress sends or reports. */
#define EG_WS_CLOSE_NORMAL	1000
#define EG_WS_CLOSE_GOING_AWAY	1001
#define EG_WS_CLOSE_PROTOCOL	1002
#define EG_WS_CLOSE_NO_STATUS	1005	/* reported for an empty close */
#define EG_WS_CLOSE_POLICY	1008
#define EG_WS_CLOSE_TOO_BIG	1009

/* Whose frames a parser reads: the agent's must be masked (§5.1). */
enum eg_ws_role {
	EG_WS_FROM_CLIENT,
	EG_WS_FROM_SERVER,
};

struct eg_ws_limits {
	uint64_t	 max_frame_bytes;	/* 0: EG_WS_MAX_FRAME_BYTES */
	size_t		 message_bytes;		/* ws_message_buffer_bytes */
};

/* A frame as its header said. */
struct eg_ws_frame {
	int		 opcode;	/* as sent (CONT after the first) */
	int		 msg_opcode;	/* TEXT or BINARY of its message, or the
					   control opcode */
	int		 fin;
	int		 first;		/* opens its message */
	uint64_t	 len;		/* payload bytes */
	uint64_t	 off;		/* payload: where buf starts in it */
};

/*
 * Callbacks, each may be NULL.  Each returns 0 to go on, 1 to pause (the
 * read returns 0 once the bytes that led to the call are consumed; call
 * it again to resume) or -1 to stop (the read fails, "stopped by the
 * caller", close code 0).
 *
 * message gets a data message whole when it fits message_bytes (needs a
 * message callback and message_bytes > 0); otherwise stream gets it in
 * order, first set on the first piece, fin on the piece that ends it
 * (maybe empty).  Without stream, a message that does not fit fails with
 * 1009.  Without either, data frames are only seen per frame.
 */
struct eg_ws_cb {
	int	(*frame)(void *arg, const struct eg_ws_frame *f);
	int	(*payload)(void *arg, const struct eg_ws_frame *f,
		    const void *buf, size_t len);
	int	(*message)(void *arg, int opcode, const void *buf,
		    size_t len);
	int	(*stream)(void *arg, int opcode, const void *buf, size_t len,
		    int first, int fin);
	int	(*control)(void *arg, int opcode, const void *buf,
		    size_t len);
};

/* lim may be NULL (no reassembly); cb is copied.  NULL if out of memory. */
struct eg_ws	*eg_ws_new(enum eg_ws_role role,
		    const struct eg_ws_limits *lim, const struct eg_ws_cb *cb,
		    void *arg);
void		 eg_ws_free(struct eg_ws *ws);
/*
 * Parses frames from in, draining what it consumes and calling back.
 * 0: in is spent (or a callback paused); -1: refused, *why says why and
 * eg_ws_close_code() gives the code to close with (0 after a callback
 * stopped it or out of memory).  A refused parser stays refused.
 */
int		 eg_ws_read(struct eg_ws *ws, struct evbuffer *in,
		    const char **why);
int		 eg_ws_close_code(const struct eg_ws *ws);
/* 1 once a close frame was parsed: nothing more may follow. */
int		 eg_ws_closed(const struct eg_ws *ws);
/* 1 while a fragmented data message is open. */
int		 eg_ws_in_message(const struct eg_ws *ws);

/*
 * A close payload: *code (EG_WS_CLOSE_NO_STATUS when empty) and the
 * reason (pointing into buf, not NUL-terminated).  0, or -1 and *why for
 * one byte or a code that may not be sent (§7.4).
 */
int		 eg_ws_close_parse(const void *buf, size_t len,
		    unsigned *code, const char **reason, size_t *rlen,
		    const char **why);

/*
 * Appends one frame to out.  mask: client-to-server frames, masked with a
 * fresh key from RAND_bytes(); server-to-client frames are not.  Control
 * frames must have fin and at most 125 bytes.  0, or -1 and *why (out is
 * untouched: a failed frame is never half written).  A long message sent
 * in pieces is its opcode with fin 0, then EG_WS_OP_CONT frames, the last
 * with fin 1.
 */
int		 eg_ws_build(struct evbuffer *out, int opcode, int fin,
		    int mask, const void *buf, size_t len, const char **why);
/* A whole message in frames of at most frag_bytes (0: one frame). */
int		 eg_ws_build_message(struct evbuffer *out, int opcode,
		    int mask, const void *buf, size_t len, size_t frag_bytes,
		    const char **why);
/*
 * A close frame: code (0 for none) and reason (NULL for none; cut to
 * EG_WS_CLOSE_REASON_BYTES without splitting a UTF-8 sequence).
 */
int		 eg_ws_build_close(struct evbuffer *out, int mask,
		    unsigned code, const char *reason, const char **why);

#endif /* EG_WS_H */
