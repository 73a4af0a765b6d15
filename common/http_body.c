/*
 * Body decoding under a caller's budget (spec/egress.md §10.1, §10.3).
 *
 * The budget is in framed input bytes: decoded output is never longer
 * than its framing, so out grows by at most the budget, and every input
 * byte taken is consumed for good (llhttp keeps chunk-size state, not
 * bytes).  Content-Length and until-close bodies are moved chain by chain
 * with evbuffer_remove_buffer(); chunked bodies go through llhttp, which
 * is paused at the last chunk so the trailer section passes the same
 * pre-check as a head before llhttp parses it.
 */
#include "config.h"

#include <assert.h>
#include <limits.h>

#include <event2/buffer.h>

#include "common/http_int.h"

static int	 cm_http_body_move(struct cm_http_parser *p,
		    struct evbuffer *in, struct evbuffer *out, size_t max);
static int	 cm_http_body_chunked(struct cm_http_parser *p,
		    struct evbuffer *in, struct evbuffer *out, size_t max);
static int	 cm_http_body_trailers(struct cm_http_parser *p);

/* Identity bytes: Content-Length (bounded by what is left) or until close. */
static int
cm_http_body_move(struct cm_http_parser *p, struct evbuffer *in,
    struct evbuffer *out, size_t max)
{
	size_t	 n = evbuffer_get_length(in);

	if (n > max)
		n = max;
	if (p->framing == CM_HTTP_FRAMING_LENGTH && n > p->remaining)
		n = (size_t)p->remaining;
	if (n > INT_MAX)
		n = INT_MAX;	/* evbuffer_remove_buffer() returns an int */
	if (n > 0 && evbuffer_remove_buffer(in, out, n) != (int)n)
		return (cm_http_refuse(p, 500, "internal_error",
		    "out of memory"));
	p->body_bytes += n;
	if (p->framing == CM_HTTP_FRAMING_LENGTH) {
		p->remaining -= n;
		if (p->remaining == 0) {
			cm_http_set(p, CM_HTTP_DONE);
			return (1);
		}
	}
	return (0);
}

/* After the last chunk: trailers are collected apart from the head. */
static int
cm_http_body_trailers(struct cm_http_parser *p)
{
	if ((p->trailers = cm_http_fields_new()) == NULL)
		return (cm_http_refuse(p, 500, "internal_error",
		    "out of memory"));
	p->collect = p->trailers;
	cm_http_scan_init(&p->scan, CM_HTTP_SCAN_TRAILER, &p->lim);
	cm_http_set(p, CM_HTTP_TRAILER);
	return (0);
}

static int
cm_http_body_chunked(struct cm_http_parser *p, struct evbuffer *in,
    struct evbuffer *out, size_t max)
{
	struct evbuffer_iovec	 v;
	const char		*base;
	size_t			 seg, took;
	llhttp_errno_t		 err;
	int			 ended = 0;

	while (max > 0 && (p->state == CM_HTTP_BODY ||
	    p->state == CM_HTTP_TRAILER)) {
		if (evbuffer_peek(in, -1, NULL, &v, 1) < 1 || v.iov_len == 0)
			break;
		base = v.iov_base;
		seg = v.iov_len < max ? v.iov_len : max;
		if (p->state == CM_HTTP_TRAILER) {
			/* The pre-check sees trailer bytes before llhttp. */
			ended = cm_http_scan_feed(&p->scan,
			    (const unsigned char *)base, seg, &seg);
			if (ended == -1)
				return (cm_http_refuse(p, p->scan.status,
				    p->scan.reason, p->scan.why));
		}
		p->out = out;
		err = llhttp_execute(&p->ll, base, seg);
		p->out = NULL;
		if (p->state == CM_HTTP_REFUSED)
			return (-1);	/* a callback refused */
		if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
			took = (size_t)(llhttp_get_error_pos(&p->ll) - base);
			llhttp_resume(&p->ll);
		} else if (err == HPE_OK)
			took = seg;
		else
			return (cm_http_refuse_llhttp(p, err));
		evbuffer_drain(in, took);
		max -= took;
		if (p->state == CM_HTTP_TRAILER &&
		    (took != seg || ended != p->complete))
			return (cm_http_refuse_bad(p,
			    "malformed chunked trailers"));
		if (p->complete)
			cm_http_set(p, CM_HTTP_DONE);
		else if (p->last_chunk && p->state == CM_HTTP_BODY &&
		    cm_http_body_trailers(p) == -1)
			return (-1);
	}
	return (p->state == CM_HTTP_DONE ? 1 : 0);
}

int
cm_http_body_read(struct cm_http_parser *p, struct evbuffer *in,
    struct evbuffer *out, size_t max, const char **why)
{
	int	 r;

	/* Reading a body before its head is a bug of the caller's. */
	assert(p->state != CM_HTTP_HEAD);
	switch (p->state) {
	case CM_HTTP_DONE:
		return (1);
	case CM_HTTP_BODY:
	case CM_HTTP_TRAILER:
		if (p->framing == CM_HTTP_FRAMING_CHUNKED)
			r = cm_http_body_chunked(p, in, out, max);
		else
			r = cm_http_body_move(p, in, out, max);
		if (r != -1)
			return (r);
		break;
	default:
		break;
	}
	*why = p->err_why;
	return (-1);
}
