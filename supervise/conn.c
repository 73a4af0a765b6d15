/*
 * MCP connections on the shared HTTP codec (spec/supervise.md §3.1
 * checks 1-6, §3.5 answering).  One request at a time: the head is
 * checked before the body is read, the body is read under
 * max_body_bytes, and the answer is either one JSON document with
 * Content-Length or an SSE stream (chunked) that carries progress while
 * a call waits.  A waiting call is not idle time.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/bounds.h"
#include "common/http.h"
#include "common/log.h"
#include "common/snapshot.h"
#include "common/worker.h"
#include "supervise/sv.h"

static void	 sv_conn_read_cb(struct bufferevent *, void *);
static void	 sv_conn_write_cb(struct bufferevent *, void *);
static void	 sv_conn_event_cb(struct bufferevent *, short, void *);
static void	 sv_conn_timer_cb(evutil_socket_t, short, void *);
static void	 sv_conn_reap_cb(evutil_socket_t, short, void *);
static void	 sv_conn_on_head(struct sv_conn *);
static void	 sv_conn_read_body(struct sv_conn *);
static void	 sv_conn_done(struct sv_conn *);
static void	 sv_conn_arm(struct sv_conn *, int);
static void	 sv_conn_refuse(struct sv_conn *, int, const char *,
		    const char *, int);
static int	 sv_conn_origin_ok(const struct sv_cfg *, const char *);
static void	 sv_conn_accepts(const char *, int *, int *);
static void	 sv_conn_write(struct sv_conn *, int, struct cm_http_fields *,
		    const char *, size_t);

static void
sv_conn_arm(struct sv_conn *c, int seconds)
{
	struct timeval	 tv = { seconds, 0 };

	if (seconds <= 0)
		evtimer_del(c->timer);
	else
		evtimer_add(c->timer, &tv);
}

void
sv_conn_accept(struct cm_worker *w, int fd, const struct sockaddr *sa,
    socklen_t salen, int listener)
{
	struct sv_worker	*sw = sv_worker_of(w);
	struct event_base	*base = cm_worker_base(w);
	const struct sv_cfg	*cfg = sv_cfg_of(cm_worker_snap(w));
	struct sv_conn		*c;
	char			 host[INET6_ADDRSTRLEN];

	if (sw == NULL || cfg == NULL || (c = calloc(1, sizeof(*c))) == NULL) {
		(void)close(fd);
		return;
	}
	c->sw = sw;
	c->id = ++sw->next_id;
	c->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
	c->parser = cm_http_parser_new(CM_HTTP_REQUEST, &cfg->lim);
	c->body = evbuffer_new();
	c->timer = evtimer_new(base, sv_conn_timer_cb, c);
	c->reap = event_new(base, -1, 0, sv_conn_reap_cb, c);
	if (c->bev == NULL || c->parser == NULL || c->body == NULL ||
	    c->timer == NULL || c->reap == NULL) {
		if (c->bev == NULL)
			(void)close(fd);
		sv_conn_reap_cb(-1, 0, c);
		return;
	}
	if (sa->sa_family == AF_INET)
		(void)inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->
		    sin_addr, host, sizeof(host));
	else if (sa->sa_family == AF_INET6)
		(void)inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->
		    sin6_addr, host, sizeof(host));
	else
		(void)snprintf(host, sizeof(host), "unknown");
	(void)snprintf(c->peer, sizeof(c->peer), "%s", host);
	TAILQ_INSERT_TAIL(&sw->conns, c, link);
	sw->nconns++;
	/* A head never needs more than its limit; a waiting call less. */
	bufferevent_setwatermark(c->bev, EV_READ, 0,
	    cfg->lim.header_bytes + SV_MAX_PIPELINE_BYTES);
	bufferevent_setcb(c->bev, sv_conn_read_cb, sv_conn_write_cb,
	    sv_conn_event_cb, c);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	c->state = SV_CONN_IDLE;
	sv_conn_arm(c, cfg->client_idle_s);
}

/* Safe from any callback of c, any number of times. */
void
sv_conn_close(struct sv_conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = 1;
	if (c->batch != NULL)
		sv_call_abort_batch(c->batch, "disconnected");
	TAILQ_REMOVE(&c->sw->conns, c, link);
	c->sw->nconns--;
	c->sw = NULL;
	bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	evtimer_del(c->timer);
	event_active(c->reap, EV_TIMEOUT, 0);
}

/* Frees c on the next loop turn; touches no worker state. */
static void
sv_conn_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sv_conn	*c = arg;

	if (c->bev != NULL)
		bufferevent_free(c->bev);
	cm_http_parser_free(c->parser);
	if (c->body != NULL)
		evbuffer_free(c->body);
	if (c->timer != NULL)
		event_free(c->timer);
	if (c->batch != NULL)
		sv_batch_free(c->batch);
	cm_snap_unref(c->snap);
	if (c->reap != NULL)
		event_free(c->reap);
	free(c);
}

static void
sv_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sv_conn	*c = arg;

	switch (c->state) {
	case SV_CONN_HEAD:
	case SV_CONN_BODY:
		sv_conn_refuse(c, 408, "request_timeout",
		    "bb-sidecar: request not complete in time", 0);
		break;
	case SV_CONN_BUSY:
		break;		/* waiting is never idle time */
	default:
		sv_conn_close(c, "idle");
		break;
	}
}

static void
sv_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct sv_conn	*c = arg;

	/* A disconnect removes a waiter but is not a cancellation. */
	sv_conn_close(c, (what & BEV_EVENT_EOF) ? "eof" : "error");
}

static void
sv_conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct sv_conn	*c = arg;

	if (c->state == SV_CONN_CLOSING &&
	    evbuffer_get_length(bufferevent_get_output(bev)) == 0)
		sv_conn_close(c, "done");
}

static void
sv_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct sv_conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	const struct sv_cfg	*cfg;
	const char		*why, *reason;
	char			 text[320];
	int			 rc, status;

	while (!c->dead) {
		switch (c->state) {
		case SV_CONN_IDLE:
			if (evbuffer_get_length(in) == 0)
				return;
			c->state = SV_CONN_HEAD;
			cfg = sv_cfg_of(cm_worker_snap(c->sw->w));
			sv_conn_arm(c, cfg->request_head_s);
			/* FALLTHROUGH */
		case SV_CONN_HEAD:
			rc = cm_http_head_read(c->parser, in, &why);
			if (rc == 0)
				return;
			if (rc == -1) {
				status = cm_http_parser_error(c->parser,
				    &reason);
				(void)snprintf(text, sizeof(text),
				    "bb-sidecar: %s", why);
				sv_conn_refuse(c, status, reason, text, 0);
				return;
			}
			sv_conn_on_head(c);
			break;
		case SV_CONN_BODY:
			sv_conn_read_body(c);
			if (c->state == SV_CONN_BODY)
				return;
			break;
		case SV_CONN_BUSY:
			return;		/* the next request waits its turn */
		case SV_CONN_CLOSING:
			evbuffer_drain(in, evbuffer_get_length(in));
			return;
		}
	}
}

/* Writes a head and body (Content-Length); takes f. */
static void
sv_conn_write(struct sv_conn *c, int status, struct cm_http_fields *f,
    const char *body, size_t len)
{
	struct evbuffer	*out = bufferevent_get_output(c->bev);
	const char	*why;

	if (f == NULL)
		f = cm_http_fields_new();
	if (f != NULL && !c->keep_alive)
		(void)cm_http_fields_add(f, "Connection", "close");
	if (f == NULL || cm_http_write_response(out, status, NULL, f,
	    CM_HTTP_FRAMING_LENGTH, len, &why) == -1) {
		cm_http_fields_free(f);
		sv_conn_close(c, "write failed");
		return;
	}
	cm_http_fields_free(f);
	if (len > 0)
		evbuffer_add(out, body, len);
}

/*
 * Answers a refusal before dispatch and logs it.  A refused request's
 * body is never read, so the connection closes unless it had none.
 */
static void
sv_conn_refuse(struct sv_conn *c, int status, const char *reason,
    const char *text, int keep)
{
	struct cm_http_fields	*f = cm_http_fields_new();

	cm_log(CM_LOG_INFO, "supervise", "http_refused", c->id,
	    json_pack("{s:i,s:s,s:s}", "status", status, "reason",
	    reason != NULL ? reason : "refused", "client", c->peer));
	if (!keep)
		c->keep_alive = 0;
	if (f != NULL)
		(void)cm_http_fields_add(f, "Content-Type",
		    "text/plain; charset=utf-8");
	if (text != NULL) {
		char	 buf[400];
		int	 n = snprintf(buf, sizeof(buf), "%s\n", text);

		sv_conn_write(c, status, f, buf, n > 0 && (size_t)n <
		    sizeof(buf) ? (size_t)n : strlen(buf));
	} else
		sv_conn_write(c, status, f, NULL, 0);
	sv_conn_done(c);
}

void
sv_conn_rpc_error(struct sv_conn *c, int status, int code,
    const char *message, int keep)
{
	struct cm_http_fields	*f = cm_http_fields_new();
	json_t			*err = sv_rpc_error(NULL, code, message);
	char			*s;

	cm_log(CM_LOG_INFO, "supervise", "rpc_error", c->id,
	    json_pack("{s:n,s:i,s:i,s:s,s:s}", "method", "code", code,
	    "http_status", status, "reason", message, "client", c->peer));
	if (!keep)
		c->keep_alive = 0;
	s = err != NULL ? json_dumps(err, JSON_COMPACT) : NULL;
	json_decref(err);
	if (f != NULL)
		(void)cm_http_fields_add(f, "Content-Type", "application/json");
	sv_conn_write(c, status, f, s, s != NULL ? strlen(s) : 0);
	free(s);
	sv_conn_done(c);
}

/* The request is answered: ready for the next one, or close. */
static void
sv_conn_done(struct sv_conn *c)
{
	const struct sv_cfg	*cfg;

	if (c->dead)
		return;
	if (c->batch != NULL) {
		sv_batch_free(c->batch);
		c->batch = NULL;
	}
	cm_snap_unref(c->snap);
	c->snap = NULL;
	c->sse = 0;
	evbuffer_drain(c->body, evbuffer_get_length(c->body));
	if (!c->keep_alive || c->sw->draining) {
		c->state = SV_CONN_CLOSING;
		evtimer_del(c->timer);
		bufferevent_disable(c->bev, EV_READ);
		if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
			sv_conn_close(c, "done");
		return;
	}
	cm_http_parser_reset(c->parser);
	c->state = SV_CONN_IDLE;
	cfg = sv_cfg_of(cm_worker_snap(c->sw->w));
	sv_conn_arm(c, cfg->client_idle_s);
	/* Pipelined bytes: the next request starts on the next turn. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		bufferevent_trigger(c->bev, EV_READ,
		    BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
}

/* Case-insensitive prefix test for media types. */
static int
sv_conn_media_is(const char *v, const char *type)
{
	size_t	 n = strlen(type);

	while (*v == ' ' || *v == '\t')
		v++;
	if (strncasecmp(v, type, n) != 0)
		return (0);
	v += n;
	while (*v == ' ' || *v == '\t')
		v++;
	return (*v == '\0' || *v == ';');
}

/* §3.1 check 5: which answers an Accept value allows (q=0 excludes). */
static void
sv_conn_accepts(const char *v, int *json, int *sse)
{
	char	*copy, *tok, *save = NULL, *semi, *q;

	*json = *sse = 0;
	if ((copy = strdup(v)) == NULL)
		return;
	for (tok = strtok_r(copy, ",", &save); tok != NULL;
	    tok = strtok_r(NULL, ",", &save)) {
		int zero = 0;

		if ((semi = strchr(tok, ';')) != NULL) {
			for (q = semi; q != NULL; q = strchr(q + 1, ';')) {
				const char *p = q + 1;

				while (*p == ' ' || *p == '\t')
					p++;
				if ((p[0] == 'q' || p[0] == 'Q') &&
				    p[1] == '=' && strtod(p + 2, NULL) <= 0.0)
					zero = 1;
			}
			*semi = '\0';
		}
		if (zero)
			continue;
		if (sv_conn_media_is(tok, "*/*")) {
			*json = *sse = 1;
		} else if (sv_conn_media_is(tok, "application/*") ||
		    sv_conn_media_is(tok, "application/json"))
			*json = 1;
		else if (sv_conn_media_is(tok, "text/*") ||
		    sv_conn_media_is(tok, "text/event-stream"))
			*sse = 1;
	}
	free(copy);
}

/* Splits "scheme://host[:port]"; 0 or -1.  host lower-cased. */
static int
sv_conn_origin_parse(const char *s, char *scheme, size_t sl, char *host,
    size_t hl, int *port)
{
	const char	*p = strstr(s, "://"), *h, *end, *colon;
	size_t		 n, i;

	*port = -1;
	if (p == NULL || (size_t)(p - s) >= sl || p == s)
		return (-1);
	memcpy(scheme, s, (size_t)(p - s));
	scheme[p - s] = '\0';
	h = p + 3;
	if (*h == '[') {
		if ((end = strchr(h, ']')) == NULL)
			return (-1);
		end++;
		colon = *end == ':' ? end : NULL;
		if (*end != '\0' && colon == NULL)
			return (-1);
	} else {
		colon = strchr(h, ':');
		end = colon != NULL ? colon : h + strlen(h);
	}
	n = (size_t)(end - h);
	if (n == 0 || n >= hl || memchr(h, '/', n) != NULL)
		return (-1);
	for (i = 0; i < n; i++)
		host[i] = (char)tolower((unsigned char)h[i]);
	host[n] = '\0';
	if (colon != NULL) {
		char	*e;
		long	 v;

		if (colon[1] == '\0')
			return (-1);
		v = strtol(colon + 1, &e, 10);
		if (*e != '\0' || v < 0 || v > 65535)
			return (-1);
		*port = (int)v;
	}
	return (0);
}

/* §3.1 check 2: entries without a port allow any port. */
static int
sv_conn_origin_ok(const struct sv_cfg *cfg, const char *origin)
{
	char	 os[16], oh[300], es[16], eh[300];
	int	 op, ep;
	size_t	 i;

	if (strcmp(origin, "null") == 0 ||
	    sv_conn_origin_parse(origin, os, sizeof(os), oh, sizeof(oh),
	    &op) == -1)
		return (0);
	if (op == -1)
		op = strcasecmp(os, "https") == 0 ? 443 : 80;
	for (i = 0; i < cfg->norigins; i++) {
		if (sv_conn_origin_parse(cfg->origins[i], es, sizeof(es), eh,
		    sizeof(eh), &ep) == -1)
			continue;
		if (strcasecmp(es, os) == 0 && strcmp(eh, oh) == 0 &&
		    (ep == -1 || ep == op))
			return (1);
	}
	return (0);
}

/* Checks 1-6 on a complete head (§3.1). */
static void
sv_conn_on_head(struct sv_conn *c)
{
	struct cm_http_msg	*m = cm_http_parser_msg(c->parser);
	struct cm_http_fields	*hf = cm_http_msg_fields(m);
	const struct sv_cfg	*cfg;
	enum llhttp_method	 meth = cm_http_msg_method(m);
	const char		*target = cm_http_msg_target(m), *v;
	char			 path[256], text[400], *accept;
	enum cm_http_framing	 fr;
	uint64_t		 len = 0;
	size_t			 pl;
	int			 has_body;

	c->snap = cm_snap_ref(cm_worker_snap(c->sw->w));
	cfg = sv_cfg_of(c->snap);
	c->keep_alive = cm_http_msg_keep_alive(m) && !c->sw->draining;
	fr = cm_http_msg_framing(m, &len);
	has_body = fr == CM_HTTP_FRAMING_CHUNKED ||
	    (fr == CM_HTTP_FRAMING_LENGTH && len > 0);
	pl = strcspn(target, "?");
	if (pl < sizeof(path)) {
		memcpy(path, target, pl);
		path[pl] = '\0';
	} else
		(void)snprintf(path, sizeof(path), "%.64s...", target);
	/* 1: the endpoint. */
	if (strcmp(path, "/") != 0 && strcmp(path, "/mcp") != 0) {
		(void)snprintf(text, sizeof(text),
		    "bb-sidecar: no MCP endpoint at %s", path);
		sv_conn_refuse(c, 404, "not_found", text, !has_body);
		return;
	}
	/* 2: Origin, ahead of method, media types, session and body. */
	if ((v = cm_http_fields_get(hf, "Origin")) != NULL &&
	    (cm_http_fields_count(hf, "Origin") > 1 ||
	    !sv_conn_origin_ok(cfg, v))) {
		sv_conn_rpc_error(c, 403, -32000, "origin not allowed",
		    !has_body);
		return;
	}
	/* 3: POST and DELETE only; no GET stream is ever opened. */
	if (meth != HTTP_POST && meth != HTTP_DELETE) {
		struct cm_http_fields *f = cm_http_fields_new();

		cm_log(CM_LOG_INFO, "supervise", "http_refused", c->id,
		    json_pack("{s:i,s:s,s:s}", "status", 405, "reason",
		    "method_not_allowed", "client", c->peer));
		if (has_body)
			c->keep_alive = 0;
		if (f != NULL)
			(void)cm_http_fields_add(f, "Allow", "POST, DELETE");
		sv_conn_write(c, 405, f, NULL, 0);
		sv_conn_done(c);
		return;
	}
	if (meth == HTTP_POST) {
		/* 4 */
		v = cm_http_fields_get(hf, "Content-Type");
		if (v == NULL || !sv_conn_media_is(v, "application/json")) {
			sv_conn_rpc_error(c, 415, -32000,
			    "Content-Type must be application/json", !has_body);
			return;
		}
		/* 5 */
		if ((accept = cm_http_fields_join(hf, "Accept")) != NULL) {
			sv_conn_accepts(accept, &c->accept_json,
			    &c->accept_sse);
			free(accept);
			if (!c->accept_json && !c->accept_sse) {
				sv_conn_rpc_error(c, 406, -32000,
				    "Accept must allow application/json or "
				    "text/event-stream", !has_body);
				return;
			}
		} else
			c->accept_json = c->accept_sse = 1;
		if (cm_http_msg_version(m) < 11)
			c->accept_sse = 0;	/* no chunked answer there */
	}
	/* 6: the size before reading; Expect: 100-continue gets 413. */
	if (fr == CM_HTTP_FRAMING_LENGTH && len > cfg->max_body) {
		(void)snprintf(text, sizeof(text), "body exceeds %zu bytes",
		    cfg->max_body);
		sv_conn_rpc_error(c, 413, -32000, text, 0);
		return;
	}
	if (cm_http_msg_expect(m) == CM_HTTP_EXPECT_OTHER) {
		sv_conn_refuse(c, 417, "expectation_failed",
		    "bb-sidecar: only Expect: 100-continue is understood", 0);
		return;
	}
	if (cm_http_msg_expect(m) == CM_HTTP_EXPECT_CONTINUE && has_body)
		evbuffer_add_printf(bufferevent_get_output(c->bev),
		    "HTTP/1.1 100 Continue\r\n\r\n");
	c->state = SV_CONN_BODY;
	sv_conn_arm(c, cfg->client_idle_s);
	sv_conn_read_body(c);
}

static void
sv_conn_read_body(struct sv_conn *c)
{
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	const struct sv_cfg	*cfg = sv_cfg_of(c->snap);
	struct cm_http_msg	*m;
	const char		*why;
	char			 text[96];
	int			 rc;

	for (;;) {
		size_t before = evbuffer_get_length(in);

		rc = cm_http_body_read(c->parser, in, c->body,
		    SV_MAX_PIPELINE_BYTES, &why);
		/* Chunked: the decoded total is checked as it grows. */
		if (cm_http_parser_body_bytes(c->parser) > cfg->max_body) {
			(void)snprintf(text, sizeof(text),
			    "body exceeds %zu bytes", cfg->max_body);
			sv_conn_rpc_error(c, 413, -32000, text, 0);
			return;
		}
		if (rc == -1) {
			char t[300];

			(void)snprintf(t, sizeof(t), "bb-sidecar: %s", why);
			sv_conn_refuse(c, 400, "bad_request", t, 0);
			return;
		}
		if (rc == 1)
			break;
		if (evbuffer_get_length(in) == before ||
		    evbuffer_get_length(in) == 0)
			return;		/* more bytes later */
	}
	c->state = SV_CONN_BUSY;
	evtimer_del(c->timer);
	m = cm_http_parser_msg(c->parser);
	if (cm_http_msg_method(m) == HTTP_DELETE)
		sv_rpc_delete(c, m);
	else
		sv_rpc_handle(c, m, c->body);
}

/* rpc.c answers a plain document through this (JSON mode). */
void
sv_conn_reply_json(struct sv_conn *c, int status, const json_t *doc,
    const char *session)
{
	struct cm_http_fields	*f = cm_http_fields_new();
	char			*s = NULL;

	if (doc != NULL)
		s = json_dumps(doc, JSON_COMPACT);
	if (f != NULL) {
		if (s != NULL)
			(void)cm_http_fields_add(f, "Content-Type",
			    "application/json");
		if (session != NULL && session[0] != '\0')
			(void)cm_http_fields_add(f, "Mcp-Session-Id", session);
	}
	sv_conn_write(c, status, f, s, s != NULL ? strlen(s) : 0);
	free(s);
	sv_conn_done(c);
}

int
sv_conn_sse_begin(struct sv_conn *c)
{
	struct cm_http_fields	*f;
	const char		*why;

	if (c->sse)
		return (1);
	if (!c->accept_sse || c->dead)
		return (0);
	if ((f = cm_http_fields_new()) == NULL)
		return (0);
	(void)cm_http_fields_add(f, "Content-Type", "text/event-stream");
	(void)cm_http_fields_add(f, "Cache-Control", "no-cache");
	if (c->batch != NULL && c->batch->new_session[0] != '\0')
		(void)cm_http_fields_add(f, "Mcp-Session-Id",
		    c->batch->new_session);
	if (!c->keep_alive)
		(void)cm_http_fields_add(f, "Connection", "close");
	if (cm_http_write_response(bufferevent_get_output(c->bev), 200, NULL,
	    f, CM_HTTP_FRAMING_CHUNKED, 0, &why) == -1) {
		cm_http_fields_free(f);
		return (0);
	}
	cm_http_fields_free(f);
	c->sse = 1;
	return (1);
}

void
sv_conn_sse_event(struct sv_conn *c, const json_t *msg)
{
	struct evbuffer	*ev;
	char		*s;

	if (!c->sse || c->dead || (s = json_dumps(msg, JSON_COMPACT)) == NULL)
		return;
	if ((ev = evbuffer_new()) != NULL) {
		evbuffer_add_printf(ev, "event: message\ndata: %s\n\n", s);
		(void)cm_http_write_chunk(bufferevent_get_output(c->bev), ev);
		evbuffer_free(ev);
	}
	free(s);
}

void
sv_conn_sse_comment(struct sv_conn *c, const char *text)
{
	struct evbuffer	*ev;

	if (!c->sse || c->dead || (ev = evbuffer_new()) == NULL)
		return;
	evbuffer_add_printf(ev, ": %s\n\n", text);
	(void)cm_http_write_chunk(bufferevent_get_output(c->bev), ev);
	evbuffer_free(ev);
}

void
sv_conn_abort(struct sv_conn *c, const char *why)
{
	sv_conn_close(c, why);
}

void
sv_conn_answer(struct sv_conn *c)
{
	struct sv_batch	*b = c->batch;
	json_t		*out, *a;
	size_t		 i, n = 0;

	if (b == NULL || c->dead)
		return;
	for (i = 0; i < json_array_size(b->answers); i++)
		if (!json_is_null(json_array_get(b->answers, i)))
			n++;
	/* A client that accepts only text/event-stream gets SSE always. */
	if (n > 0 && !c->accept_json && c->accept_sse)
		(void)sv_conn_sse_begin(c);
	if (c->sse) {
		for (i = 0; i < json_array_size(b->answers); i++)
			if (!json_is_null(a = json_array_get(b->answers, i)))
				sv_conn_sse_event(c, a);
		(void)cm_http_write_last_chunk(bufferevent_get_output(c->bev),
		    NULL);
		sv_conn_done(c);
		return;
	}
	if (n == 0) {
		/* A cancelled JSON-mode call has nothing to say: close. */
		if (b->http_status != 202) {
			sv_conn_close(c, "cancelled");
			return;
		}
		sv_conn_reply_json(c, 202, NULL, b->new_session);
		return;
	}
	if (b->is_array) {
		out = json_array();
		for (i = 0; i < json_array_size(b->answers); i++)
			if (!json_is_null(a = json_array_get(b->answers, i)))
				json_array_append(out, a);
	} else {
		out = NULL;
		for (i = 0; i < json_array_size(b->answers) && out == NULL;
		    i++)
			if (!json_is_null(a = json_array_get(b->answers, i)))
				out = json_incref(a);
	}
	sv_conn_reply_json(c, b->http_status == 202 ? 200 : b->http_status,
	    out, b->new_session);
	json_decref(out);
}
