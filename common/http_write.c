/*
 * Re-serialisation (spec/egress.md §2.3, §10.3): fresh start lines, the
 * fields of a cm_http_fields list as "name: value CRLF", and framing the
 * caller re-derives, never the peer's.  Together with the strict parser
 * this is what closes request smuggling and response splitting: the next
 * hop sees exactly one message per message, framed one way.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/http_int.h"

static int	 cm_http_write_target_ok(const char *t);
static int	 cm_http_write_fields(struct evbuffer *out,
		    const struct cm_http_fields *f, int skip_host);
static int	 cm_http_write_end(struct evbuffer *out,
		    const struct cm_http_fields *f, int skip_host,
		    enum cm_http_framing framing, uint64_t length);

/* What our own parser would accept: VCHAR but '#' and '\'. */
static int
cm_http_write_target_ok(const char *t)
{
	if (*t == '\0')
		return (0);
	for (; *t != '\0'; t++)
		if ((unsigned char)*t <= 0x20 || (unsigned char)*t >= 0x7f ||
		    *t == '#' || *t == '\\')
			return (0);
	return (1);
}

/*
 * The list's fields minus framing, which the caller re-derives.  The list
 * only holds checked names and values (http_fields.c).
 */
static int
cm_http_write_fields(struct evbuffer *out, const struct cm_http_fields *f,
    int skip_host)
{
	const struct cm_http_field	*fl;
	size_t				 i;

	for (i = 0; f != NULL && i < f->n; i++) {
		fl = &f->v[i];
		if (cm_http_fields_is(fl, "content-length") ||
		    cm_http_fields_is(fl, "transfer-encoding") ||
		    (skip_host && cm_http_fields_is(fl, "host")))
			continue;
		if (evbuffer_add(out, fl->name, fl->name_len) == -1 ||
		    evbuffer_add(out, ": ", 2) == -1 ||
		    evbuffer_add(out, fl->value, fl->value_len) == -1 ||
		    evbuffer_add(out, "\r\n", 2) == -1)
			return (-1);
	}
	return (0);
}

/* Fields, the framing field, the empty line. */
static int
cm_http_write_end(struct evbuffer *out, const struct cm_http_fields *f,
    int skip_host, enum cm_http_framing framing, uint64_t length)
{
	if (cm_http_write_fields(out, f, skip_host) == -1)
		return (-1);
	switch (framing) {
	case CM_HTTP_FRAMING_LENGTH:
		if (evbuffer_add_printf(out, "Content-Length: %" PRIu64 "\r\n",
		    length) == -1)
			return (-1);
		break;
	case CM_HTTP_FRAMING_CHUNKED:
		if (evbuffer_add(out, "Transfer-Encoding: chunked\r\n",
		    28) == -1)
			return (-1);
		break;
	case CM_HTTP_FRAMING_NONE:
	case CM_HTTP_FRAMING_CLOSE:
		break;
	}
	return (evbuffer_add(out, "\r\n", 2));
}

int
cm_http_write_request(struct evbuffer *out, const char *method,
    const char *target, const char *host, const struct cm_http_fields *f,
    enum cm_http_framing framing, uint64_t length, const char **why)
{
	if (!cm_http_scan_is_token(method, strlen(method))) {
		*why = "method is not a token";
		return (-1);
	}
	if (!cm_http_write_target_ok(target)) {
		*why = "request-target has bytes a strict parser refuses";
		return (-1);
	}
	if (host != NULL && cm_http_scan_authority(host, strlen(host)) != 0) {
		*why = "Host is not an authority";
		return (-1);
	}
	if (evbuffer_add_printf(out, "%s %s HTTP/1.1\r\n", method,
	    target) == -1 || (host != NULL &&
	    evbuffer_add_printf(out, "Host: %s\r\n", host) == -1) ||
	    cm_http_write_end(out, f, host != NULL, framing, length) == -1) {
		*why = "out of memory";
		return (-1);
	}
	return (0);
}

int
cm_http_write_response(struct evbuffer *out, int status, const char *reason,
    const struct cm_http_fields *f, enum cm_http_framing framing,
    uint64_t length, const char **why)
{
	if (status < 100 || status > 599) {
		*why = "status code out of range";
		return (-1);
	}
	if (reason == NULL && (reason = cm_http_status_text(status)) == NULL)
		reason = "";
	if (!cm_http_scan_is_value(reason, strlen(reason))) {
		*why = "reason phrase holds a control character";
		return (-1);
	}
	if (evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\n", status,
	    reason) == -1 ||
	    cm_http_write_end(out, f, 0, framing, length) == -1) {
		*why = "out of memory";
		return (-1);
	}
	return (0);
}

int
cm_http_write_chunk(struct evbuffer *out, struct evbuffer *data)
{
	size_t	 n = evbuffer_get_length(data);

	if (n == 0)
		return (0);
	if (evbuffer_add_printf(out, "%zx\r\n", n) == -1 ||
	    evbuffer_add_buffer(out, data) == -1 ||
	    evbuffer_add(out, "\r\n", 2) == -1)
		return (-1);
	return (0);
}

int
cm_http_write_chunk_bytes(struct evbuffer *out, const void *data, size_t len)
{
	if (len == 0)
		return (0);
	if (evbuffer_add_printf(out, "%zx\r\n", len) == -1 ||
	    evbuffer_add(out, data, len) == -1 ||
	    evbuffer_add(out, "\r\n", 2) == -1)
		return (-1);
	return (0);
}

int
cm_http_write_last_chunk(struct evbuffer *out,
    const struct cm_http_fields *trailers)
{
	if (evbuffer_add(out, "0\r\n", 3) == -1 ||
	    cm_http_write_fields(out, trailers, 0) == -1 ||
	    evbuffer_add(out, "\r\n", 2) == -1)
		return (-1);
	return (0);
}
