/*
 * Request policy (spec/egress.md §1 stages 3-12, §3, §6, §7).  Every
 * refusal names its reason token; the order of the checks is the order
 * of the stages, so the first that refuses wins.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/http.h"
#include "common/routes.h"
#include "common/secrets.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "egress/conn.h"
#include "egress/dlp.h"
#include "egress/egress.h"
#include "egress/policy.h"
#include "egress/refuse.h"
#include "egress/xchg.h"

#define EG_LOCAL_HOST	"_egress.local"

static const char eg_gate_hint[] =
    "push through the git gate (git://SIDECAR:9418 or http://SIDECAR:9420)";

/*
 * Splits "host[:port]" or "[v6][:port]" (len bytes) and normalises the
 * host.  *port is -1 when absent.  0, or -1 with *why.
 */
static int
eg_policy_authority(const char *s, size_t len, char *host, size_t size,
    int *port, int *is_ip, const char **why)
{
	const char	*hs = s, *he, *ps = NULL;
	char		*end;
	long		 p;

	*port = -1;
	if (len > 0 && s[0] == '[') {
		if ((he = memchr(s, ']', len)) == NULL) {
			*why = "unterminated IPv6 literal";
			return (-1);
		}
		hs = s + 1;
		if ((size_t)(he + 1 - s) < len) {
			if (he[1] != ':') {
				*why = "junk after the IPv6 literal";
				return (-1);
			}
			ps = he + 2;
		}
	} else {
		he = memchr(s, ':', len);
		if (he != NULL)
			ps = he + 1;
		else
			he = s + len;
	}
	if (ps != NULL) {
		char	 buf[8];
		size_t	 pl = (size_t)(s + len - ps);

		if (pl == 0 || pl > 5) {
			*why = "bad port";
			return (-1);
		}
		memcpy(buf, ps, pl);
		buf[pl] = '\0';
		p = strtol(buf, &end, 10);
		if (*end != '\0' || !isdigit((unsigned char)buf[0]) || p < 1 ||
		    p > 65535) {
			*why = "bad port";
			return (-1);
		}
		*port = (int)p;
	}
	if (he == hs) {
		*why = "empty host";
		return (-1);
	}
	return (cm_host_normalise(hs, (size_t)(he - hs), host, size, is_ip,
	    why));
}

/* The Host field's value (exactly one on 1.1; the codec checked). */
static const char *
eg_policy_host_field(struct cm_http_msg *m)
{
	return (cm_http_fields_get(cm_http_msg_fields(m), "Host"));
}

int
eg_policy_connect(struct eg_conn *c, struct cm_http_msg *m,
    struct eg_refusal *r)
{
	struct cm_snap		*snap = cm_worker_snap(c->ew->w);
	const struct eg_cfg	*cfg = eg_cfg_of(snap);
	const char		*t = cm_http_msg_target(m), *hf, *why;
	const struct cm_route	*rt;
	char			 hhost[256];
	uint64_t		 len = 0;
	int			 port = -1, hport, is_ip = 0;

	if (cm_http_msg_framing(m, &len) != CM_HTTP_FRAMING_NONE &&
	    (cm_http_msg_framing(m, NULL) != CM_HTTP_FRAMING_LENGTH ||
	    len > 0)) {
		eg_refusal_set(r, 400, "bad_request",
		    "egress: CONNECT must not carry a body");
		r->close = 1;
		return (-1);
	}
	if (strchr(t, '/') != NULL || eg_policy_authority(t, strlen(t),
	    c->thost, sizeof(c->thost), &port, &is_ip, &why) == -1 ||
	    port == -1) {
		eg_refusal_set(r, 400, "bad_request",
		    "egress: CONNECT needs host:port (%s)", port == -1 &&
		    strchr(t, '/') == NULL ? "no port" : "bad authority");
		r->close = 1;
		return (-1);
	}
	if ((hf = eg_policy_host_field(m)) != NULL &&
	    (eg_policy_authority(hf, strlen(hf), hhost, sizeof(hhost), &hport,
	    NULL, &why) == -1 || strcmp(hhost, c->thost) != 0 ||
	    (hport != -1 && hport != port))) {
		eg_refusal_set(r, 400, "bad_request",
		    "egress: Host disagrees with the CONNECT target");
		r->close = 1;
		return (-1);
	}
	c->tport = port;
	c->tis_ip = is_ip;
	if (strcmp(c->thost, EG_LOCAL_HOST) == 0 && port == 443)
		return (0);
	rt = cfg != NULL ? cm_routes_lookup(cfg->routes, c->thost) : NULL;
	if (rt == NULL) {
		eg_refusal_set(r, 403, "host_not_allowed",
		    "egress: host not in routes.yaml: %s", c->thost);
		cm_strlcpy(r->host, c->thost, sizeof(r->host));
		return (-1);
	}
	if (!cm_route_port_allowed(rt, port, 1)) {
		eg_refusal_set(r, 403, "port_not_allowed",
		    "egress: port %d is not allowed for %s", port, c->thost);
		cm_strlcpy(r->host, c->thost, sizeof(r->host));
		return (-1);
	}
	if (eg_tunnels_acquire(c,
	    snap->settings->v[CM_S_EG_TUNNELS_PER_CLIENT]) == -1) {
		eg_refusal_set(r, 429, "too_many_tunnels",
		    "egress: too many tunnels from this client");
		return (-1);
	}
	/* Stage 3 of §3.1: the host labels, before any DNS (1: held). */
	return (eg_dlp_connect(c, rt, r));
}

/* Git smart HTTP service of the request: 1 push, 2 fetch, 0 neither. */
static int
eg_policy_git(struct cm_http_msg *m, const char *path, const char *query)
{
	struct cm_http_fields	*f = cm_http_msg_fields(m);
	const char		*last = strrchr(path, '/');
	const char		*ct = cm_http_fields_get(f, "Content-Type");
	char			*accept = cm_http_fields_join(f, "Accept");
	int			 kind = 0, i;
	static const char *const svc[2] = { "git-receive-pack",
					    "git-upload-pack" };

	last = last != NULL ? last + 1 : path;
	for (i = 0; i < 2 && kind == 0; i++) {
		char	 q[64], ctype[80], res[80];

		(void)snprintf(q, sizeof(q), "service=%s", svc[i]);
		(void)snprintf(ctype, sizeof(ctype), "application/x-%s-request",
		    svc[i]);
		(void)snprintf(res, sizeof(res), "application/x-%s-result",
		    svc[i]);
		if (strcasecmp(last, svc[i]) == 0 ||
		    (query != NULL && strcasestr(query, q) != NULL) ||
		    (ct != NULL && strncasecmp(ct, ctype, strlen(ctype)) == 0) ||
		    (accept != NULL && strcasestr(accept, res) != NULL))
			kind = i + 1;
	}
	free(accept);
	return (kind);
}

/* Removes the fields of §7.1 and restores what a WebSocket needs. */
static int
eg_policy_strip(struct eg_xchg *x)
{
	struct cm_http_fields	*f = cm_http_msg_fields(x->req);
	char			*conn, *tok, *save = NULL;
	static const char *const hop[] = {
		"Authorization", "Proxy-Authorization", "Keep-Alive",
		"Proxy-Connection", "TE", "Transfer-Encoding", "Upgrade",
		"HTTP2-Settings", "Expect", "Host", NULL
	};
	size_t			 i;

	x->r.te_trailers = cm_http_fields_has_token(f, "TE", "trailers");
	/* Every field Connection names goes, but never the framing ones. */
	if ((conn = cm_http_fields_join(f, "Connection")) != NULL) {
		for (tok = strtok_r(conn, ", \t", &save); tok != NULL;
		    tok = strtok_r(NULL, ", \t", &save))
			if (strcasecmp(tok, "Host") != 0 &&
			    strcasecmp(tok, "Content-Length") != 0 &&
			    strcasecmp(tok, "Transfer-Encoding") != 0)
				(void)cm_http_fields_remove(f, tok);
		free(conn);
	}
	(void)cm_http_fields_remove(f, "Connection");
	for (i = 0; hop[i] != NULL; i++)
		(void)cm_http_fields_remove(f, hop[i]);
	if (x->r.te_trailers && cm_http_fields_add(f, "TE", "trailers") == -1)
		return (-1);
	if (x->r.websocket) {
		/* No compression can be negotiated past the scanner (§13). */
		(void)cm_http_fields_remove(f, "Sec-WebSocket-Extensions");
		if (cm_http_fields_add(f, "Upgrade", "websocket") == -1 ||
		    cm_http_fields_add(f, "Connection", "Upgrade") == -1)
			return (-1);
	}
	return (0);
}

/* §7.2: offer the origin only codings the inbound scanner can decode. */
static int
eg_policy_accept_encoding(struct eg_xchg *x)
{
	struct cm_http_fields	*f = cm_http_msg_fields(x->req);
	char			*ae, *tok, *save = NULL, out[128] = "";
	static const char *const ok[] = { "gzip", "x-gzip", "deflate",
#ifdef HAVE_BROTLI
		"br",
#endif
		NULL };
	size_t			 i, n;

	if ((cm_route_inbound(x->r.route) == 0) ||
	    (ae = cm_http_fields_join(f, "Accept-Encoding")) == NULL)
		return (0);
	for (tok = strtok_r(ae, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		while (*tok == ' ' || *tok == '\t')
			tok++;
		n = strcspn(tok, " \t;");
		for (i = 0; ok[i] != NULL; i++)
			if (strlen(ok[i]) == n &&
			    strncasecmp(tok, ok[i], n) == 0 &&
			    strlen(out) + n + 3 < sizeof(out)) {
				if (out[0] != '\0')
					(void)strcat(out, ", ");
				(void)strncat(out, tok, n);
			}
	}
	free(ae);
	return (cm_http_fields_set(f, "Accept-Encoding",
	    out[0] != '\0' ? out : "identity"));
}

/* §7.3: the credential, or a 503 naming the variable. */
int
eg_policy_inject(struct eg_xchg *x, struct eg_refusal *r)
{
	const struct cm_route	*rt = x->r.route;
	const struct cm_secret	*s;
	const char		*env = cm_route_token_env(rt);
	char			*v;
	size_t			 i, n;
	int			 rc;

	if (cm_route_auth(rt) == CM_AUTH_NONE || env == NULL)
		return (0);
	s = cm_secrets_find(x->snap->secrets, env);
	for (i = 0; s != NULL && i < s->len; i++)
		if (s->bytes[i] < 0x21 || s->bytes[i] > 0x7e)
			break;
	if (s == NULL || s->len == 0 || i < s->len) {
		eg_refusal_set(r, 503, "token_unavailable",
		    "egress: credential %s for %s is not configured", env,
		    x->r.host);
		cm_strlcpy(r->host, x->r.host, sizeof(r->host));
		return (-1);
	}
	n = s->len + 8;
	if ((v = malloc(n)) == NULL)
		return (-1);
	(void)snprintf(v, n, "%s %.*s", cm_route_auth(rt) == CM_AUTH_BEARER ?
	    "Bearer" : "token", (int)s->len, (const char *)s->bytes);
	rc = cm_http_fields_add(cm_http_msg_fields(x->req), "Authorization",
	    v);
	explicit_bzero(v, n);
	free(v);
	return (rc);
}

/* Stage 3 for a request inside a tunnel. */
static int
eg_policy_tunnel_target(struct eg_xchg *x, struct eg_refusal *r,
    const char **pathp)
{
	struct eg_conn	*c = x->c;
	const char	*t = cm_http_msg_target(x->req), *hf, *why, *p;
	char		 host[256];
	int		 port;

	if (!c->sni_checked) {
		c->sni_checked = 1;
		if (c->sni[0] != '\0' && strcmp(c->sni, c->thost) != 0) {
			eg_refusal_set(r, 421, "sni_mismatch",
			    "egress: TLS SNI %s differs from the CONNECT host %s",
			    c->sni, c->thost);
			r->close = 1;
			return (-1);
		}
	}
	if (strncasecmp(t, "https://", 8) == 0) {
		p = strchr(t + 8, '/');
		if (p == NULL)
			p = t + strlen(t);
		if (eg_policy_authority(t + 8, (size_t)(p - t - 8), host,
		    sizeof(host), &port, NULL, &why) == -1 ||
		    strcmp(host, c->thost) != 0 ||
		    (port != -1 && port != c->tport)) {
			eg_refusal_set(r, 421, "host_mismatch",
			    "egress: request for another host than the tunnel's "
			    "(%s)", c->thost);
			return (-1);
		}
		x->r.absolute = 1;
		*pathp = *p == '\0' ? "/" : p;
	} else if (t[0] == '/')
		*pathp = t;
	else {
		eg_refusal_set(r, 400, "bad_request",
		    "egress: expected an origin-form request target");
		return (-1);
	}
	hf = eg_policy_host_field(x->req);
	if (hf == NULL || eg_policy_authority(hf, strlen(hf), host,
	    sizeof(host), &port, NULL, &why) == -1 ||
	    strcmp(host, c->thost) != 0 || (port != -1 && port != c->tport)) {
		eg_refusal_set(r, 421, "host_mismatch",
		    "egress: Host %s does not match the tunnel host %s",
		    hf != NULL && strlen(hf) < 200 ? host : "(missing)",
		    c->thost);
		return (-1);
	}
	cm_strlcpy(x->r.host, c->thost, sizeof(x->r.host));
	x->r.port = c->tport;
	x->r.is_ip = c->tis_ip;
	x->r.tls = 1;
	x->r.local = strcmp(c->thost, EG_LOCAL_HOST) == 0;
	return (0);
}

/* Stage 3 for plain HTTP: absolute-form, or origin-form to _egress.local. */
static int
eg_policy_plain_target(struct eg_xchg *x, struct eg_refusal *r,
    const char **pathp)
{
	const char	*t = cm_http_msg_target(x->req), *hf, *why, *p;
	char		 host[256];
	int		 port, hport;

	hf = eg_policy_host_field(x->req);
	if (t[0] == '/') {
		if (hf != NULL && eg_policy_authority(hf, strlen(hf), host,
		    sizeof(host), &port, NULL, &why) == 0 &&
		    strcmp(host, EG_LOCAL_HOST) == 0) {
			cm_strlcpy(x->r.host, host, sizeof(x->r.host));
			x->r.local = 1;
			*pathp = t;
			return (0);
		}
		eg_refusal_set(r, 400, "not_a_proxy_request",
		    "egress: this is a forward proxy; send an absolute-form "
		    "request or CONNECT");
		r->hint = "use CONNECT for https";
		return (-1);
	}
	if (strncasecmp(t, "http://", 7) != 0) {
		eg_refusal_set(r, 400, "not_a_proxy_request",
		    "egress: only http:// targets are proxied in the clear");
		r->hint = "use CONNECT for https";
		return (-1);
	}
	p = strchr(t + 7, '/');
	if (p == NULL)
		p = t + strlen(t);
	if (eg_policy_authority(t + 7, (size_t)(p - t - 7), x->r.host,
	    sizeof(x->r.host), &port, &x->r.is_ip, &why) == -1) {
		eg_refusal_set(r, 400, "bad_request", "egress: %s", why);
		return (-1);
	}
	x->r.port = port == -1 ? 80 : port;
	if (hf == NULL || eg_policy_authority(hf, strlen(hf), host,
	    sizeof(host), &hport, NULL, &why) == -1 ||
	    strcmp(host, x->r.host) != 0 ||
	    (hport == -1 ? 80 : hport) != x->r.port) {
		eg_refusal_set(r, 421, "host_mismatch",
		    "egress: Host does not match the request target %s",
		    x->r.host);
		return (-1);
	}
	x->r.absolute = 1;
	x->r.local = strcmp(x->r.host, EG_LOCAL_HOST) == 0;
	*pathp = *p == '\0' ? "/" : p;
	return (0);
}

/* Stages 7 and 8: git smart HTTP, then matches (again after redact). */
int
eg_policy_recheck(struct eg_xchg *x, struct eg_refusal *r)
{
	struct cm_http_msg	*m = x->req;
	const struct cm_route	*rt = x->r.route;
	const char		*method = cm_http_msg_method_name(m);
	int			 git;

	git = eg_policy_git(m, x->r.path, x->r.query);
	if (git == 1) {
		eg_refusal_set(r, 403, "git_push_blocked",
		    "egress: git push over HTTPS is not allowed");
		r->hint = eg_gate_hint;
		return (-1);
	}
	if (git == 2 && !cm_route_git_fetch(rt)) {
		eg_refusal_set(r, 403, "git_fetch_not_enabled",
		    "egress: git fetch is not enabled for %s", x->r.host);
		r->hint = "set git: {fetch: true} on the route, or use the git gate";
		return (-1);
	}
	/* Stage 8: matches see the agent's fields, before stripping. */
	if (!cm_route_matches(rt, method, x->r.path, cm_http_msg_fields(m))) {
		eg_refusal_set(r, 403, "match_failed",
		    "egress: %s %s is not allowed on %s", method,
		    strlen(x->r.path) < 200 ? x->r.path : "(long path)",
		    x->r.host);
		return (-1);
	}
	return (0);
}

int
eg_policy_request(struct eg_xchg *x, struct eg_refusal *r)
{
	struct cm_http_msg	*m = x->req;
	const char		*path, *why, *reason, *method;
	const struct cm_route	*rt;
	size_t			 plen;
	uint64_t		 len = 0;

	method = cm_http_msg_method_name(m);
	/* Stage 2: URL-encoded CRLF, on every route (§8.7). */
	if (eg_dlp_crlf(m, r) == -1)
		return (-1);
	if (cm_http_msg_method(m) == HTTP_PRI) {
		eg_refusal_set(r, 400, "bad_request",
		    "egress: HTTP/2 is not supported");
		r->close = 1;
		return (-1);
	}
	if ((x->c->tunnel ? eg_policy_tunnel_target(x, r, &path) :
	    eg_policy_plain_target(x, r, &path)) == -1)
		return (-1);
	if (path[0] == '*') {
		eg_refusal_set(r, 400, "bad_request",
		    "egress: asterisk-form is not proxied");
		return (-1);
	}
	x->r.query = strchr(path, '?');
	plen = x->r.query != NULL ? (size_t)(x->r.query - path) : strlen(path);
	if ((x->r.path = malloc(plen * 3 + 2)) == NULL ||
	    cm_path_normalise(path, plen, x->r.path, plen * 3 + 2, &why,
	    &reason) == -1) {
		eg_refusal_set(r, 400, x->r.path == NULL ? "internal_error" :
		    reason, "egress: %s", x->r.path == NULL ? "out of memory" :
		    why);
		return (-1);
	}
	x->r.path_changed = strlen(x->r.path) != plen ||
	    memcmp(x->r.path, path, plen) != 0;
	if (x->r.local)
		return (0);
	cm_strlcpy(r->host, x->r.host, sizeof(r->host));
	/* Stage 5: the route, from this request's snapshot. */
	rt = x->cfg != NULL ? cm_routes_lookup(x->cfg->routes, x->r.host) :
	    NULL;
	if (rt == NULL) {
		eg_refusal_set(r, 403, "host_not_allowed",
		    "egress: host not in routes.yaml: %s", x->r.host);
		cm_strlcpy(r->host, x->r.host, sizeof(r->host));
		return (-1);
	}
	x->r.route = rt;
	if (!cm_route_port_allowed(rt, x->r.port, x->r.tls)) {
		eg_refusal_set(r, 403, "port_not_allowed",
		    "egress: port %d is not allowed for %s", x->r.port,
		    x->r.host);
		cm_strlcpy(r->host, x->r.host, sizeof(r->host));
		return (-1);
	}
	/* Stage 6: methods, upgrades, Expect. */
	if (cm_http_msg_method(m) == HTTP_TRACE ||
	    strcmp(method, "TRACK") == 0 || cm_http_msg_method(m) == HTTP_CONNECT) {
		eg_refusal_set(r, 405, "method_not_allowed",
		    "egress: method %s is not allowed", method);
		return (-1);
	}
	switch (cm_http_msg_expect(m)) {
	case CM_HTTP_EXPECT_OTHER:
		eg_refusal_set(r, 417, "expectation_failed",
		    "egress: only Expect: 100-continue is supported");
		return (-1);
	case CM_HTTP_EXPECT_CONTINUE:
		x->r.expect_continue = 1;
		break;
	default:
		break;
	}
	x->r.websocket = cm_http_msg_upgrade(m) != NULL &&
	    strcasecmp(cm_http_msg_upgrade(m), "websocket") == 0 &&
	    cm_http_msg_method(m) == HTTP_GET;
	if (eg_policy_recheck(x, r) == -1)
		return (-1);
	/* Stage 9: credentials never in the clear; declared oversize. */
	if (!x->r.tls && cm_route_auth(rt) != CM_AUTH_NONE) {
		eg_refusal_set(r, 403, "plaintext_auth",
		    "egress: %s takes a credential; it is never sent in clear",
		    x->r.host);
		r->hint = "use https";
		return (-1);
	}
	if (cm_route_max_body(rt) > 0 && !cm_route_oversize_noscan(rt) &&
	    cm_http_msg_framing(m, &len) == CM_HTTP_FRAMING_LENGTH &&
	    len > cm_route_max_body(rt)) {
		eg_refusal_set(r, 413, "body_too_large",
		    "egress: request body of %llu bytes is over the route's "
		    "max_body_bytes", (unsigned long long)len);
		r->close = 1;
		return (-1);
	}
	/* Stage 10: what never leaves is never scanned. */
	if (eg_policy_strip(x) == -1 || eg_policy_accept_encoding(x) == -1) {
		eg_refusal_set(r, 500, "internal_error", "egress: out of memory");
		return (-1);
	}
	/* Stage 11 (DLP, dlp.c) and 12 (eg_policy_inject) follow. */
	return (0);
}
