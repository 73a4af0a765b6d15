/*
 * The HTTP/1.1 codec shared by every HTTP front: egress (requests from the
 * agent, responses from origins), gitgate smart HTTP, supervise MCP and the
 * control port (spec/egress.md §2.2-§2.4, §10.3, §17).
 *
 * Heads are parsed by llhttp (strict build, no lenient flag) behind a
 * pre-check of the raw bytes that refuses what llhttp 8.1 lets through
 * (obs-fold, bare LF, empty field names, fragments, ...).  Bytes are counted
 * as they arrive, so a head that never ends is refused at its limit and
 * never buffered beyond it.  Bodies are decoded into a caller's evbuffer
 * under a caller's budget.  Nothing is ever forwarded as raw bytes: the
 * writers below build fresh heads from parsed fields.
 *
 * One parser per connection direction; a parser is not thread-safe, like
 * the connection that owns it.
 */
#ifndef CM_HTTP_H
#define CM_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "llhttp.h"		/* enum llhttp_method */

struct evbuffer;
struct cm_http_parser;		/* opaque: common/http.c */
struct cm_http_msg;		/* opaque: a parsed head, common/http_msg.c */
struct cm_http_fields;		/* opaque: common/http_fields.c */

enum cm_http_type {
	CM_HTTP_REQUEST,	/* a server reading requests */
	CM_HTTP_RESPONSE,	/* a client reading responses */
};

/* Head limits (spec/egress.md §17); 0 means the CM_DEF_* default. */
struct cm_http_limits {
	size_t	request_line_bytes;	/* start line without CRLF; 414 */
	size_t	header_bytes;		/* whole head with CRLFs; 431 */
	size_t	header_count;		/* field lines; 431 */
};

/* How a message body is delimited (RFC 9112 §6.3). */
enum cm_http_framing {
	CM_HTTP_FRAMING_NONE,		/* no body at all */
	CM_HTTP_FRAMING_LENGTH,		/* Content-Length bytes, maybe 0 */
	CM_HTTP_FRAMING_CHUNKED,	/* Transfer-Encoding: chunked */
	CM_HTTP_FRAMING_CLOSE,		/* responses: until the peer closes */
};

enum cm_http_expect {
	CM_HTTP_EXPECT_NONE,		/* no Expect field */
	CM_HTTP_EXPECT_CONTINUE,	/* exactly "100-continue" */
	CM_HTTP_EXPECT_OTHER,		/* anything else: 417 */
};

/* ---- common/http.c: the parser -------------------------------------- */

void		 cm_http_limits_default(struct cm_http_limits *lim);
/*
 * A parser for one direction of one connection.  lim is copied; NULL means
 * the defaults, values above the CM_MAX_* ceilings are clamped.  NULL when
 * out of memory.
 */
struct cm_http_parser *cm_http_parser_new(enum cm_http_type type,
		    const struct cm_http_limits *lim);
void		 cm_http_parser_free(struct cm_http_parser *p);
/*
 * Ready for the next message: frees the current message (unless taken) and
 * its trailers; bytes left in the caller's evbuffer stay there
 * (pipelining).  A refused parser stays refused: close the connection.
 */
void		 cm_http_parser_reset(struct cm_http_parser *p);
/*
 * Response parsers: the method of the request being answered, so HEAD and
 * CONNECT responses are framed right.  Sticky across resets (1xx interim
 * responses answer the same request); the default is GET.
 */
void		 cm_http_parser_set_method(struct cm_http_parser *p,
		    enum llhttp_method method);
/*
 * Reads a head from in.  1: the head is complete, its bytes are drained and
 * everything after it (body, next request, tunnel bytes after CONNECT) is
 * left in in.  0: need more bytes (nothing drained; call again when more
 * arrive, appended to in, which the caller must not drain meanwhile; no
 * byte past the head limit is ever scanned).  -1: refused, *why says why
 * and cm_http_parser_error() gives the status to answer.  Once the head is
 * complete it returns 1 until the next reset.
 */
int		 cm_http_head_read(struct cm_http_parser *p,
		    struct evbuffer *in, const char **why);
/*
 * The peer closed its side.  1: that ended the message (until-close body);
 * 0: a clean close between messages; -1: the message was truncated.
 */
int		 cm_http_parser_eof(struct cm_http_parser *p, const char **why);
/*
 * After -1: the status to answer (400, 414, 431, 505; 502 for a response
 * parser, 500 when out of memory) and, if reason is not NULL, its reason
 * token (bad_request, uri_too_long, headers_too_large, http_version,
 * upstream_protocol_error, internal_error).  0 when nothing was refused.
 */
int		 cm_http_parser_error(const struct cm_http_parser *p,
		    const char **reason);
/* The parsed head; owned by the parser until the reset.  NULL before. */
struct cm_http_msg *cm_http_parser_msg(const struct cm_http_parser *p);
/* Takes ownership of the parsed head (free it with cm_http_msg_free()). */
struct cm_http_msg *cm_http_parser_take(struct cm_http_parser *p);
/* Chunked trailers once the body is complete; NULL when there were none. */
const struct cm_http_fields *cm_http_parser_trailers(
		    const struct cm_http_parser *p);
/* Decoded body bytes appended to out so far for this message. */
uint64_t	 cm_http_parser_body_bytes(const struct cm_http_parser *p);
/* "Not Found" for 404; NULL for a status without a registered text. */
const char	*cm_http_status_text(int status);

/* ---- common/http_body.c: body decoding ------------------------------ */

/*
 * Consumes at most max framed body bytes from in and appends the decoded
 * payload to out, so out grows by at most max per call: the caller sizes
 * max by the room it has downstream.  1: the message is complete (bytes
 * after it stay in in); 0: either in is exhausted or max is spent: call
 * again when more bytes arrive or out has drained; -1: refused (bad chunk
 * syntax, bad trailers) and the connection must close.  No body (HEAD,
 * 1xx/204/304, CONNECT) gives 1 at once without touching in.  Chunked
 * trailers are checked like head fields and kept for
 * cm_http_parser_trailers().  Content-Length and until-close bodies move
 * evbuffer chains without copying.
 */
int		 cm_http_body_read(struct cm_http_parser *p,
		    struct evbuffer *in, struct evbuffer *out, size_t max,
		    const char **why);

/* ---- common/http_msg.c: the parsed head ----------------------------- */

void		 cm_http_msg_free(struct cm_http_msg *m);
enum cm_http_type cm_http_msg_type(const struct cm_http_msg *m);
/* Requests: the method (llhttp's value and its name), the target as sent. */
enum llhttp_method cm_http_msg_method(const struct cm_http_msg *m);
const char	*cm_http_msg_method_name(const struct cm_http_msg *m);
const char	*cm_http_msg_target(const struct cm_http_msg *m);
/* 10 for HTTP/1.0, 11 for HTTP/1.1. */
int		 cm_http_msg_version(const struct cm_http_msg *m);
/* Responses: the status code and the reason phrase ("" when absent). */
int		 cm_http_msg_status(const struct cm_http_msg *m);
const char	*cm_http_msg_reason(const struct cm_http_msg *m);
/* The fields in received order; the caller may edit them before writing. */
struct cm_http_fields *cm_http_msg_fields(struct cm_http_msg *m);
/*
 * The framing as received; *length (if not NULL) is the Content-Length for
 * CM_HTTP_FRAMING_LENGTH, 0 otherwise.
 */
enum cm_http_framing cm_http_msg_framing(const struct cm_http_msg *m,
		    uint64_t *length);
/*
 * 1 when the connection may carry another message after this one
 * (HTTP/1.1 without "close", HTTP/1.0 with "keep-alive", not until-close,
 * not a tunnel).
 */
int		 cm_http_msg_keep_alive(const struct cm_http_msg *m);
int		 cm_http_msg_is_connect(const struct cm_http_msg *m);
/*
 * The Upgrade field's value (e.g. "websocket") when the request asks for
 * an upgrade (Upgrade plus the Connection token "upgrade") or the response
 * is 101; NULL otherwise.
 */
const char	*cm_http_msg_upgrade(const struct cm_http_msg *m);
/*
 * 1 when the bytes after this head belong to another protocol: a CONNECT
 * request (once accepted), a 2xx answer to CONNECT, a 101.
 */
int		 cm_http_msg_tunnel(const struct cm_http_msg *m);
enum cm_http_expect cm_http_msg_expect(const struct cm_http_msg *m);

/* ---- common/http_fields.c: ordered field lists ---------------------- */

/*
 * Names keep their case and compare case-insensitively.  Values are stored
 * OWS-trimmed.  Every name is a token and no value holds CR, LF, NUL or
 * another CTL but HTAB, so writing a list can never split a message.
 */
struct cm_http_fields *cm_http_fields_new(void);
void		 cm_http_fields_free(struct cm_http_fields *f);
/* Number of fields; name and value of the i-th (i < len). */
size_t		 cm_http_fields_len(const struct cm_http_fields *f);
const char	*cm_http_fields_name(const struct cm_http_fields *f, size_t i);
const char	*cm_http_fields_value(const struct cm_http_fields *f, size_t i);
/* The first value of name, or NULL. */
const char	*cm_http_fields_get(const struct cm_http_fields *f,
		    const char *name);
/* How many fields are called name. */
size_t		 cm_http_fields_count(const struct cm_http_fields *f,
		    const char *name);
/*
 * All values of name joined with ", " (RFC 9110 §5.3), malloc'd for the
 * caller to free; NULL when name is absent or out of memory.
 */
char		*cm_http_fields_join(const struct cm_http_fields *f,
		    const char *name);
/* 1 if a comma-separated element of any name field equals token. */
int		 cm_http_fields_has_token(const struct cm_http_fields *f,
		    const char *name, const char *token);
/*
 * Appends a field.  -1 when name is not a token, value holds a CTL other
 * than HTAB, or out of memory.
 */
int		 cm_http_fields_add(struct cm_http_fields *f, const char *name,
		    const char *value);
/*
 * Replaces the first name field's value in place (keeping its position)
 * and removes the others, or appends.  -1 as cm_http_fields_add().
 */
int		 cm_http_fields_set(struct cm_http_fields *f, const char *name,
		    const char *value);
/* Replaces the value of the i-th field in place.  -1 as above. */
int		 cm_http_fields_set_at(struct cm_http_fields *f, size_t i,
		    const char *value);
/* Removes every name field; returns how many there were. */
size_t		 cm_http_fields_remove(struct cm_http_fields *f,
		    const char *name);
void		 cm_http_fields_remove_at(struct cm_http_fields *f, size_t i);

/* ---- common/http_write.c: re-serialisation (§2.3) ------------------- */

/*
 * Writes "METHOD SP target SP HTTP/1.1 CRLF", then "Host: host" if host is
 * not NULL (and then no Host from f), then f in order as "name: value
 * CRLF" without any Content-Length or Transfer-Encoding, then the framing
 * given (Content-Length: length, or Transfer-Encoding: chunked, or
 * nothing), then CRLF.  f may be NULL.  -1 with *why when method, target
 * or host would not survive a strict parser (out untouched), or when out
 * of memory (out may hold part of the head: close the connection).
 */
int		 cm_http_write_request(struct evbuffer *out, const char *method,
		    const char *target, const char *host,
		    const struct cm_http_fields *f,
		    enum cm_http_framing framing, uint64_t length,
		    const char **why);
/*
 * The same for "HTTP/1.1 SP status SP reason CRLF"; reason NULL means
 * cm_http_status_text().  CM_HTTP_FRAMING_CLOSE writes no framing field
 * (the caller adds Connection: close).
 */
int		 cm_http_write_response(struct evbuffer *out, int status,
		    const char *reason, const struct cm_http_fields *f,
		    enum cm_http_framing framing, uint64_t length,
		    const char **why);
/*
 * One chunk holding all of data (moved, not copied; data ends empty), or
 * nothing when data is empty, since a zero-size chunk would end the body.
 */
int		 cm_http_write_chunk(struct evbuffer *out,
		    struct evbuffer *data);
int		 cm_http_write_chunk_bytes(struct evbuffer *out,
		    const void *data, size_t len);
/* The last chunk, then trailers (may be NULL) minus framing fields. */
int		 cm_http_write_last_chunk(struct evbuffer *out,
		    const struct cm_http_fields *trailers);

#endif /* CM_HTTP_H */
