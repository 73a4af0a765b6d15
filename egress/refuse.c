#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/http.h"
#include "common/util.h"
#include "egress/refuse.h"

/* Every reason egress may answer, and its status (§2.5's table). */
static const struct {
	const char	*reason;
	int		 status;
} eg_refusal_table[] = {
	{ "bad_request", 400 }, { "not_a_proxy_request", 400 },
	{ "ambiguous_path", 400 },
	{ "host_not_allowed", 403 }, { "port_not_allowed", 403 },
	{ "tunnel_not_tls", 403 }, { "match_failed", 403 },
	{ "git_push_blocked", 403 }, { "git_fetch_not_enabled", 403 },
	{ "plaintext_auth", 403 }, { "private_address", 403 },
	{ "crlf_injection", 403 }, { "dlp_block", 403 },
	{ "dlp_unredactable", 403 }, { "dlp_rejected", 403 },
	{ "dlp_hold_timeout", 403 }, { "dlp_hold_unavailable", 403 },
	{ "injection_blocked", 403 },
	{ "not_found", 404 }, { "method_not_allowed", 405 },
	{ "request_timeout", 408 }, { "body_too_large", 413 },
	{ "uri_too_long", 414 }, { "expectation_failed", 417 },
	{ "host_mismatch", 421 }, { "sni_mismatch", 421 },
	{ "too_many_tunnels", 429 }, { "headers_too_large", 431 },
	{ "dns_failure", 502 }, { "upstream_connect_failed", 502 },
	{ "upstream_tls_failed", 502 }, { "upstream_protocol_error", 502 },
	{ "upstream_closed", 502 }, { "unscannable_encoding", 403 },
	{ "token_unavailable", 503 }, { "busy", 503 },
	{ "upstream_timeout", 504 }, { "http_version", 505 },
	{ "internal_error", 500 },
};

const char *
eg_refusal_reason_at(size_t i, int *status)
{
	if (i >= sizeof(eg_refusal_table) / sizeof(eg_refusal_table[0]))
		return (NULL);
	if (status != NULL)
		*status = eg_refusal_table[i].status;
	return (eg_refusal_table[i].reason);
}

int
eg_refusal_status(const char *reason)
{
	size_t	 i;

	for (i = 0; i < sizeof(eg_refusal_table) / sizeof(eg_refusal_table[0]);
	    i++)
		if (strcmp(eg_refusal_table[i].reason, reason) == 0)
			return (eg_refusal_table[i].status);
	return (0);
}

struct eg_refusal *
eg_refusal_set(struct eg_refusal *r, int status, const char *reason,
    const char *fmt, ...)
{
	va_list	 ap;

	memset(r, 0, sizeof(*r));
	r->status = status;
	r->reason = reason;
	va_start(ap, fmt);
	(void)vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
	va_end(ap);
	return (r);
}

int
eg_refusal_write(const struct eg_refusal *r, struct evbuffer *out)
{
	struct cm_http_fields	*f;
	struct evbuffer		*body;
	const char		*why;
	int			 rc = -1;

	if ((body = evbuffer_new()) == NULL)
		return (-1);
	evbuffer_add_printf(body, "bb-sidecar: %s\nreason: %s\n", r->msg,
	    r->reason);
	if (r->rule != NULL)
		evbuffer_add_printf(body, "rule: %s\n", r->rule);
	if (r->host[0] != '\0')
		evbuffer_add_printf(body, "host: %s\n", r->host);
	if (r->hint != NULL)
		evbuffer_add_printf(body, "hint: %s\n", r->hint);
	if ((f = cm_http_fields_new()) == NULL)
		goto out;
	if (cm_http_fields_add(f, "Content-Type",
	    "text/plain; charset=utf-8") == -1 ||
	    cm_http_fields_add(f, "Cache-Control", "no-store") == -1 ||
	    cm_http_fields_add(f, "X-Bb-Sidecar-Reason", r->reason) == -1 ||
	    (r->close && cm_http_fields_add(f, "Connection", "close") == -1))
		goto out;
	if (cm_http_write_response(out, r->status, NULL, f,
	    CM_HTTP_FRAMING_LENGTH, evbuffer_get_length(body), &why) == -1)
		goto out;
	evbuffer_add_buffer(out, body);
	rc = 0;
out:
	cm_http_fields_free(f);
	evbuffer_free(body);
	return (rc);
}
