/*
 * A parsed HTTP head and what follows from it: the request-target's form,
 * Host, the body framing (RFC 9112 §6.3 with the strict rules of
 * spec/egress.md §2.2), keep-alive, upgrade and Expect.  All of it is
 * decided once, when the head is complete, so later edits of the fields
 * (hop-by-hop stripping) do not change how the message was framed.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/http_int.h"

static int	 cm_http_msg_host(struct cm_http_msg *m, const char **why);
static int	 cm_http_msg_frame(struct cm_http_msg *m,
		    enum llhttp_method req_method, const char **why);
static int	 cm_http_msg_bodyless(const struct cm_http_msg *m,
		    enum llhttp_method req_method);

struct cm_http_msg *
cm_http_msg_new(enum cm_http_type type)
{
	struct cm_http_msg	*m;

	if ((m = calloc(1, sizeof(*m))) == NULL)
		return (NULL);
	m->type = type;
	m->method = HTTP_GET;
	m->version = 11;
	if ((m->fields = cm_http_fields_new()) == NULL) {
		free(m);
		return (NULL);
	}
	return (m);
}

void
cm_http_msg_free(struct cm_http_msg *m)
{
	if (m == NULL)
		return;
	free(m->target);
	free(m->reason);
	free(m->upgrade);
	cm_http_fields_free(m->fields);
	free(m);
}

/* Zero Host or several on HTTP/1.1 are ambiguous; userinfo is refused. */
static int
cm_http_msg_host(struct cm_http_msg *m, const char **why)
{
	const char	*h;
	size_t		 n = cm_http_fields_count(m->fields, "host");

	if (n > 1) {
		*why = "more than one Host";
		return (-1);
	}
	if (n == 0) {
		if (m->version == 11) {
			*why = "HTTP/1.1 request without Host";
			return (-1);
		}
		return (0);
	}
	h = cm_http_fields_get(m->fields, "host");
	switch (cm_http_scan_authority(h, strlen(h))) {
	case -2:
		*why = "userinfo in Host";
		return (-1);
	case -1:
		*why = "malformed Host";
		return (-1);
	}
	return (0);
}

/* RFC 9112 §6.3 items 1-2: responses that never have content. */
static int
cm_http_msg_bodyless(const struct cm_http_msg *m, enum llhttp_method req_method)
{
	if (m->status / 100 == 1 || m->status == 204 || m->status == 304)
		return (1);
	if (req_method == HTTP_HEAD)
		return (1);
	return (req_method == HTTP_CONNECT && m->status / 100 == 2);
}

/*
 * The framing.  Counts (several Content-Length, CL with TE) were refused
 * by the pre-check; the values are checked here, once, from the fields
 * llhttp extracted.
 */
static int
cm_http_msg_frame(struct cm_http_msg *m, enum llhttp_method req_method,
    const char **why)
{
	const char	*te, *cl;

	te = cm_http_fields_get(m->fields, "transfer-encoding");
	cl = cm_http_fields_get(m->fields, "content-length");
	m->framing = CM_HTTP_FRAMING_NONE;
	m->length = 0;

	if (te != NULL && strcasecmp(te, "chunked") != 0) {
		*why = "Transfer-Encoding other than exactly chunked";
		return (-1);
	}
	/* RFC 9112 §6.1: TE in an HTTP/1.0 message means faulty framing. */
	if (te != NULL && m->version == 10) {
		*why = "Transfer-Encoding in an HTTP/1.0 message";
		return (-1);
	}
	if (cl != NULL && cm_http_scan_uint(cl, &m->length) == -1) {
		*why = "Content-Length is not a decimal number";
		return (-1);
	}

	if (m->type == CM_HTTP_REQUEST && m->method == HTTP_CONNECT) {
		if (te != NULL || m->length > 0) {
			*why = "CONNECT with a body";
			return (-1);
		}
		m->tunnel = 1;
		m->length = 0;
		return (0);
	}
	if (m->type == CM_HTTP_RESPONSE && cm_http_msg_bodyless(m,
	    req_method)) {
		/* A HEAD or 304 answer's Content-Length stays in the fields. */
		m->tunnel = m->status == 101 || (req_method == HTTP_CONNECT &&
		    m->status / 100 == 2);
		m->length = 0;
		return (0);
	}
	if (te != NULL)
		m->framing = CM_HTTP_FRAMING_CHUNKED;
	else if (cl != NULL)
		m->framing = CM_HTTP_FRAMING_LENGTH;
	else if (m->type == CM_HTTP_RESPONSE)
		m->framing = CM_HTTP_FRAMING_CLOSE;
	return (0);
}

/*
 * Everything the head implies, decided once the head is complete.  -1
 * with *why on a request-target, Host or framing the codec refuses; -2
 * when out of memory.
 */
int
cm_http_msg_derive(struct cm_http_msg *m, enum llhttp_method req_method,
    const char **why)
{
	const char	*ex;
	int		 close;

	if (m->type == CM_HTTP_REQUEST) {
		if (cm_http_scan_target(m->method, m->target, why) == -1)
			return (-1);
		if (cm_http_msg_host(m, why) == -1)
			return (-1);
	}
	if (cm_http_msg_frame(m, req_method, why) == -1)
		return (-1);

	close = cm_http_fields_has_token(m->fields, "connection", "close");
	if (m->version == 11)
		m->keep_alive = !close;
	else
		m->keep_alive = !close && cm_http_fields_has_token(m->fields,
		    "connection", "keep-alive");
	if (m->framing == CM_HTTP_FRAMING_CLOSE || m->tunnel)
		m->keep_alive = 0;

	if (m->type == CM_HTTP_RESPONSE ? m->status == 101 :
	    cm_http_fields_has_token(m->fields, "connection", "upgrade")) {
		if (cm_http_fields_count(m->fields, "upgrade") > 0)
			m->upgrade = cm_http_fields_join(m->fields, "upgrade");
		else if (m->type == CM_HTTP_RESPONSE)
			m->upgrade = strdup("");	/* 101, no Upgrade */
		if (m->upgrade == NULL && (m->type == CM_HTTP_RESPONSE ||
		    cm_http_fields_count(m->fields, "upgrade") > 0))
			return (-2);
	}

	m->expect = CM_HTTP_EXPECT_NONE;
	if (m->type == CM_HTTP_REQUEST &&
	    (ex = cm_http_fields_get(m->fields, "expect")) != NULL) {
		if (cm_http_fields_count(m->fields, "expect") == 1 &&
		    strcasecmp(ex, "100-continue") == 0)
			m->expect = CM_HTTP_EXPECT_CONTINUE;
		else
			m->expect = CM_HTTP_EXPECT_OTHER;
	}
	return (0);
}

enum cm_http_type
cm_http_msg_type(const struct cm_http_msg *m)
{
	return (m->type);
}

enum llhttp_method
cm_http_msg_method(const struct cm_http_msg *m)
{
	return (m->method);
}

const char *
cm_http_msg_method_name(const struct cm_http_msg *m)
{
	return (llhttp_method_name(m->method));
}

const char *
cm_http_msg_target(const struct cm_http_msg *m)
{
	return (m->target != NULL ? m->target : "");
}

int
cm_http_msg_version(const struct cm_http_msg *m)
{
	return (m->version);
}

int
cm_http_msg_status(const struct cm_http_msg *m)
{
	return (m->status);
}

const char *
cm_http_msg_reason(const struct cm_http_msg *m)
{
	return (m->reason != NULL ? m->reason : "");
}

struct cm_http_fields *
cm_http_msg_fields(struct cm_http_msg *m)
{
	return (m->fields);
}

enum cm_http_framing
cm_http_msg_framing(const struct cm_http_msg *m, uint64_t *length)
{
	if (length != NULL)
		*length = m->framing == CM_HTTP_FRAMING_LENGTH ? m->length : 0;
	return (m->framing);
}

int
cm_http_msg_keep_alive(const struct cm_http_msg *m)
{
	return (m->keep_alive);
}

int
cm_http_msg_is_connect(const struct cm_http_msg *m)
{
	return (m->type == CM_HTTP_REQUEST && m->method == HTTP_CONNECT);
}

const char *
cm_http_msg_upgrade(const struct cm_http_msg *m)
{
	return (m->upgrade);
}

int
cm_http_msg_tunnel(const struct cm_http_msg *m)
{
	return (m->tunnel);
}

enum cm_http_expect
cm_http_msg_expect(const struct cm_http_msg *m)
{
	return (m->expect);
}
