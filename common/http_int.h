/*
 * Private to the HTTP codec (common/http*.c): the structs behind the
 * opaque types of common/http.h and the functions the files share.
 * Nothing outside common/http*.c includes this.
 */
#ifndef CM_HTTP_INT_H
#define CM_HTTP_INT_H

#include <stddef.h>
#include <stdint.h>

#include "common/http.h"

/* One field; name and value share one allocation, name first. */
struct cm_http_field {
	char			*name;		/* owned: the allocation */
	char			*value;		/* inside name's allocation */
	size_t			 name_len;
	size_t			 value_len;
};

struct cm_http_fields {
	struct cm_http_field	*v;		/* owned */
	size_t			 n;
	size_t			 cap;
};

struct cm_http_msg {
	enum cm_http_type	 type;
	enum llhttp_method	 method;	/* requests */
	char			*target;	/* owned; requests, else "" */
	int			 version;	/* 10 or 11 */
	int			 status;	/* responses */
	char			*reason;	/* owned; responses, else "" */
	struct cm_http_fields	*fields;	/* owned */
	enum cm_http_framing	 framing;
	uint64_t		 length;	/* CM_HTTP_FRAMING_LENGTH */
	int			 keep_alive;
	int			 tunnel;
	char			*upgrade;	/* owned; NULL: no upgrade */
	enum cm_http_expect	 expect;
};

/* What the raw-byte pre-check is looking at. */
enum cm_http_scan_mode {
	CM_HTTP_SCAN_REQUEST,		/* request line, then fields */
	CM_HTTP_SCAN_RESPONSE,		/* status line, then fields */
	CM_HTTP_SCAN_TRAILER,		/* fields only, after the last chunk */
};

enum cm_http_scan_state {
	CM_HTTP_SCAN_LEAD_CR,		/* CR of the one allowed empty line */
	CM_HTTP_SCAN_METHOD,
	CM_HTTP_SCAN_TARGET,
	CM_HTTP_SCAN_RL_VERSION,	/* request line's HTTP/x.y */
	CM_HTTP_SCAN_SL_VERSION,	/* status line's HTTP/x.y */
	CM_HTTP_SCAN_CODE,
	CM_HTTP_SCAN_REASON,
	CM_HTTP_SCAN_START_CR,		/* CR ending the start line */
	CM_HTTP_SCAN_LINE,		/* start of a field line or the end */
	CM_HTTP_SCAN_NAME,
	CM_HTTP_SCAN_VALUE,
	CM_HTTP_SCAN_VALUE_CR,
	CM_HTTP_SCAN_END_CR,		/* CR of the empty line */
	CM_HTTP_SCAN_DONE,
};

/* Longest field name the pre-check classifies ("transfer-encoding"). */
#define CM_HTTP_SCAN_NAME_BYTES	18

/*
 * The pre-check of one head or trailer section, fed incrementally.  It
 * counts bytes against the limits and checks every byte's class; it does
 * not extract anything (llhttp does).
 */
struct cm_http_scan {
	enum cm_http_scan_mode	 mode;
	enum cm_http_scan_state	 state;
	size_t			 max_line;	/* start line, no CRLF */
	size_t			 max_bytes;	/* the whole section */
	size_t			 max_count;	/* field lines */
	size_t			 line;		/* start line bytes so far */
	size_t			 bytes;		/* section bytes so far */
	size_t			 count;		/* field lines so far */
	size_t			 lead;		/* empty line before the head */
	char			 ver[9];	/* "HTTP/1.1" */
	size_t			 ver_len;
	size_t			 part;		/* this start-line part */
	char			 name[CM_HTTP_SCAN_NAME_BYTES];	/* lower */
	size_t			 name_len;
	unsigned int		 n_cl;		/* Content-Length lines */
	unsigned int		 n_te;		/* Transfer-Encoding lines */
	unsigned int		 n_host;	/* Host lines */
	int			 status;	/* refusal: 400 ... 505 */
	const char		*reason;	/* refusal token */
	const char		*why;		/* refusal sentence */
};

/* A growable byte string for llhttp's partial spans. */
struct cm_http_buf {
	char			*p;		/* owned; NUL-terminated */
	size_t			 len;
	size_t			 cap;
};

enum cm_http_state {
	CM_HTTP_HEAD,			/* reading the head */
	CM_HTTP_BODY,			/* head done, body being decoded */
	CM_HTTP_TRAILER,		/* chunked: after the last chunk */
	CM_HTTP_DONE,			/* message complete; reset next */
	CM_HTTP_REFUSED,		/* sticky: close the connection */
};

struct cm_http_parser {
	enum cm_http_type	 type;
	struct cm_http_limits	 lim;
	enum cm_http_state	 state;	/* set only by cm_http_set() */
	llhttp_t		 ll;
	struct cm_http_scan	 scan;		/* head, then trailers */
	size_t			 scanned;	/* head bytes scanned in `in` */
	enum llhttp_method	 req_method;	/* responses: request's */
	struct cm_http_msg	*msg;		/* owned unless taken */
	struct cm_http_fields	*trailers;	/* owned; NULL: none */
	struct cm_http_fields	*collect;	/* borrowed: where fields go */
	struct cm_http_buf	 name;		/* field being assembled */
	struct cm_http_buf	 value;
	struct cm_http_buf	 target;	/* or the reason phrase */
	struct evbuffer		*out;		/* borrowed: body read */
	enum cm_http_framing	 framing;	/* copy: the msg may be taken */
	uint64_t		 remaining;	/* Content-Length left */
	uint64_t		 body_bytes;	/* decoded so far */
	size_t			 ext_bytes;	/* this chunk's extensions */
	int			 got_head;	/* llhttp saw the end of head */
	int			 last_chunk;	/* llhttp paused at "0" chunk */
	int			 complete;	/* llhttp paused at the end */
	int			 err_status;	/* refusal, once REFUSED */
	const char		*err_reason;
	const char		*err_why;
};

/* common/http.c */
int	 cm_http_refuse(struct cm_http_parser *p, int status,
	    const char *reason, const char *why);
int	 cm_http_refuse_bad(struct cm_http_parser *p, const char *why);
int	 cm_http_refuse_llhttp(struct cm_http_parser *p, llhttp_errno_t err);
void	 cm_http_set(struct cm_http_parser *p, enum cm_http_state state);

/* common/http_scan.c */
void	 cm_http_scan_init(struct cm_http_scan *s, enum cm_http_scan_mode mode,
	    const struct cm_http_limits *lim);
int	 cm_http_scan_feed(struct cm_http_scan *s, const unsigned char *p,
	    size_t len, size_t *used);
int	 cm_http_scan_is_token(const char *s, size_t len);
int	 cm_http_scan_is_value(const char *s, size_t len);
int	 cm_http_scan_target(enum llhttp_method method, const char *target,
	    const char **why);
int	 cm_http_scan_authority(const char *s, size_t len);
int	 cm_http_scan_uint(const char *s, uint64_t *out);

/* common/http_msg.c */
struct cm_http_msg *cm_http_msg_new(enum cm_http_type type);
int	 cm_http_msg_derive(struct cm_http_msg *m,
	    enum llhttp_method req_method, const char **why);

/* common/http_fields.c */
int	 cm_http_fields_push(struct cm_http_fields *f, const char *name,
	    size_t name_len, const char *value, size_t value_len);
int	 cm_http_fields_is(const struct cm_http_field *fl, const char *name);

#endif /* CM_HTTP_INT_H */
