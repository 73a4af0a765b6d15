/*
 * The exchange: one request forwarded to its origin and the response
 * relayed back (spec/egress.md §1, §2.3-§2.4, §10, §11.4, §13).
 *
 * Bytes flow agent -> x->body -> origin and origin -> x->rbody -> agent.
 * Each hop moves at most what the far side has room for
 * (limits.io_buffer_bytes), and the near side stops reading while the
 * far side is full, so memory per exchange is bounded (STYLE.md 3.9).
 * Nothing leaves before the scan interface (dlp.h) has released it.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/evp.h>
#include <openssl/sha.h>

#include "common/decode.h"
#include "common/http.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/routes.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "egress/conn.h"
#include "egress/dlp.h"
#include "egress/egress.h"
#include "egress/emetrics.h"
#include "egress/inbound.h"
#include "egress/local.h"
#include "egress/logs.h"
#include "egress/policy.h"
#include "egress/refuse.h"
#include "egress/upstream.h"
#include "egress/ws.h"
#include "egress/wsrelay.h"
#include "egress/xchg.h"

static void	eg_xchg_pump(struct eg_xchg *);
static void	eg_xchg_up_read_cb(struct bufferevent *, void *);
static void	eg_xchg_up_write_cb(struct bufferevent *, void *);
static void	eg_xchg_up_event_cb(struct bufferevent *, short, void *);
static void	eg_xchg_dial(struct eg_xchg *);
static void	eg_xchg_fail(struct eg_xchg *, const struct eg_refusal *);

#define EG_WS_GUID	"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static const struct cm_settings *
eg_xchg_settings(const struct eg_xchg *x)
{
	return (x->snap->settings);
}

static size_t
eg_xchg_io_cap(const struct eg_xchg *x)
{
	return ((size_t)eg_xchg_settings(x)->v[CM_S_EG_IO_BUFFER_BYTES]);
}

static void
eg_xchg_arm(struct eg_xchg *x, int seconds)
{
	struct timeval	 tv = { seconds, 0 };

	event_add(x->timer, &tv);
}

void
eg_xchg_abort(struct eg_xchg *x)
{
	if (x == NULL)
		return;
	eg_up_dial_cancel(x->dial);
	x->dial = NULL;
	eg_dlp_xchg_free(x);
	eg_up_free(x->up);
	x->up = NULL;
	if (x->timer != NULL)
		event_del(x->timer);
	x->state = EG_X_DONE;
}

void
eg_xchg_free(struct eg_xchg *x)
{
	if (x == NULL)
		return;
	eg_xchg_abort(x);
	if (x->state == EG_X_WS || x->ws)
		cm_metric_add(x->c->ew->w, eg_m.websockets, -1);
	if (x->timer != NULL)
		event_free(x->timer);
	if (x->body != NULL)
		evbuffer_free(x->body);
	if (x->rbody != NULL)
		evbuffer_free(x->rbody);
	eg_inbound_free(x);
	eg_wsr_free(x);
	cm_decode_free(x->req_dec);
	if (x->body_raw != NULL)
		evbuffer_free(x->body_raw);
	cm_http_parser_free(x->rparser);
	eg_dlp_xchg_free(x);
	free(x->r.path);
	free(x->r.query_own);
	cm_snap_unref(x->snap);
	free(x);
}

void
eg_xchg_refuse(struct eg_xchg *x, const struct eg_refusal *r)
{
	eg_xchg_fail(x, r);
}

/* Refuses while nothing of the response went out, else cuts the conn. */
static void
eg_xchg_fail(struct eg_xchg *x, const struct eg_refusal *r)
{
	struct eg_conn		*c = x->c;
	struct eg_refusal	 copy = *r;

	eg_xchg_abort(x);
	if (x->resp_started) {
		eg_log_event_snap(c, x->snap, 1, CM_LOG_WARN, "upstream_error",
		    json_pack("{s:s,s:s,s:s}", "host", x->r.host, "reason",
		    r->reason, "msg", r->msg));
		eg_conn_close(c, r->reason);
		return;
	}
	if (copy.status >= 500)
		copy.event = "upstream_error";
	eg_conn_refuse(c, &copy);
}

static void
eg_xchg_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eg_xchg		*x = arg;
	struct eg_refusal	 r;

	if (x->state == EG_X_WAIT) {
		eg_refusal_set(&r, 504, "upstream_timeout",
		    "egress: %s did not answer in time", x->r.host);
		cm_strlcpy(r.host, x->r.host, sizeof(r.host));
		r.close = 1;
		eg_xchg_fail(x, &r);
		return;
	}
	if (x->state == EG_X_WS) {
		eg_wsr_close(x, EG_WS_CLOSE_GOING_AWAY, "idle");
		return;
	}
	eg_conn_close(x->c, "io_idle");
}

/* Writes the request head upstream (§2.3): never the agent's bytes. */
static int
eg_xchg_write_head(struct eg_xchg *x)
{
	struct evbuffer	*out = bufferevent_get_output(eg_up_bev(x->up));
	char		 authority[300], *target;
	const char	*why;
	size_t		 tl;
	int		 def = x->r.tls ? 443 : 80, rc;

	if (strchr(x->r.host, ':') != NULL)
		(void)snprintf(authority, sizeof(authority), "[%s]", x->r.host);
	else
		cm_strlcpy(authority, x->r.host, sizeof(authority));
	if (x->r.port != def)
		(void)snprintf(authority + strlen(authority),
		    sizeof(authority) - strlen(authority), ":%d", x->r.port);
	tl = strlen(x->r.path) + (x->r.query ? strlen(x->r.query) : 0) + 1;
	if ((target = malloc(tl)) == NULL)
		return (-1);
	(void)snprintf(target, tl, "%s%s", x->r.path,
	    x->r.query ? x->r.query : "");
	rc = cm_http_write_request(out, cm_http_msg_method_name(x->req),
	    target, authority, cm_http_msg_fields(x->req), x->up_framing,
	    x->up_length, &why);
	free(target);
	return (rc);
}

static void
eg_xchg_log_request(struct eg_xchg *x)
{
	struct cm_http_fields	*f = cm_http_msg_fields(x->req);
	json_t			*fields = json_array();
	const char		*n;
	size_t			 i;

	if (cm_routes_log(x->cfg->routes) < 2) {
		json_decref(fields);
		return;
	}
	for (i = 0; i < cm_http_fields_len(f); i++) {
		char	 red[64];
		json_t	*v;

		n = cm_http_fields_name(f, i);
		if (strcasecmp(n, "Authorization") == 0 &&
		    cm_route_token_env(x->r.route) != NULL) {
			(void)snprintf(red, sizeof(red), "<injected token_env=%s>",
			    cm_route_token_env(x->r.route));
			v = json_string(red);
		} else if (strcasecmp(n, "Cookie") == 0) {
			(void)snprintf(red, sizeof(red), "<redacted %zu bytes>",
			    strlen(cm_http_fields_value(f, i)));
			v = json_string(red);
		} else
			v = eg_dlp_log_string(x->snap, cm_http_fields_value(f, i),
			    strlen(cm_http_fields_value(f, i)));
		json_array_append_new(fields, json_pack("[s,o]", n, v));
	}
	eg_log_event_snap(x->c, x->snap, 2, CM_LOG_INFO, "request",
	    json_pack("{s:s,s:i,s:s,s:o,s:o,s:o}", "host", x->r.host, "port",
	    x->r.port, "method", cm_http_msg_method_name(x->req), "path",
	    eg_dlp_log_string(x->snap, x->r.path, strlen(x->r.path)),
	    "raw_path", x->r.path_changed ?
	    eg_dlp_log_string(x->snap, cm_http_msg_target(x->req),
	    strlen(cm_http_msg_target(x->req))) : json_null(), "fields",
	    fields));
}

void
eg_xchg_start(struct eg_conn *c)
{
	struct eg_xchg		*x;
	struct eg_refusal	 r;
	struct cm_http_parser	*p = c->parser;

	if ((x = calloc(1, sizeof(*x))) == NULL) {
		eg_conn_close(c, "out_of_memory");
		return;
	}
	x->c = c;
	c->x = x;
	x->t0_ms = cm_now_ms();
	x->snap = cm_snap_ref(cm_worker_snap(c->ew->w));
	x->cfg = eg_cfg_of(x->snap);
	x->req = cm_http_parser_msg(p);
	x->body = evbuffer_new();
	x->rbody = evbuffer_new();
	x->timer = evtimer_new(cm_worker_base(c->ew->w), eg_xchg_timer_cb, x);
	if (x->body == NULL || x->rbody == NULL || x->timer == NULL) {
		eg_conn_close(c, "out_of_memory");
		return;
	}
	if (eg_policy_request(x, &r) == -1) {
		eg_conn_refuse(c, &r);
		return;
	}
	if (x->r.local) {
		eg_local_answer(x);
		return;
	}
	/* Stage 11: outbound DLP of the head; a hold resumes below. */
	switch (eg_dlp_head(x, &r)) {
	case -1:
		eg_conn_refuse(c, &r);
		return;
	case 1:
		x->state = EG_X_HELD;
		return;
	default:
		eg_xchg_head_released(x);
	}
}

/*
 * A coded request body on a scanned route (§8.5): the scanner sees it
 * decoded.  An unknown coding, or more than two, is refused.
 */
static int
eg_xchg_req_coding(struct eg_xchg *x, struct eg_refusal *r)
{
	enum cm_decode_coding	 cod[CM_MAX_DECODE_CODINGS];
	struct cm_decode_limits	 lim = { EG_MAX_DECODED_BODY_BYTES, 0 };
	const char		*ce, *why;
	size_t			 n = 0;

	if (!eg_dlp_outbound_active(x->r.route))
		return (0);
	ce = cm_http_fields_get(cm_http_msg_fields(x->req), "Content-Encoding");
	if (ce == NULL)
		return (0);
	if (cm_decode_parse(ce, cod, &n, &why) == -1) {
		eg_refusal_set(r, 403, "unscannable_encoding",
		    "egress DLP: request body in a Content-Encoding the scanner "
		    "cannot read");
		cm_strlcpy(r->host, x->r.host, sizeof(r->host));
		return (-1);
	}
	if (n > 0 && (x->req_dec = cm_decode_new(cod, n, &lim)) == NULL) {
		eg_refusal_set(r, 500, "internal_error", "egress: out of memory");
		return (-1);
	}
	return (0);
}

/*
 * Past the buffer cap a coded body streams decoded: the head leaves
 * without Content-Encoding, chunked (a streaming coded body could not be
 * rewritten otherwise, §9.2).
 */
static int
eg_xchg_start_decoding(struct eg_xchg *x)
{
	const char	*why;

	if (x->req_dec == NULL || x->req_decoding)
		return (0);
	if ((x->body_raw = evbuffer_new()) == NULL)
		return (-1);
	evbuffer_add_buffer(x->body_raw, x->body);
	x->req_decoding = 1;
	(void)cm_http_fields_remove(cm_http_msg_fields(x->req),
	    "Content-Encoding");
	(void)cm_http_fields_remove(cm_http_msg_fields(x->req), "Content-MD5");
	x->up_framing = CM_HTTP_FRAMING_CHUNKED;
	return (cm_decode_read(x->req_dec, x->body_raw, x->body_done, x->body,
	    (size_t)-1 >> 1, &why) == -1 ? -2 : 0);
}

void
eg_xchg_head_released(struct eg_xchg *x)
{
	struct eg_conn		*c = x->c;
	struct eg_refusal	 r;
	uint64_t		 len = 0;
	enum cm_http_framing	 fr;

	/* Stage 12: the credential, after DLP saw the agent's request. */
	if (eg_policy_inject(x, &r) == -1) {
		eg_conn_refuse(c, &r);
		return;
	}
	if (eg_xchg_req_coding(x, &r) == -1) {
		eg_conn_refuse(c, &r);
		return;
	}
	fr = cm_http_msg_framing(x->req, &len);
	x->up_framing = fr;
	x->up_length = len;
	x->body_done = fr == CM_HTTP_FRAMING_NONE ||
	    (fr == CM_HTTP_FRAMING_LENGTH && len == 0);
	x->buffering = !x->body_done && eg_dlp_outbound_active(x->r.route);
	x->keep_agent = cm_http_msg_keep_alive(x->req);
	/* Stages 1-12 passed on the head: now the agent may send the body. */
	if (x->r.expect_continue && !x->body_done)
		evbuffer_add_printf(bufferevent_get_output(c->bev),
		    "HTTP/1.1 100 Continue\r\n\r\n");
	x->state = x->body_done ? EG_X_DIAL : EG_X_BODY;
	eg_xchg_dial(x);
	if (c->dead)
		return;
	if (!x->body_done) {
		eg_conn_pause(c, 0);
		eg_xchg_agent_read(x);
	}
}

void
eg_xchg_body_released(struct eg_xchg *x)
{
	struct eg_conn	*c = x->c;

	if (c->dead)
		return;
	x->body_held = 0;
	eg_xchg_pump(x);
	/* A refusal frees x; the connection outlives it. */
	if (c->x == x && !c->dead && !x->body_done)
		eg_xchg_agent_read(x);
}

static void
eg_xchg_dial_cb(struct eg_up *up, enum eg_up_result res, const char *why,
    void *arg)
{
	struct eg_xchg		*x = arg;
	struct eg_refusal	 r;
	struct bufferevent	*bev;
	size_t			 cap = eg_xchg_io_cap(x);

	x->dial = NULL;
	if (res != EG_UP_OK) {
		switch (res) {
		case EG_UP_DNS_FAILURE:
			eg_refusal_set(&r, 502, "dns_failure", "egress: %s",
			    why);
			break;
		case EG_UP_PRIVATE:
			eg_refusal_set(&r, 403, "private_address",
			    "egress: %s resolves only to non-public addresses",
			    x->r.host);
			break;
		case EG_UP_TLS_FAILED:
			eg_refusal_set(&r, 502, "upstream_tls_failed",
			    "egress: %s", why);
			break;
		case EG_UP_TIMEOUT:
			eg_refusal_set(&r, 504, "upstream_timeout",
			    "egress: %s", why);
			break;
		default:
			eg_refusal_set(&r, 502, "upstream_connect_failed",
			    "egress: %s", why);
			break;
		}
		cm_strlcpy(r.host, x->r.host, sizeof(r.host));
		eg_xchg_fail(x, &r);
		return;
	}
	x->up = up;
	x->reused = eg_up_reused(up);
	bev = eg_up_bev(up);
	bufferevent_setcb(bev, eg_xchg_up_read_cb, eg_xchg_up_write_cb,
	    eg_xchg_up_event_cb, x);
	bufferevent_setwatermark(bev, EV_READ, 0, cap);
	bufferevent_setwatermark(bev, EV_WRITE, cap / 2, 0);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	if (x->state == EG_X_DIAL)
		x->state = EG_X_SEND;
	eg_xchg_pump(x);
}

static void
eg_xchg_dial(struct eg_xchg *x)
{
	struct eg_refusal	 r;

	x->dial = eg_up_dial(x->c->ew, x->cfg, eg_xchg_settings(x), x->r.tls,
	    x->r.host, x->r.port, cm_route_allow_private(x->r.route),
	    eg_xchg_dial_cb, x);
	if (x->dial == NULL) {
		eg_refusal_set(&r, 500, "internal_error", "egress: out of memory");
		eg_xchg_fail(x, &r);
	}
}

void
eg_xchg_agent_read(struct eg_xchg *x)
{
	struct eg_conn		*c = x->c;
	struct evbuffer		*in = bufferevent_get_input(c->bev);
	struct eg_refusal	 r;
	const char		*why;
	size_t			 have, cap, budget;
	uint64_t		 max;
	int			 rc;

	if (x->state == EG_X_WS) {
		if (x->up != NULL)
			eg_xchg_ws_relay(x, 1);
		return;
	}
	/* Held: nothing more is read until the operator decides (§9.3). */
	if (x->state == EG_X_HELD || x->body_held) {
		eg_conn_pause(c, 1);
		return;
	}
	if (x->body_done) {
		/* Pipelined bytes wait for this exchange to finish. */
		eg_conn_pause(c, 1);
		return;
	}
	cap = x->buffering ?
	    (size_t)eg_xchg_settings(x)->v[CM_S_EG_OUTBOUND_BUFFER_BYTES] :
	    eg_xchg_io_cap(x);
	have = evbuffer_get_length(x->body);
	if (x->up != NULL && x->state >= EG_X_SEND)
		have += evbuffer_get_length(bufferevent_get_output(
		    eg_up_bev(x->up)));
	budget = have < cap ? cap - have : 0;
	if (budget == 0) {
		if (x->buffering) {
			/* Past the buffer cap: stream with holdback (§10.1). */
			x->buffering = 0;
			if (eg_xchg_start_decoding(x) != 0) {
				eg_refusal_set(&r, 403, "unscannable_encoding",
				    "egress DLP: the request body cannot be "
				    "decoded for the scanner");
				r.close = 1;
				eg_xchg_fail(x, &r);
				return;
			}
			eg_xchg_pump(x);
			return;
		}
		eg_conn_pause(c, 1);
		return;
	}
	rc = cm_http_body_read(c->parser, in, x->req_decoding ? x->body_raw :
	    x->body, budget, &why);
	if (rc != -1 && x->req_decoding && cm_decode_read(x->req_dec,
	    x->body_raw, rc == 1, x->body, (size_t)-1 >> 1, &why) == -1) {
		eg_refusal_set(&r, 403, "unscannable_encoding",
		    "egress DLP: the request body cannot be decoded (%s)", why);
		r.close = 1;
		eg_xchg_fail(x, &r);
		return;
	}
	if (rc == -1) {
		eg_refusal_set(&r, 400, "bad_request", "egress: %s", why);
		r.close = 1;
		eg_xchg_abort(x);
		if (x->resp_started)
			eg_conn_close(c, "bad_body");
		else
			eg_conn_refuse(c, &r);
		return;
	}
	max = cm_route_max_body(x->r.route);
	if (max > 0 && cm_http_parser_body_bytes(c->parser) > max &&
	    !cm_route_oversize_noscan(x->r.route)) {
		eg_refusal_set(&r, 413, "body_too_large",
		    "egress: request body is over the route's max_body_bytes");
		cm_strlcpy(r.host, x->r.host, sizeof(r.host));
		r.close = 1;
		eg_xchg_fail(x, &r);
		return;
	}
	if (rc == 1) {
		x->body_done = 1;
		eg_conn_pause(c, 1);
	}
	eg_xchg_pump(x);
}

/* Moves released request bytes upstream; sends the head when due. */
static void
eg_xchg_pump(struct eg_xchg *x)
{
	struct evbuffer		*out;
	struct eg_refusal	 r;
	long			 safe;
	size_t			 n;

	if (x->c->dead || x->state == EG_X_DONE || x->state >= EG_X_WAIT)
		return;
	/* Buffering: nothing leaves until the whole body is scanned. */
	if (x->buffering && !x->body_done)
		return;
	if (x->up == NULL)
		return;
	out = bufferevent_get_output(eg_up_bev(x->up));
	if (x->body_held)
		return;
	/*
	 * Scan first: a buffered body is decided (and maybe rewritten, with
	 * new framing) before the origin sees even the head (§10.1).
	 */
	if ((safe = eg_dlp_body(x, x->body, x->body_done, &r)) == -2) {
		/* Held: nothing more leaves, nothing more is read. */
		x->body_held = 1;
		eg_conn_pause(x->c, 1);
		return;
	}
	if (safe < 0) {
		/* A late hit: the rest never leaves (§10.1). */
		r.close = 1;
		eg_xchg_fail(x, &r);
		return;
	}
	if (!x->head_sent) {
		if (eg_xchg_write_head(x) == -1) {
			eg_refusal_set(&r, 500, "internal_error",
			    "egress: cannot write the request");
			eg_xchg_fail(x, &r);
			return;
		}
		x->head_sent = 1;
		eg_xchg_log_request(x);
		eg_xchg_arm(x, (int)eg_xchg_settings(x)->v[CM_S_EG_IO_IDLE_S]);
	}
	n = (size_t)safe;
	if (n > 0) {
		x->bytes_up += n;
		if (x->up_framing == CM_HTTP_FRAMING_CHUNKED) {
			struct evbuffer *piece = evbuffer_new();

			if (piece == NULL) {
				eg_conn_close(x->c, "out_of_memory");
				return;
			}
			evbuffer_remove_buffer(x->body, piece, n);
			(void)cm_http_write_chunk(out, piece);
			evbuffer_free(piece);
		} else
			evbuffer_remove_buffer(x->body, out, n);
	}
	if (x->body_done && evbuffer_get_length(x->body) == 0) {
		if (x->up_framing == CM_HTTP_FRAMING_CHUNKED)
			(void)cm_http_write_last_chunk(out,
			    cm_http_parser_trailers(x->c->parser));
		x->state = EG_X_WAIT;
		eg_xchg_arm(x, (int)eg_xchg_settings(x)->
		    v[CM_S_EG_UPSTREAM_HEADERS_S]);
		return;
	}
	/* Room upstream again: read more of the agent's body. */
	if (!x->body_done &&
	    evbuffer_get_length(out) < eg_xchg_io_cap(x))
		eg_conn_pause(x->c, 0);
	else if (!x->body_done)
		eg_conn_pause(x->c, 1);
}

static void
eg_xchg_up_write_cb(struct bufferevent *bev, void *arg)
{
	struct eg_xchg	*x = arg;

	/* Upstream drained to its low watermark. */
	if (x->state == EG_X_WS) {
		eg_xchg_ws_relay(x, 1);
		return;
	}
	if (x->state == EG_X_BODY || x->state == EG_X_SEND) {
		struct eg_conn *c = x->c;

		eg_xchg_agent_read(x);
		/* A refusal frees x; the connection outlives it. */
		if (c->x == x)
			eg_xchg_pump(x);
	}
}

/* §7.4: hop-by-hop and proxy-only fields never reach the agent. */
static void
eg_xchg_strip_response(struct cm_http_fields *f)
{
	static const char *const drop[] = { "Keep-Alive", "Proxy-Connection",
		"TE", "Trailer", "Transfer-Encoding", "Upgrade",
		"Proxy-Authenticate", "Alt-Svc", "Content-Length", NULL };
	char	*conn, *tok, *save = NULL;
	size_t	 i;

	if ((conn = cm_http_fields_join(f, "Connection")) != NULL) {
		for (tok = strtok_r(conn, ", \t", &save); tok != NULL;
		    tok = strtok_r(NULL, ", \t", &save))
			if (strcasecmp(tok, "Content-Length") != 0)
				(void)cm_http_fields_remove(f, tok);
		free(conn);
	}
	(void)cm_http_fields_remove(f, "Connection");
	for (i = 0; drop[i] != NULL; i++)
		(void)cm_http_fields_remove(f, drop[i]);
}

/* The origin's Keep-Alive: timeout=N, 0 when absent. */
static int
eg_xchg_keepalive_timeout(struct cm_http_fields *f)
{
	const char	*ka = cm_http_fields_get(f, "Keep-Alive"), *t;

	if (ka == NULL || (t = strcasestr(ka, "timeout=")) == NULL)
		return (0);
	return (atoi(t + 8));
}

/* RFC 6455 §4.2.2: the Accept value for the agent's key. */
static int
eg_xchg_ws_accept_ok(struct eg_xchg *x, struct cm_http_msg *resp)
{
	const char	*key = cm_http_fields_get(cm_http_msg_fields(x->req),
			    "Sec-WebSocket-Key");
	const char	*acc = cm_http_fields_get(cm_http_msg_fields(resp),
			    "Sec-WebSocket-Accept");
	unsigned char	 md[SHA_DIGEST_LENGTH];
	char		 buf[128], b64[64];
	int		 n;

	if (key == NULL || acc == NULL || strlen(key) > 64)
		return (0);
	n = snprintf(buf, sizeof(buf), "%s%s", key, EG_WS_GUID);
	SHA1((const unsigned char *)buf, (size_t)n, md);
	EVP_EncodeBlock((unsigned char *)b64, md, SHA_DIGEST_LENGTH);
	return (strcmp(b64, acc) == 0);
}

void
eg_xchg_finish(struct eg_xchg *x)
{
	struct eg_conn	*c = x->c;
	struct eg_up	*up = x->up;
	int		 idle;

	event_del(x->timer);
	eg_metrics_forwarded(c->ew);
	eg_metrics_bytes(c->ew, x->bytes_up, x->bytes_down);
	eg_metrics_duration(c->ew, cm_now_ms() - x->t0_ms);
	/* The line is built only at verbosity 2: this runs per request. */
	if (cm_routes_log(x->cfg->routes) >= 2)
		eg_log_event_snap(c, x->snap, 2, CM_LOG_INFO, "response",
		    json_pack("{s:s,s:s,s:i,s:I,s:I,s:I,s:b}", "host",
		    x->r.host, "method", cm_http_msg_method_name(x->req),
		    "status", x->status, "bytes_up", (json_int_t)x->bytes_up,
		    "bytes_down", (json_int_t)x->bytes_down, "ms",
		    (json_int_t)(cm_now_ms() - x->t0_ms), "reused",
		    x->reused));
	x->up = NULL;
	x->state = EG_X_DONE;
	/*
	 * A small response is several evbuffer chains; joined, it leaves as
	 * one TLS record and one write(2) instead of one per chain.
	 */
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) <=
	    EG_COALESCE_BYTES)
		(void)evbuffer_pullup(bufferevent_get_output(c->bev), -1);
	if (up != NULL) {
		idle = x->up_idle_s;
		if (x->up_reusable && x->body_done &&
		    evbuffer_get_length(x->body) == 0)
			eg_up_release(up, idle);
		else
			eg_up_free(up);
	}
	eg_conn_xchg_done(c, x->keep_agent);
}

/* Writes the agent's response head for the origin's final head. */
static int
eg_xchg_response_head(struct eg_xchg *x, struct cm_http_msg *resp)
{
	struct cm_http_fields	*f = cm_http_msg_fields(resp);
	enum cm_http_framing	 fr;
	const char		*cl;
	uint64_t		 len = 0;
	int			 agent10 = cm_http_msg_version(x->req) == 10;

	x->status = cm_http_msg_status(resp);
	fr = cm_http_msg_framing(resp, &len);
	x->up_reusable = cm_http_msg_keep_alive(resp) &&
	    fr != CM_HTTP_FRAMING_CLOSE;
	x->up_idle_s = eg_xchg_keepalive_timeout(f);
	cl = cm_http_fields_get(f, "Content-Length");
	switch (fr) {
	case CM_HTTP_FRAMING_NONE:
		/* HEAD and 304 keep the length of the body they describe. */
		if (cl != NULL && x->status != 204) {
			x->down_framing = CM_HTTP_FRAMING_LENGTH;
			x->down_length = strtoull(cl, NULL, 10);
		} else
			x->down_framing = CM_HTTP_FRAMING_NONE;
		x->down_nobody = 1;
		break;
	case CM_HTTP_FRAMING_LENGTH:
		x->down_framing = CM_HTTP_FRAMING_LENGTH;
		x->down_length = len;
		break;
	default:
		/* Re-chunk for HTTP/1.1 agents; close-delimit for 1.0. */
		x->down_framing = agent10 ? CM_HTTP_FRAMING_CLOSE :
		    CM_HTTP_FRAMING_CHUNKED;
		break;
	}
	eg_xchg_strip_response(f);
	return (0);
}

int
eg_xchg_head_out(struct eg_xchg *x, int decoded)
{
	struct cm_http_msg	*resp = cm_http_parser_msg(x->rparser);
	struct cm_http_fields	*f = cm_http_msg_fields(resp);
	struct evbuffer		*out = bufferevent_get_output(x->c->bev);
	const char		*why, *etag;
	int			 agent10 = cm_http_msg_version(x->req) == 10;

	if (decoded) {
		/* §10.2: forwarded decoded from here on. */
		(void)cm_http_fields_remove(f, "Content-Encoding");
		(void)cm_http_fields_remove(f, "Content-MD5");
		if ((etag = cm_http_fields_get(f, "ETag")) != NULL &&
		    strncmp(etag, "W/", 2) != 0) {
			char	 weak[512];

			(void)snprintf(weak, sizeof(weak), "W/%s", etag);
			(void)cm_http_fields_set(f, "ETag", weak);
		}
		if (x->down_framing != CM_HTTP_FRAMING_NONE)
			x->down_framing = agent10 ? CM_HTTP_FRAMING_CLOSE :
			    CM_HTTP_FRAMING_CHUNKED;
	}
	if (x->down_framing == CM_HTTP_FRAMING_CLOSE || x->draining ||
	    cm_worker_draining(x->c->ew->w))
		x->keep_agent = 0;
	if (!x->keep_agent) {
		if (cm_http_fields_add(f, "Connection", "close") == -1)
			return (-1);
	} else if (agent10 &&
	    cm_http_fields_add(f, "Connection", "keep-alive") == -1)
		return (-1);
	x->resp_started = 1;
	return (cm_http_write_response(out, x->status, cm_http_msg_reason(resp),
	    f, x->down_framing, x->down_length, &why));
}

int
eg_xchg_down(struct eg_xchg *x, struct evbuffer *data, size_t n)
{
	struct evbuffer	*out = bufferevent_get_output(x->c->bev);
	struct evbuffer	*piece;

	if (n == 0)
		return (0);
	x->bytes_down += n;
	if (x->down_framing != CM_HTTP_FRAMING_CHUNKED)
		return (evbuffer_remove_buffer(data, out, n) == (int)n ? 0 : -1);
	if ((piece = evbuffer_new()) == NULL)
		return (-1);
	evbuffer_remove_buffer(data, piece, n);
	(void)cm_http_write_chunk(out, piece);
	evbuffer_free(piece);
	return (0);
}

void
eg_xchg_down_end(struct eg_xchg *x)
{
	if (x->down_framing == CM_HTTP_FRAMING_CHUNKED)
		(void)cm_http_write_last_chunk(bufferevent_get_output(
		    x->c->bev), cm_http_parser_trailers(x->rparser));
}

/* Relays response bytes; 1 when the response is complete. */
static int
eg_xchg_relay_down(struct eg_xchg *x, int final)
{
	if (x->inb != NULL)
		return (eg_inbound_body(x, final));
	if (eg_xchg_down(x, x->rbody, evbuffer_get_length(x->rbody)) == -1)
		return (-1);
	if (final) {
		eg_xchg_down_end(x);
		return (1);
	}
	return (0);
}

/* The response body: decode from the origin, release, re-frame. */
static void
eg_xchg_response_body(struct eg_xchg *x)
{
	struct evbuffer	*in = bufferevent_get_input(eg_up_bev(x->up));
	struct evbuffer	*aout = bufferevent_get_output(x->c->bev);
	size_t		 cap = eg_xchg_io_cap(x), have, budget;
	const char	*why;
	int		 rc, done;

	for (;;) {
		have = evbuffer_get_length(aout) + evbuffer_get_length(x->rbody);
		/* Buffering for a whole-body scan takes more than io_buffer. */
		if (x->inb != NULL) {
			size_t room = eg_inbound_room(x);

			have = evbuffer_get_length(aout);
			cap = have + room;
		}
		if (have >= cap) {
			/* The agent is slow: wait for its output to drain. */
			bufferevent_disable(eg_up_bev(x->up), EV_READ);
			return;
		}
		budget = cap - have;
		rc = cm_http_body_read(x->rparser, in, x->rbody, budget, &why);
		if (rc == -1) {
			eg_conn_close(x->c, "upstream_protocol_error");
			return;
		}
		{
			struct eg_conn *c = x->c;

			done = eg_xchg_relay_down(x, rc == 1);
			/* -1: refused or aborted, and x may be gone. */
			if (done == -1 || c->dead || c->x != x)
				return;
		}
		if (done == 1) {
			eg_xchg_finish(x);
			return;
		}
		if (evbuffer_get_length(in) == 0 || budget == 0)
			break;
	}
	bufferevent_enable(eg_up_bev(x->up), EV_READ);
	eg_xchg_arm(x, (int)eg_xchg_settings(x)->v[CM_S_EG_IO_IDLE_S]);
}

static int
eg_xchg_start_ws(struct eg_xchg *x, struct cm_http_msg *resp,
    const char **err)
{
	struct cm_http_fields	*f = cm_http_msg_fields(resp);
	struct evbuffer		*out = bufferevent_get_output(x->c->bev);
	const char		*why;

	if (!x->r.websocket) {
		*err = "a 101 to a request that asked for no upgrade";
		return (-1);
	}
	if (!eg_xchg_ws_accept_ok(x, resp)) {
		*err = "a wrong Sec-WebSocket-Accept";
		return (-1);
	}
	/* No extension can pass: the scanner needs plain frames (§13). */
	if (cm_http_fields_get(f, "Sec-WebSocket-Extensions") != NULL) {
		*err = "an extension the agent was not offered";
		return (-1);
	}
	*err = "out of memory";
	x->status = 101;
	eg_xchg_strip_response(f);
	if (cm_http_fields_add(f, "Upgrade", "websocket") == -1 ||
	    cm_http_fields_add(f, "Connection", "Upgrade") == -1 ||
	    cm_http_write_response(out, 101, cm_http_msg_reason(resp), f,
	    CM_HTTP_FRAMING_NONE, 0, &why) == -1)
		return (-1);
	x->resp_started = 1;
	x->state = EG_X_WS;
	x->ws = 1;
	cm_metric_add(x->c->ew->w, eg_m.websockets, 1);
	eg_conn_set(x->c, EG_CONN_RELAY);
	eg_metrics_forwarded(x->c->ew);
	if (eg_wsr_start(x) == -1)
		return (-1);
	eg_conn_pause(x->c, 0);
	eg_xchg_ws_relay(x, 1);
	if (!x->c->dead && x->c->x == x)
		eg_xchg_ws_relay(x, 0);
	return (0);
}

/* After a 101: the framing is ended on both sides (wsrelay.c). */
void
eg_xchg_ws_relay(struct eg_xchg *x, int from_agent)
{
	if (x->c->dead || x->up == NULL)
		return;
	eg_wsr_relay(x, from_agent);
	if (!x->c->dead && x->c->x == x)
		eg_xchg_arm(x, (int)eg_xchg_settings(x)->v[CM_S_EG_WS_IDLE_S]);
}

static void
eg_xchg_up_read_cb(struct bufferevent *bev, void *arg)
{
	struct eg_xchg		*x = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct cm_http_msg	*resp;
	struct eg_refusal	 r;
	const char		*why;
	int			 rc, st;

	if (x->c->dead)
		return;
	if (x->state == EG_X_WS) {
		eg_xchg_ws_relay(x, 0);
		return;
	}
	if (x->state == EG_X_RESP) {
		eg_xchg_response_body(x);
		return;
	}
	if (x->rparser == NULL) {
		x->rparser = cm_http_parser_new(CM_HTTP_RESPONSE, NULL);
		if (x->rparser == NULL) {
			eg_conn_close(x->c, "out_of_memory");
			return;
		}
		cm_http_parser_set_method(x->rparser,
		    cm_http_msg_method(x->req));
	}
	for (;;) {
		rc = cm_http_head_read(x->rparser, in, &why);
		if (rc == 0)
			return;
		if (rc == -1) {
			eg_refusal_set(&r, 502, "upstream_protocol_error",
			    "egress: %s sent a bad response: %s", x->r.host, why);
			cm_strlcpy(r.host, x->r.host, sizeof(r.host));
			r.close = 1;
			eg_xchg_fail(x, &r);
			return;
		}
		x->got_bytes = 1;
		resp = cm_http_parser_msg(x->rparser);
		st = cm_http_msg_status(resp);
		if (st == 101) {
			if (eg_xchg_start_ws(x, resp, &why) == -1) {
				eg_refusal_set(&r, 502, "upstream_protocol_error",
				    "egress: %s answered the WebSocket upgrade "
				    "with %s", x->r.host, why);
				r.close = 1;
				eg_xchg_fail(x, &r);
			}
			return;
		}
		if (st >= 100 && st < 200) {
			/* 100 is ours to send (§6.1); others (103) pass. */
			if (st != 100) {
				struct cm_http_fields *f =
				    cm_http_msg_fields(resp);

				eg_xchg_strip_response(f);
				(void)cm_http_write_response(
				    bufferevent_get_output(x->c->bev), st,
				    cm_http_msg_reason(resp), f,
				    CM_HTTP_FRAMING_NONE, 0, &why);
			}
			cm_http_parser_reset(x->rparser);
			continue;
		}
		break;
	}
	if (eg_xchg_response_head(x, resp) == -1) {
		eg_conn_close(x->c, "out_of_memory");
		return;
	}
	x->state = EG_X_RESP;
	switch (eg_inbound_start(x, resp, &r)) {
	case -1:
		r.close = 1;
		eg_xchg_fail(x, &r);
		return;
	case 0:
		if (eg_xchg_head_out(x, 0) == -1) {
			eg_conn_close(x->c, "out_of_memory");
			return;
		}
		break;
	default:
		break;	/* inbound writes the head when it is due */
	}
	eg_xchg_response_body(x);
}

static void
eg_xchg_up_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct eg_xchg		*x = arg;
	struct eg_refusal	 r;
	const char		*why;
	int			 rc;

	if (x->c->dead)
		return;
	if (x->state == EG_X_WS) {
		/* Relay what came with the close, then end the agent side. */
		eg_xchg_ws_relay(x, 0);
		eg_conn_finish(x->c);
		return;
	}
	if (x->state == EG_X_RESP) {
		/* Until-close bodies end here; others were cut short. */
		rc = cm_http_parser_eof(x->rparser, &why);
		if (rc == 1) {
			x->up_reusable = 0;
			eg_xchg_response_body(x);
			if (!x->c->dead && x->state == EG_X_RESP &&
			    eg_xchg_relay_down(x, 1) == 1)
				eg_xchg_finish(x);
			return;
		}
		eg_conn_close(x->c, "upstream_truncated");
		return;
	}
	/* Nothing of a response yet: a reused connection may retry once. */
	if (!x->got_bytes && x->reused && !x->retried && x->bytes_up == 0 &&
	    x->body_done && (x->up_framing == CM_HTTP_FRAMING_NONE ||
	    x->up_length == 0)) {
		x->retried = 1;
		eg_up_free(x->up);
		x->up = NULL;
		x->head_sent = 0;
		x->state = EG_X_DIAL;
		eg_xchg_dial(x);
		return;
	}
	eg_refusal_set(&r, 502, "upstream_closed",
	    "egress: %s closed the connection before answering", x->r.host);
	cm_strlcpy(r.host, x->r.host, sizeof(r.host));
	r.close = 1;
	eg_xchg_fail(x, &r);
}

void
eg_xchg_agent_drained(struct eg_xchg *x)
{
	if (x->c->dead)
		return;
	if (x->state == EG_X_WS)
		eg_xchg_ws_relay(x, 0);
	else if (x->state == EG_X_RESP && x->up != NULL)
		eg_xchg_response_body(x);
}

void
eg_xchg_agent_eof(struct eg_xchg *x)
{
	/* The agent left: nothing to answer, nothing more to send. */
	eg_conn_close(x->c, "agent_closed");
}

void
eg_xchg_drain(struct eg_xchg *x)
{
	x->draining = 1;
}
