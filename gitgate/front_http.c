/*
 * The smart HTTP front (spec/gitgate.md §2.3) on common's HTTP codec:
 * routes, head limits, request bodies (chunked, gzip), 100-continue,
 * chunked responses and keep-alive.  Each request is one stateless
 * session; the body is decoded into the session's input as it arrives.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "common/http.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "gitgate/conf.h"
#include "gitgate/conn.h"
#include "gitgate/gg.h"
#include "gitgate/route.h"
#include "gitgate/sess.h"

/* Raw body bytes decoded per call before the session gets its turn. */
#define GG_HTTP_BODY_STEP	(256 * 1024)

struct gg_http {
	struct cm_http_parser	*parser;	/* owned */
	struct evbuffer		*body;		/* owned: decoded, to session */
	struct evbuffer		*raw;		/* owned: de-chunked */
	z_stream		 z;
	int			 gzip;		/* z is initialised */
	int			 head_clock;	/* the head's first byte came */
	uint64_t		 head_ms;
	int			 body_done;
	int			 started;	/* response head sent */
	int			 chunked;	/* ...and it was chunked */
	int			 keep;		/* keep-alive possible */
	enum gg_svc		 svc;
	int			 adv;		/* info/refs response */
	uint64_t		 limit;		/* decoded body bytes allowed */
	uint64_t		 decoded;
	uint64_t		 idle_ms;	/* between requests since */
};

void
gg_http_free(struct gg_http *h)
{
	if (h == NULL)
		return;
	cm_http_parser_free(h->parser);
	if (h->body != NULL)
		evbuffer_free(h->body);
	if (h->raw != NULL)
		evbuffer_free(h->raw);
	if (h->gzip)
		inflateEnd(&h->z);
	free(h);
}

void
gg_http_start(struct gg_conn *c)
{
	const struct cm_settings *s = cm_worker_snap(c->gw->w)->settings;
	struct cm_http_limits	 lim;
	struct gg_http		*h;

	if ((h = calloc(1, sizeof(*h))) == NULL) {
		gg_conn_close(c, "out_of_memory");
		return;
	}
	lim.request_line_bytes = (size_t)s->v[CM_S_GG_REQUEST_LINE_BYTES];
	lim.header_bytes = (size_t)s->v[CM_S_GG_HEADER_BYTES];
	lim.header_count = (size_t)s->v[CM_S_GG_HEADER_COUNT];
	h->parser = cm_http_parser_new(CM_HTTP_REQUEST, &lim);
	h->body = evbuffer_new();
	h->raw = evbuffer_new();
	c->http = h;
	if (h->parser == NULL || h->body == NULL || h->raw == NULL) {
		gg_conn_close(c, "out_of_memory");
		return;
	}
	h->idle_ms = cm_now_ms();
}

int
gg_http_head_begun(struct gg_conn *c)
{
	return (c->http != NULL && c->http->head_clock);
}

int
gg_http_started(struct gg_conn *c)
{
	return (c->http != NULL && c->http->started);
}

static void
gg_http_common_fields(struct cm_http_fields *f)
{
	(void)cm_http_fields_add(f, "Cache-Control",
	    "no-cache, max-age=0, must-revalidate");
	(void)cm_http_fields_add(f, "Pragma", "no-cache");
	(void)cm_http_fields_add(f, "Expires", "Fri, 01 Jan 1980 00:00:00 GMT");
}

static void
gg_http_refuse_allow(struct gg_conn *c, int status, const char *reason,
    const char *msg, const char *allow)
{
	struct gg_http		*h = c->http;
	struct cm_http_fields	*f = cm_http_fields_new();
	struct cm_http_msg	*m = cm_http_parser_msg(h->parser);
	struct evbuffer		*out = gg_conn_output(c);
	const char		*why;
	char			 body[2048];
	size_t			 n;

	n = (size_t)snprintf(body, sizeof(body), "%s\n", msg);
	if (n >= sizeof(body))
		n = sizeof(body) - 1;
	cm_log(status >= 500 ? CM_LOG_WARN : CM_LOG_INFO, "gitgate",
	    "refused", c->id, json_pack("{s:s,s:s,s:i,s:s,s:s,s:o}", "client",
	    c->client, "front", "http", "status", status, "reason", reason,
	    "msg", msg, "target", m != NULL ? cm_log_peer(cm_http_msg_target(m),
	    strlen(cm_http_msg_target(m))) : json_null()));
	cm_metric_add(c->gw->w, gg_m.refusals, 1);
	if (f == NULL || h->started) {
		cm_http_fields_free(f);
		gg_conn_close(c, "refused");
		return;
	}
	(void)cm_http_fields_add(f, "Content-Type",
	    "text/plain; charset=utf-8");
	if (allow != NULL)
		(void)cm_http_fields_add(f, "Allow", allow);
	gg_http_common_fields(f);
	/* An unread body cannot be skipped safely: close after. */
	if (!h->body_done || m == NULL || !cm_http_msg_keep_alive(m))
		h->keep = 0;
	if (!h->keep)
		(void)cm_http_fields_add(f, "Connection", "close");
	if (cm_http_write_response(out, status, NULL, f,
	    CM_HTTP_FRAMING_LENGTH, n, &why) == -1 ||
	    evbuffer_add(out, body, n) == -1) {
		cm_http_fields_free(f);
		gg_conn_close(c, "out_of_memory");
		return;
	}
	cm_http_fields_free(f);
	h->started = 1;
	gg_conn_sent(c, n);
	/* A session ends itself (gg_sess_fail); a bare refusal ends here. */
	if (c->sess == NULL)
		gg_conn_over(c, h->keep);
}

void
gg_http_refuse(struct gg_conn *c, int status, const char *reason,
    const char *msg)
{
	gg_http_refuse_allow(c, status, reason, msg, NULL);
}

int
gg_http_send(struct gg_conn *c, struct evbuffer *data)
{
	struct gg_http		*h = c->http;
	struct evbuffer		*out = gg_conn_output(c);
	struct cm_http_fields	*f;
	const char		*why;
	char			 ct[64];
	size_t			 n = evbuffer_get_length(data);

	if (!h->started) {
		if ((f = cm_http_fields_new()) == NULL)
			return (-1);
		(void)snprintf(ct, sizeof(ct), "application/x-git-%s-%s",
		    h->svc == GG_SVC_UPLOAD ? "upload-pack" : "receive-pack",
		    h->adv ? "advertisement" : "result");
		(void)cm_http_fields_add(f, "Content-Type", ct);
		gg_http_common_fields(f);
		if (!h->keep)
			(void)cm_http_fields_add(f, "Connection", "close");
		if (cm_http_write_response(out, 200, NULL, f,
		    CM_HTTP_FRAMING_CHUNKED, 0, &why) == -1) {
			cm_http_fields_free(f);
			return (-1);
		}
		cm_http_fields_free(f);
		h->started = h->chunked = 1;
	}
	if (n == 0)
		return (0);
	gg_conn_sent(c, n);
	return (cm_http_write_chunk(out, data));
}

void
gg_http_sess_done(struct gg_conn *c, int ok)
{
	struct gg_http	*h = c->http;
	struct evbuffer	*empty;

	if (c->dead)
		return;
	if (!h->started) {
		/* The receive-pack probe: 200 and an empty body. */
		if ((empty = evbuffer_new()) == NULL || gg_http_send(c, empty)
		    == -1) {
			if (empty != NULL)
				evbuffer_free(empty);
			gg_conn_close(c, "out_of_memory");
			return;
		}
		evbuffer_free(empty);
	}
	if (h->chunked && ok)
		(void)cm_http_write_last_chunk(gg_conn_output(c), NULL);
	/*
	 * A chunked body cut short tells the client the answer failed.  A
	 * session with a job still out stays until the reap.
	 */
	if (!ok || !h->keep || !h->body_done || cm_worker_draining(c->gw->w) ||
	    (c->sess != NULL && c->refs > 0)) {
		gg_conn_finish(c);
		return;
	}
	gg_sess_free(c->sess);
	c->sess = NULL;
	/* Next request on the same connection. */
	cm_http_parser_reset(h->parser);
	evbuffer_drain(h->body, evbuffer_get_length(h->body));
	evbuffer_drain(h->raw, evbuffer_get_length(h->raw));
	if (h->gzip) {
		inflateEnd(&h->z);
		h->gzip = 0;
	}
	h->head_clock = h->body_done = h->started = h->chunked = h->adv = 0;
	h->decoded = 0;
	h->idle_ms = cm_now_ms();
	c->state = GG_CONN_REQUEST;
	bufferevent_enable(c->bev, EV_READ);
	if (evbuffer_get_length(gg_conn_input(c)) > 0)
		gg_conn_pump(c);
}

/* raw -> body through zlib; 0, or -1 on a bad stream. */
static int
gg_http_inflate(struct gg_http *h, int last)
{
	unsigned char	 obuf[64 * 1024];
	size_t		 n;
	int		 zr;

	while ((n = evbuffer_get_length(h->raw)) > 0) {
		if (n > 64 * 1024)
			n = 64 * 1024;
		h->z.next_in = evbuffer_pullup(h->raw, (ssize_t)n);
		h->z.avail_in = (uInt)n;
		do {
			h->z.next_out = obuf;
			h->z.avail_out = sizeof(obuf);
			zr = inflate(&h->z, Z_NO_FLUSH);
			if (zr != Z_OK && zr != Z_STREAM_END &&
			    zr != Z_BUF_ERROR)
				return (-1);
			if (evbuffer_add(h->body, obuf, sizeof(obuf) -
			    h->z.avail_out) == -1)
				return (-1);
			h->decoded += sizeof(obuf) - h->z.avail_out;
			if (h->decoded > h->limit)
				return (0);	/* the caller sees the limit */
		} while (h->z.avail_out == 0 && zr != Z_STREAM_END);
		(void)evbuffer_drain(h->raw, n - h->z.avail_in);
		if (zr == Z_STREAM_END) {
			if (evbuffer_get_length(h->raw) > 0)
				return (-1);	/* bytes after the stream */
			h->gzip = 2;
			return (0);
		}
		if (h->z.avail_in > 0 && zr == Z_BUF_ERROR)
			return (-1);
	}
	return (last && h->gzip != 2 ? -1 : 0);
}

static void
gg_http_body(struct gg_conn *c)
{
	struct gg_http		*h = c->http;
	struct evbuffer		*in = gg_conn_input(c);
	const char		*why;
	size_t			 before, n;
	int			 rc, any = 0;
	char			 msg[160];

	if (c->sess == NULL || c->sess->ended)
		return;
	while (!h->body_done &&
	    evbuffer_get_length(h->body) < GG_INTAKE_PENDING_BYTES) {
		before = evbuffer_get_length(in);
		rc = cm_http_body_read(h->parser, in, h->raw,
		    GG_HTTP_BODY_STEP, &why);
		if (rc == -1) {
			h->keep = 0;
			gg_sess_fail(c->sess, 400, "bb-sidecar: bad request "
			    "body: %s", why);
			return;
		}
		n = evbuffer_get_length(h->raw);
		if (h->gzip) {
			if (gg_http_inflate(h, rc == 1) == -1) {
				h->keep = 0;
				gg_sess_fail(c->sess, 400, "bb-sidecar: bad "
				    "gzip request body");
				return;
			}
		} else {
			h->decoded += n;
			(void)evbuffer_add_buffer(h->body, h->raw);
		}
		if (n > 0)
			any = 1;
		if (h->decoded > h->limit) {
			h->keep = 0;
			(void)snprintf(msg, sizeof(msg), "bb-sidecar: the "
			    "request exceeds max_request_bytes (%llu bytes)",
			    (unsigned long long)h->limit);
			gg_sess_fail(c->sess, 413, "%s", msg);
			return;
		}
		if (rc == 1) {
			h->body_done = 1;
			any = 1;
			break;
		}
		if (evbuffer_get_length(in) == before)
			break;
	}
	if (c->sess == NULL)
		return;
	/* Pipelined requests wait until this answer is out. */
	gg_conn_reading(c, !h->body_done &&
	    evbuffer_get_length(h->body) < GG_INTAKE_PENDING_BYTES);
	c->sess->in_eof = h->body_done;
	if (any || h->body_done)
		gg_sess_input(c->sess);
}

static void
gg_http_dispatch(struct gg_conn *c)
{
	struct gg_http		*h = c->http;
	struct cm_http_msg	*m = cm_http_parser_msg(h->parser);
	struct cm_http_fields	*f = cm_http_msg_fields(m);
	struct cm_snap		*snap = cm_worker_snap(c->gw->w);
	const struct cm_settings *s = snap->settings;
	const struct gg_cfg	*cfg = gg_cfg_of(snap);
	const struct gg_repo	*repo;
	struct gg_hroute	 rt;
	const char		*v, *ce;
	char			 name[GG_MAX_NAME_BYTES + 1], msg[1024];
	char			 want[64];
	uint64_t		 len = 0;
	enum cm_http_framing	 fr = cm_http_msg_framing(m, &len);
	int			 version = 0;

	h->keep = cm_http_msg_keep_alive(m);
	h->body_done = fr == CM_HTTP_FRAMING_NONE ||
	    (fr == CM_HTTP_FRAMING_LENGTH && len == 0);
	if (cm_worker_draining(c->gw->w)) {
		/* A request that began before SIGTERM finished after it. */
		h->keep = 0;
		gg_http_refuse(c, 503, "draining", GG_DRAIN_MSG);
		return;
	}
	gg_route_http(cm_http_msg_method_name(m), cm_http_msg_target(m), &rt);
	switch (rt.kind) {
	case GG_HR_DUMB:
		gg_http_refuse(c, 403, "dumb_http", "bb-sidecar: dumb HTTP is "
		    "not supported");
		return;
	case GG_HR_NOT_FOUND:
		gg_http_refuse(c, 404, "not_found", "bb-sidecar: not found "
		    "(the gate serves smart HTTP: /NAME.git/info/refs, "
		    "/NAME.git/git-upload-pack, /NAME.git/git-receive-pack)");
		return;
	case GG_HR_BAD_METHOD:
		gg_http_refuse_allow(c, 405, "method_not_allowed",
		    "bb-sidecar: method not allowed", rt.allow);
		return;
	case GG_HR_BAD_QUERY:
		gg_http_refuse(c, 400, "bad_query", "bb-sidecar: bad query: "
		    "expected ?service=git-upload-pack or "
		    "?service=git-receive-pack");
		return;
	default:
		break;
	}
	if (gg_route_path_name(rt.path, rt.pathlen, name, sizeof(name)) == -1
	    || (repo = gg_conf_repo(cfg, name)) == NULL) {
		gg_route_unknown_msg(cfg, rt.path, rt.pathlen, msg,
		    sizeof(msg));
		gg_http_refuse(c, 404, "unknown_repo", msg);
		return;
	}
	if ((v = cm_http_fields_get(f, "Git-Protocol")) != NULL)
		version = gg_route_version(v, strlen(v));
	h->svc = rt.svc;
	if (rt.kind == GG_HR_INFO_REFS) {
		if (!h->body_done) {
			gg_http_refuse(c, 400, "bad_request", "bb-sidecar: "
			    "info/refs takes no body");
			return;
		}
		h->adv = 1;
	} else {
		(void)snprintf(want, sizeof(want), "application/x-git-%s-"
		    "request", rt.svc == GG_SVC_UPLOAD ? "upload-pack" :
		    "receive-pack");
		if ((v = cm_http_fields_get(f, "Content-Type")) == NULL ||
		    strcasecmp(v, want) != 0) {
			(void)snprintf(msg, sizeof(msg), "bb-sidecar: expected "
			    "Content-Type: %s", want);
			gg_http_refuse(c, 415, "unsupported_media_type", msg);
			return;
		}
		ce = cm_http_fields_get(f, "Content-Encoding");
		if (ce != NULL && (strcasecmp(ce, "gzip") == 0 ||
		    strcasecmp(ce, "x-gzip") == 0)) {
			memset(&h->z, 0, sizeof(h->z));
			if (inflateInit2(&h->z, 16 + MAX_WBITS) != Z_OK) {
				gg_conn_close(c, "out_of_memory");
				return;
			}
			h->gzip = 1;
		} else if (ce != NULL && strcasecmp(ce, "identity") != 0) {
			gg_http_refuse(c, 415, "unsupported_encoding",
			    "bb-sidecar: unsupported Content-Encoding (gzip "
			    "only)");
			return;
		}
		switch (cm_http_msg_expect(m)) {
		case CM_HTTP_EXPECT_OTHER:
			gg_http_refuse(c, 417, "expectation_failed",
			    "bb-sidecar: only Expect: 100-continue is "
			    "supported");
			return;
		case CM_HTTP_EXPECT_CONTINUE:
			if (!h->body_done)
				(void)evbuffer_add_printf(gg_conn_output(c),
				    "HTTP/1.1 100 Continue\r\n\r\n");
			break;
		default:
			break;
		}
		/* receive-pack limits its parts itself (§7.2, §7.3). */
		h->limit = rt.svc == GG_SVC_UPLOAD ?
		    (uint64_t)s->v[CM_S_GG_MAX_REQUEST_BYTES] : UINT64_MAX;
	}
	c->sess = gg_sess_new(c, snap, repo, rt.svc, version, 1,
	    rt.kind == GG_HR_RPC);
	if (c->sess == NULL) {
		gg_conn_close(c, "out_of_memory");
		return;
	}
	c->sess->in = h->body;
	c->sess->in_eof = h->body_done;
	c->state = GG_CONN_SESSION;
	cm_metric_add(c->gw->w, gg_m.requests, 1);
	gg_conn_reading(c, !h->body_done);
	gg_sess_start(c->sess);
	if (!c->dead && c->sess != NULL && !h->body_done)
		gg_http_body(c);
}

static void
gg_http_head(struct gg_conn *c)
{
	struct gg_http	*h = c->http;
	struct evbuffer	*in = gg_conn_input(c);
	const char	*why, *reason;
	char		 msg[256];
	int		 rc, status;

	if (evbuffer_get_length(in) == 0)
		return;
	if (!h->head_clock) {
		h->head_clock = 1;
		h->head_ms = cm_now_ms();
	}
	rc = cm_http_head_read(h->parser, in, &why);
	if (rc == 0)
		return;
	h->head_clock = 0;
	if (rc == -1) {
		status = cm_http_parser_error(h->parser, &reason);
		(void)snprintf(msg, sizeof(msg), "bb-sidecar: %s", why);
		h->keep = 0;
		h->body_done = 0;
		gg_http_refuse(c, status, reason, msg);
		return;
	}
	gg_http_dispatch(c);
}

void
gg_http_read(struct gg_conn *c)
{
	if (c->http == NULL)
		return;
	if (c->state == GG_CONN_REQUEST)
		gg_http_head(c);
	else if (c->state == GG_CONN_SESSION)
		gg_http_body(c);
}

void
gg_http_eof(struct gg_conn *c)
{
	struct gg_http	*h = c->http;

	/* The answer of a complete request can still go out. */
	if (c->state == GG_CONN_SESSION && h->body_done) {
		h->keep = 0;
		bufferevent_disable(c->bev, EV_READ);
		return;
	}
	gg_conn_close(c, "client_closed");
}

void
gg_http_tick(struct gg_conn *c, uint64_t now)
{
	struct gg_http		*h = c->http;
	const struct cm_settings *s = cm_worker_snap(c->gw->w)->settings;

	if (c->state == GG_CONN_SESSION) {
		if (c->sess != NULL)
			gg_sess_tick(c->sess, now);
		return;
	}
	if (c->state != GG_CONN_REQUEST)
		return;
	if (h->head_clock) {
		if (now - h->head_ms > (uint64_t)s->v[CM_S_GG_REQUEST_HEAD_S] *
		    1000) {
			h->keep = 0;
			gg_http_refuse(c, 408, "request_timeout", "bb-sidecar: "
			    "the request head did not arrive in time");
		}
		return;
	}
	if (now - h->idle_ms > (uint64_t)s->v[CM_S_GG_CLIENT_IDLE_S] * 1000)
		gg_conn_close(c, "client_idle");
}
