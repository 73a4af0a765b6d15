/*
 * The HTTP/1.1 parser object: one per connection direction.
 *
 * A head is found by the pre-check (http_scan.c), which sees every byte
 * as it arrives and refuses at the limits; only a complete head is
 * linearised and handed to llhttp, whole, so llhttp never runs into the
 * body and the head's bytes can be drained exactly.  llhttp is used for
 * the head and for chunked bodies only: Content-Length and until-close
 * bodies are moved by http_body.c without it.  llhttp is built with
 * LLHTTP_STRICT_MODE and no lenient flag is ever set.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/bounds.h"
#include "common/http_int.h"

static void	 cm_http_limit(size_t *v, size_t def, size_t max);
static void	 cm_http_begin(struct cm_http_parser *p);
static int	 cm_http_buf_add(struct cm_http_parser *p,
		    struct cm_http_buf *b, const char *at, size_t len);
static void	 cm_http_buf_free(struct cm_http_buf *b);
static int	 cm_http_head_scan(struct cm_http_parser *p,
		    struct evbuffer *in);
static int	 cm_http_head_parse(struct cm_http_parser *p,
		    struct evbuffer *in);
static int	 cm_http_on_url(llhttp_t *ll, const char *at, size_t len);
static int	 cm_http_on_status(llhttp_t *ll, const char *at, size_t len);
static int	 cm_http_on_field(llhttp_t *ll, const char *at, size_t len);
static int	 cm_http_on_value(llhttp_t *ll, const char *at, size_t len);
static int	 cm_http_on_value_done(llhttp_t *ll);
static int	 cm_http_on_headers_done(llhttp_t *ll);
static int	 cm_http_on_body(llhttp_t *ll, const char *at, size_t len);
static int	 cm_http_on_ext(llhttp_t *ll, const char *at, size_t len);
static int	 cm_http_on_chunk_header(llhttp_t *ll);
static int	 cm_http_on_chunk_done(llhttp_t *ll);
static int	 cm_http_on_message_done(llhttp_t *ll);

/* Shared by every parser; llhttp wants it to outlive them. */
static const llhttp_settings_t cm_http_settings = {
	.on_url = cm_http_on_url,
	.on_status = cm_http_on_status,
	.on_header_field = cm_http_on_field,
	.on_header_value = cm_http_on_value,
	.on_header_value_complete = cm_http_on_value_done,
	.on_headers_complete = cm_http_on_headers_done,
	.on_body = cm_http_on_body,
	.on_chunk_extension_name = cm_http_on_ext,
	.on_chunk_extension_value = cm_http_on_ext,
	.on_chunk_header = cm_http_on_chunk_header,
	.on_chunk_complete = cm_http_on_chunk_done,
	.on_message_complete = cm_http_on_message_done,
};

void
cm_http_limits_default(struct cm_http_limits *lim)
{
	lim->request_line_bytes = CM_DEF_REQUEST_LINE_BYTES;
	lim->header_bytes = CM_DEF_HEADER_BYTES;
	lim->header_count = CM_DEF_HEADER_COUNT;
}

static void
cm_http_limit(size_t *v, size_t def, size_t max)
{
	if (*v == 0)
		*v = def;
	else if (*v > max)
		*v = max;
}

struct cm_http_parser *
cm_http_parser_new(enum cm_http_type type, const struct cm_http_limits *lim)
{
	struct cm_http_parser	*p;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (NULL);
	p->type = type;
	if (lim != NULL)
		p->lim = *lim;
	cm_http_limit(&p->lim.request_line_bytes, CM_DEF_REQUEST_LINE_BYTES,
	    CM_MAX_REQUEST_LINE_BYTES);
	cm_http_limit(&p->lim.header_bytes, CM_DEF_HEADER_BYTES,
	    CM_MAX_HEADER_BYTES);
	cm_http_limit(&p->lim.header_count, CM_DEF_HEADER_COUNT,
	    CM_MAX_HEADER_COUNT);
	p->req_method = HTTP_GET;
	cm_http_begin(p);
	return (p);
}

void
cm_http_parser_free(struct cm_http_parser *p)
{
	if (p == NULL)
		return;
	cm_http_msg_free(p->msg);
	cm_http_fields_free(p->trailers);
	cm_http_buf_free(&p->name);
	cm_http_buf_free(&p->value);
	cm_http_buf_free(&p->target);
	free(p);
}

void
cm_http_set(struct cm_http_parser *p, enum cm_http_state state)
{
	p->state = state;
}

/* A fresh message: what parser_new and every reset share. */
static void
cm_http_begin(struct cm_http_parser *p)
{
	cm_http_msg_free(p->msg);
	p->msg = NULL;
	cm_http_fields_free(p->trailers);
	p->trailers = NULL;
	p->collect = NULL;
	/* An idle keep-alive connection holds no head-sized buffers. */
	cm_http_buf_free(&p->name);
	cm_http_buf_free(&p->value);
	cm_http_buf_free(&p->target);
	llhttp_init(&p->ll, p->type == CM_HTTP_REQUEST ? HTTP_REQUEST :
	    HTTP_RESPONSE, &cm_http_settings);
	p->ll.data = p;
	cm_http_scan_init(&p->scan, p->type == CM_HTTP_REQUEST ?
	    CM_HTTP_SCAN_REQUEST : CM_HTTP_SCAN_RESPONSE, &p->lim);
	p->scanned = 0;
	p->out = NULL;
	p->framing = CM_HTTP_FRAMING_NONE;
	p->remaining = 0;
	p->body_bytes = 0;
	p->ext_bytes = 0;
	p->got_head = 0;
	p->last_chunk = 0;
	p->complete = 0;
	cm_http_set(p, CM_HTTP_HEAD);
}

void
cm_http_parser_reset(struct cm_http_parser *p)
{
	if (p->state == CM_HTTP_REFUSED)
		return;
	cm_http_begin(p);
}

void
cm_http_parser_set_method(struct cm_http_parser *p, enum llhttp_method method)
{
	p->req_method = method;
}

/*
 * Every refusal goes through here and is sticky.  A response parser
 * belongs to a proxy, which answers its own client 502 whatever the
 * origin got wrong.
 */
int
cm_http_refuse(struct cm_http_parser *p, int status, const char *reason,
    const char *why)
{
	if (p->state == CM_HTTP_REFUSED)
		return (-1);
	if (p->type == CM_HTTP_RESPONSE && status != 500) {
		status = 502;
		reason = "upstream_protocol_error";
	}
	p->err_status = status;
	p->err_reason = reason;
	p->err_why = why;
	if (p->state == CM_HTTP_HEAD) {
		cm_http_msg_free(p->msg);	/* half a head is no message */
		p->msg = NULL;
		p->collect = NULL;
	}
	cm_http_set(p, CM_HTTP_REFUSED);
	return (-1);
}

int
cm_http_refuse_bad(struct cm_http_parser *p, const char *why)
{
	return (cm_http_refuse(p, 400, "bad_request", why));
}

/*
 * llhttp's own refusals, for what the pre-check leaves to it: unknown
 * methods, value syntax of Content-Length and Transfer-Encoding, chunk
 * syntax.  Its reason strings are static too, but ours name the rule.
 */
int
cm_http_refuse_llhttp(struct cm_http_parser *p, llhttp_errno_t err)
{
	int	 body = p->state != CM_HTTP_HEAD;

	switch (err) {
	case HPE_INVALID_METHOD:
	case HPE_INVALID_CONSTANT:
		return (cm_http_refuse_bad(p, "unknown request method"));
	case HPE_INVALID_URL:
		return (cm_http_refuse_bad(p, "malformed request-target"));
	case HPE_INVALID_VERSION:
		return (cm_http_refuse_bad(p, "malformed HTTP version"));
	case HPE_INVALID_STATUS:
		return (cm_http_refuse_bad(p, "malformed status line"));
	case HPE_INVALID_HEADER_TOKEN:
		return (cm_http_refuse_bad(p, body ?
		    "invalid character in a trailer field" :
		    "invalid character in a header field"));
	case HPE_INVALID_CONTENT_LENGTH:
		return (cm_http_refuse_bad(p,
		    "Content-Length is not a decimal number"));
	case HPE_UNEXPECTED_CONTENT_LENGTH:
		return (cm_http_refuse_bad(p,
		    "Content-Length together with Transfer-Encoding"));
	case HPE_INVALID_TRANSFER_ENCODING:
		return (cm_http_refuse_bad(p,
		    "Transfer-Encoding other than exactly chunked"));
	case HPE_INVALID_CHUNK_SIZE:
		return (cm_http_refuse_bad(p, "malformed chunk size"));
	default:
		return (cm_http_refuse_bad(p, body ?
		    "malformed chunked framing" : "malformed head"));
	}
}

static int
cm_http_buf_add(struct cm_http_parser *p, struct cm_http_buf *b,
    const char *at, size_t len)
{
	char	*n;
	size_t	 cap;

	if (b->len + len + 1 > b->cap) {
		cap = b->cap == 0 ? 64 : b->cap;
		while (cap < b->len + len + 1)
			cap *= 2;
		if ((n = realloc(b->p, cap)) == NULL)
			return (cm_http_refuse(p, 500, "internal_error",
			    "out of memory"));
		b->p = n;
		b->cap = cap;
	}
	memcpy(b->p + b->len, at, len);
	b->len += len;
	b->p[b->len] = '\0';
	return (0);
}

static void
cm_http_buf_free(struct cm_http_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ---- llhttp callbacks: pieces of one span arrive in order ----------- */

static int
cm_http_on_url(llhttp_t *ll, const char *at, size_t len)
{
	struct cm_http_parser	*p = ll->data;

	return (cm_http_buf_add(p, &p->target, at, len));
}

static int
cm_http_on_status(llhttp_t *ll, const char *at, size_t len)
{
	struct cm_http_parser	*p = ll->data;

	return (cm_http_buf_add(p, &p->target, at, len));
}

static int
cm_http_on_field(llhttp_t *ll, const char *at, size_t len)
{
	struct cm_http_parser	*p = ll->data;

	return (cm_http_buf_add(p, &p->name, at, len));
}

static int
cm_http_on_value(llhttp_t *ll, const char *at, size_t len)
{
	struct cm_http_parser	*p = ll->data;

	return (cm_http_buf_add(p, &p->value, at, len));
}

/* llhttp keeps trailing OWS in values; the field list never does. */
static int
cm_http_on_value_done(llhttp_t *ll)
{
	struct cm_http_parser	*p = ll->data;
	const char		*v = p->value.p != NULL ? p->value.p : "";
	size_t			 vlen = p->value.len;

	while (vlen > 0 && (*v == ' ' || *v == '\t')) {
		v++;
		vlen--;
	}
	while (vlen > 0 && (v[vlen - 1] == ' ' || v[vlen - 1] == '\t'))
		vlen--;
	if (p->collect == NULL || cm_http_fields_push(p->collect,
	    p->name.p != NULL ? p->name.p : "", p->name.len, v, vlen) == -1)
		return (cm_http_refuse(p, 500, "internal_error",
		    "out of memory"));
	p->name.len = 0;
	p->value.len = 0;
	return (0);
}

/*
 * The head is complete: fill in the message and decide its framing.  The
 * return value tells llhttp whether to decode a body: only chunked ones
 * (0); for everything else it must skip the body (1) and stop.
 */
static int
cm_http_on_headers_done(llhttp_t *ll)
{
	struct cm_http_parser	*p = ll->data;
	struct cm_http_msg	*m = p->msg;
	const char		*why;

	m->version = ll->http_major * 10 + ll->http_minor;
	if (p->type == CM_HTTP_REQUEST) {
		m->method = (enum llhttp_method)ll->method;
		m->target = p->target.p != NULL ? p->target.p : strdup("");
	} else {
		m->status = ll->status_code;
		m->reason = p->target.p != NULL ? p->target.p : strdup("");
	}
	memset(&p->target, 0, sizeof(p->target));	/* moved into m */
	if ((p->type == CM_HTTP_REQUEST ? m->target : m->reason) == NULL)
		return (cm_http_refuse(p, 500, "internal_error",
		    "out of memory"));
	switch (cm_http_msg_derive(m, p->req_method, &why)) {
	case -1:
		return (cm_http_refuse_bad(p, why));
	case -2:
		return (cm_http_refuse(p, 500, "internal_error",
		    "out of memory"));
	}
	p->framing = m->framing;
	p->remaining = m->length;
	p->got_head = 1;
	return (m->framing == CM_HTTP_FRAMING_CHUNKED ? 0 : 1);
}

static int
cm_http_on_body(llhttp_t *ll, const char *at, size_t len)
{
	struct cm_http_parser	*p = ll->data;

	if (p->out == NULL)
		return (cm_http_refuse_bad(p, "body bytes inside the head"));
	if (evbuffer_add(p->out, at, len) == -1)
		return (cm_http_refuse(p, 500, "internal_error",
		    "out of memory"));
	p->body_bytes += len;
	return (0);
}

/* Extensions are skipped, not stored, but a chunk line stays a line. */
static int
cm_http_on_ext(llhttp_t *ll, const char *at, size_t len)
{
	struct cm_http_parser	*p = ll->data;

	p->ext_bytes += len;
	if (p->ext_bytes > p->lim.request_line_bytes)
		return (cm_http_refuse_bad(p, "chunk extensions too long"));
	return (0);
}

/* Pause at the last chunk so the trailers go through the pre-check. */
static int
cm_http_on_chunk_header(llhttp_t *ll)
{
	struct cm_http_parser	*p = ll->data;

	p->ext_bytes = 0;
	if (ll->content_length != 0)
		return (0);
	p->last_chunk = 1;
	return (HPE_PAUSED);
}

static int
cm_http_on_chunk_done(llhttp_t *ll)
{
	struct cm_http_parser	*p = ll->data;

	p->ext_bytes = 0;
	return (0);
}

/* Stop right after the message: what follows is the caller's. */
static int
cm_http_on_message_done(llhttp_t *ll)
{
	struct cm_http_parser	*p = ll->data;

	p->complete = 1;
	return (HPE_PAUSED);
}

/* ---- heads ----------------------------------------------------------- */

/* Runs the pre-check over the bytes of in not yet scanned. */
static int
cm_http_head_scan(struct cm_http_parser *p, struct evbuffer *in)
{
	struct evbuffer_ptr	 pos;
	struct evbuffer_iovec	 v[8];
	size_t			 used;
	int			 i, n, r;

	while (p->scanned < evbuffer_get_length(in)) {
		if (evbuffer_ptr_set(in, &pos, p->scanned,
		    EVBUFFER_PTR_SET) == -1)
			return (cm_http_refuse_bad(p, "malformed head"));
		n = evbuffer_peek(in, -1, &pos, v, 8);
		if (n <= 0)
			break;
		if (n > 8)
			n = 8;
		for (i = 0; i < n; i++) {
			r = cm_http_scan_feed(&p->scan, v[i].iov_base,
			    v[i].iov_len, &used);
			p->scanned += used;
			if (r == -1)
				return (cm_http_refuse(p, p->scan.status,
				    p->scan.reason, p->scan.why));
			if (r == 1)
				return (1);
		}
	}
	return (0);
}

/* The pre-check found a complete head of p->scanned bytes: parse it. */
static int
cm_http_head_parse(struct cm_http_parser *p, struct evbuffer *in)
{
	const char	*data, *start;
	size_t		 len = p->scanned - p->scan.lead;
	llhttp_errno_t	 err;

	if ((p->msg = cm_http_msg_new(p->type)) == NULL ||
	    (data = (const char *)evbuffer_pullup(in,
	    (ev_ssize_t)p->scanned)) == NULL)
		return (cm_http_refuse(p, 500, "internal_error",
		    "out of memory"));
	p->collect = p->msg->fields;
	start = data + p->scan.lead;
	err = llhttp_execute(&p->ll, start, len);
	if (p->state == CM_HTTP_REFUSED)
		return (-1);		/* a callback refused */
	if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
		if (llhttp_get_error_pos(&p->ll) != start + len)
			return (cm_http_refuse_bad(p, "malformed head"));
	} else if (err != HPE_OK) {
		/*
		 * TRACK is not a method llhttp knows, but it is one every
		 * HTTP front refuses by name (spec/egress.md §6.1): 405.
		 */
		if (p->type == CM_HTTP_REQUEST && err == HPE_INVALID_METHOD &&
		    len > 6 && memcmp(start, "TRACK ", 6) == 0)
			return (cm_http_refuse(p, 405, "method_not_allowed",
			    "method TRACK is not allowed"));
		return (cm_http_refuse_llhttp(p, err));
	}
	/* The pre-check and llhttp must agree on where the head ends. */
	if (!p->got_head || (err == HPE_OK) !=
	    (p->framing == CM_HTTP_FRAMING_CHUNKED))
		return (cm_http_refuse_bad(p, "malformed head"));
	evbuffer_drain(in, p->scanned);
	p->scanned = 0;
	if (p->framing == CM_HTTP_FRAMING_NONE ||
	    (p->framing == CM_HTTP_FRAMING_LENGTH && p->remaining == 0))
		cm_http_set(p, CM_HTTP_DONE);
	else
		cm_http_set(p, CM_HTTP_BODY);
	return (1);
}

int
cm_http_head_read(struct cm_http_parser *p, struct evbuffer *in,
    const char **why)
{
	int	 r;

	if (p->state == CM_HTTP_HEAD) {
		if ((r = cm_http_head_scan(p, in)) == 1)
			r = cm_http_head_parse(p, in);
		if (r == 0)
			return (0);
	}
	if (p->state == CM_HTTP_REFUSED) {
		*why = p->err_why;
		return (-1);
	}
	return (1);
}

int
cm_http_parser_eof(struct cm_http_parser *p, const char **why)
{
	switch (p->state) {
	case CM_HTTP_DONE:
		return (0);
	case CM_HTTP_HEAD:
		if (p->scanned == 0)
			return (0);
		cm_http_refuse_bad(p, "connection closed inside the head");
		break;
	case CM_HTTP_BODY:
		if (p->framing == CM_HTTP_FRAMING_CLOSE) {
			cm_http_set(p, CM_HTTP_DONE);
			return (1);
		}
		/* FALLTHROUGH */
	case CM_HTTP_TRAILER:
		cm_http_refuse_bad(p, "connection closed inside the body");
		break;
	case CM_HTTP_REFUSED:
		break;
	}
	*why = p->err_why;
	return (-1);
}

int
cm_http_parser_error(const struct cm_http_parser *p, const char **reason)
{
	if (p->state != CM_HTTP_REFUSED)
		return (0);
	if (reason != NULL)
		*reason = p->err_reason;
	return (p->err_status);
}

struct cm_http_msg *
cm_http_parser_msg(const struct cm_http_parser *p)
{
	return (p->state == CM_HTTP_HEAD ? NULL : p->msg);
}

struct cm_http_msg *
cm_http_parser_take(struct cm_http_parser *p)
{
	struct cm_http_msg	*m;

	if (p->state == CM_HTTP_HEAD)
		return (NULL);
	m = p->msg;
	p->msg = NULL;
	return (m);
}

const struct cm_http_fields *
cm_http_parser_trailers(const struct cm_http_parser *p)
{
	if (p->state != CM_HTTP_DONE || p->trailers == NULL ||
	    cm_http_fields_len(p->trailers) == 0)
		return (NULL);
	return (p->trailers);
}

uint64_t
cm_http_parser_body_bytes(const struct cm_http_parser *p)
{
	return (p->body_bytes);
}

/* RFC 9110 §15. */
const char *
cm_http_status_text(int status)
{
	static const struct {
		int		 code;
		const char	*text;
	} t[] = {
		{ 100, "Continue" }, { 101, "Switching Protocols" },
		{ 103, "Early Hints" },
		{ 200, "OK" }, { 201, "Created" }, { 202, "Accepted" },
		{ 203, "Non-Authoritative Information" },
		{ 204, "No Content" }, { 205, "Reset Content" },
		{ 206, "Partial Content" },
		{ 300, "Multiple Choices" }, { 301, "Moved Permanently" },
		{ 302, "Found" }, { 303, "See Other" },
		{ 304, "Not Modified" }, { 305, "Use Proxy" },
		{ 307, "Temporary Redirect" }, { 308, "Permanent Redirect" },
		{ 400, "Bad Request" }, { 401, "Unauthorized" },
		{ 402, "Payment Required" }, { 403, "Forbidden" },
		{ 404, "Not Found" }, { 405, "Method Not Allowed" },
		{ 406, "Not Acceptable" },
		{ 407, "Proxy Authentication Required" },
		{ 408, "Request Timeout" }, { 409, "Conflict" },
		{ 410, "Gone" }, { 411, "Length Required" },
		{ 412, "Precondition Failed" }, { 413, "Content Too Large" },
		{ 414, "URI Too Long" }, { 415, "Unsupported Media Type" },
		{ 416, "Range Not Satisfiable" },
		{ 417, "Expectation Failed" }, { 421, "Misdirected Request" },
		{ 422, "Unprocessable Content" }, { 426, "Upgrade Required" },
		{ 428, "Precondition Required" },
		{ 429, "Too Many Requests" },
		{ 431, "Request Header Fields Too Large" },
		{ 451, "Unavailable For Legal Reasons" },
		{ 500, "Internal Server Error" }, { 501, "Not Implemented" },
		{ 502, "Bad Gateway" }, { 503, "Service Unavailable" },
		{ 504, "Gateway Timeout" },
		{ 505, "HTTP Version Not Supported" },
	};
	size_t	 i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (t[i].code == status)
			return (t[i].text);
	return (NULL);
}
