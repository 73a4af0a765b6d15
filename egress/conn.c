/*
 * Agent connections: accept, read heads, CONNECT, hand requests to an
 * exchange, close.  Closing only marks the connection dead and fires
 * the reap event; the free happens on the next loop turn, so no
 * callback still on the stack touches freed memory (STYLE.md 3.7).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

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
#include "egress/hold.h"
#include "egress/logs.h"
#include "egress/policy.h"
#include "egress/refuse.h"
#include "egress/ws.h"
#include "egress/wsrelay.h"
#include "egress/xchg.h"

static void	eg_conn_read_cb(struct bufferevent *, void *);
static void	eg_conn_write_cb(struct bufferevent *, void *);
static void	eg_conn_event_cb(struct bufferevent *, short, void *);
static void	eg_conn_peek_cb(evutil_socket_t, short, void *);
static void	eg_conn_flush_or_close(struct eg_conn *);
static void	eg_conn_connect_ok(struct eg_conn *);

/* A closing TLS connection checks the layer below this often... */
#define EG_FLUSH_POLL_MS	5
/* ...for at most this long before giving up on a slow reader. */
#define EG_FLUSH_MAX_MS		5000

static const char *const eg_conn_state_names[] = {
	[EG_CONN_HEAD] = "head",
	[EG_CONN_TLS_WAIT] = "tls_wait",
	[EG_CONN_TLS] = "tls",
	[EG_CONN_XCHG] = "exchange",
	[EG_CONN_RELAY] = "relay",
	[EG_CONN_FLUSH] = "flush",
	[EG_CONN_HELD] = "held",
};

void
eg_conn_set(struct eg_conn *c, enum eg_conn_state st)
{
	/* Only build the line when debug logging is on: this is hot. */
	if (c->state != st && cm_log_enabled(CM_LOG_DEBUG))
		cm_log(CM_LOG_DEBUG, "egress", "state", c->id,
		    json_pack("{s:s,s:s}", "from",
		    eg_conn_state_names[c->state], "to",
		    eg_conn_state_names[st]));
	c->state = st;
}

static void
eg_conn_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eg_conn	*c = arg;

	TAILQ_REMOVE(&c->ew->conns, c, entry);
	c->ew->nconns--;
	cm_metric_add(c->ew->w, eg_m.conns_agent, -1);
	cm_metric_add(c->ew->w, eg_m.sc_conns, -1);
	if (c->tunnel)
		cm_metric_add(c->ew->w, eg_m.tunnels, -1);
	eg_tunnels_release(c);
	eg_hold_cancel(c->hold);
	eg_xchg_free(c->x);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	if (c->peek != NULL)
		event_free(c->peek);
	cm_http_parser_free(c->parser);
	event_free(c->timer);
	event_free(c->reap);
	free(c);
}

void
eg_conn_close(struct eg_conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = 1;
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	/* The exchange lets go of its upstream now, not at the reap. */
	eg_xchg_abort(c->x);
	event_del(c->timer);
	if (c->peek != NULL)
		event_del(c->peek);
	if (cm_log_enabled(CM_LOG_DEBUG))
		cm_log(CM_LOG_DEBUG, "egress", "close", c->id, json_pack(
		    "{s:s,s:s,s:I}", "reason", why, "state",
		    eg_conn_state_names[c->state], "requests",
		    (json_int_t)c->nreq));
	event_active(c->reap, EV_TIMEOUT, 0);
}

static void
eg_conn_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eg_conn		*c = arg;
	struct eg_refusal	 r;

	switch (c->state) {
	case EG_CONN_HEAD:
		/* Part of a head arrived: 408; nothing at all: idle close. */
		if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
			eg_refusal_set(&r, 408, "request_timeout",
			    "egress: the request head did not arrive in time");
			r.close = 1;
			eg_conn_refuse(c, &r);
		} else
			eg_conn_close(c, "client_idle");
		break;
	case EG_CONN_TLS_WAIT:
	case EG_CONN_TLS:
		eg_conn_close(c, "tls_handshake_timeout");
		break;
	case EG_CONN_FLUSH:
		if (cm_now_ms() >= c->flush_deadline_ms)
			eg_conn_close(c, "flush_timeout");
		else
			eg_conn_flush_or_close(c);
		break;
	default:
		break;
	}
}

void
eg_conn_arm_timer(struct eg_conn *c, int seconds)
{
	struct timeval	 tv = { seconds, 0 };

	event_add(c->timer, &tv);
}

void
eg_conn_pause(struct eg_conn *c, int paused)
{
	if (c->dead || c->bev == NULL)
		return;
	if (paused)
		bufferevent_disable(c->bev, EV_READ);
	else
		bufferevent_enable(c->bev, EV_READ);
}

/* Output not yet handed to the kernel, the TLS filter's below it too. */
static size_t
eg_conn_pending_out(struct eg_conn *c)
{
	struct bufferevent	*under = bufferevent_get_underlying(c->bev);
	size_t			 n = evbuffer_get_length(
				    bufferevent_get_output(c->bev));

	if (under != NULL)
		n += evbuffer_get_length(bufferevent_get_output(under));
	return (n);
}

static void
eg_conn_flush_or_close(struct eg_conn *c)
{
	struct timeval	 tv = { 0, EG_FLUSH_POLL_MS * 1000 };

	if (eg_conn_pending_out(c) == 0) {
		eg_conn_close(c, "done");
		return;
	}
	/*
	 * eg_conn_write_cb closes once written; a TLS filter's write
	 * callback fires when its own buffer drains, before the layer
	 * below has, so poll that one briefly.
	 */
	if (c->flush_deadline_ms == 0)
		c->flush_deadline_ms = cm_now_ms() + EG_FLUSH_MAX_MS;
	if (bufferevent_get_underlying(c->bev) != NULL)
		event_add(c->timer, &tv);
}

void
eg_conn_refuse(struct eg_conn *c, const struct eg_refusal *r)
{
	struct eg_refusal	 copy = *r;
	struct cm_http_msg	*m = cm_http_parser_msg(c->parser);
	uint64_t		 len = 0;

	if (c->dead)
		return;
	/* An unread body cannot be skipped safely: close after answering. */
	if (m != NULL && cm_http_msg_framing(m, &len) != CM_HTTP_FRAMING_NONE &&
	    (len > 0 || cm_http_msg_framing(m, NULL) != CM_HTTP_FRAMING_LENGTH)
	    && cm_http_parser_body_bytes(c->parser) < len)
		copy.close = 1;
	if (m != NULL && !cm_http_msg_keep_alive(m))
		copy.close = 1;
	if (m == NULL || cm_worker_draining(c->ew->w))
		copy.close = 1;
	eg_metrics_refusal(c->ew, copy.reason);
	eg_log_event_snap(c, c->x != NULL ? c->x->snap : NULL, 1,
	    copy.status >= 500 ? CM_LOG_WARN : CM_LOG_INFO,
	    copy.event != NULL ? copy.event : copy.status >= 500 ? "error" :
	    "block", json_pack("{s:i,s:s,s:s,s:s?,s:s?,s:o,s:o}", "status",
	    copy.status, "reason", copy.reason, "msg", copy.msg, "rule",
	    copy.rule, "host",
	    copy.host[0] != '\0' ? copy.host : NULL, "method", m != NULL ?
	    json_string(cm_http_msg_method_name(m)) : json_null(), "target",
	    m != NULL ? eg_dlp_log_string(c->x != NULL ? c->x->snap :
	    cm_worker_snap(c->ew->w), cm_http_msg_target(m),
	    strlen(cm_http_msg_target(m))) : json_null()));
	if (eg_refusal_write(&copy, bufferevent_get_output(c->bev)) == -1) {
		eg_conn_close(c, "out_of_memory");
		return;
	}
	eg_xchg_free(c->x);
	c->x = NULL;
	if (copy.close) {
		bufferevent_disable(c->bev, EV_READ);
		eg_conn_set(c, EG_CONN_FLUSH);
		eg_conn_flush_or_close(c);
		return;
	}
	cm_http_parser_reset(c->parser);
	eg_conn_set(c, EG_CONN_HEAD);
	eg_conn_arm_timer(c, (int)cm_worker_snap(c->ew->w)->settings->
	    v[CM_S_EG_CLIENT_IDLE_S]);
	bufferevent_enable(c->bev, EV_READ);
	/* A pipelined request may already be waiting. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		eg_conn_read_cb(c->bev, c);
}

void
eg_conn_finish(struct eg_conn *c)
{
	if (c->dead)
		return;
	bufferevent_disable(c->bev, EV_READ);
	eg_conn_set(c, EG_CONN_FLUSH);
	eg_conn_flush_or_close(c);
}

void
eg_conn_xchg_done(struct eg_conn *c, int keep_alive)
{
	if (c->dead)
		return;
	eg_xchg_free(c->x);
	c->x = NULL;
	if (!keep_alive || cm_worker_draining(c->ew->w)) {
		bufferevent_disable(c->bev, EV_READ);
		eg_conn_set(c, EG_CONN_FLUSH);
		eg_conn_flush_or_close(c);
		return;
	}
	cm_http_parser_reset(c->parser);
	eg_conn_set(c, EG_CONN_HEAD);
	eg_conn_arm_timer(c, (int)cm_worker_snap(c->ew->w)->settings->
	    v[CM_S_EG_CLIENT_IDLE_S]);
	bufferevent_enable(c->bev, EV_READ);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0)
		eg_conn_read_cb(c->bev, c);
}

static void
eg_conn_peek_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eg_conn	*c = arg;
	unsigned char	 b;
	ssize_t		 n;

	if (c->dead)
		return;
	n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == -1 && (errno == EAGAIN || errno == EINTR)) {
		event_add(c->peek, NULL);
		return;
	}
	if (n <= 0) {
		eg_conn_close(c, n == 0 ? "agent_closed" : "agent_error");
		return;
	}
	/* Not TLS, or the 200 still queued: the buffered path decides. */
	if (b != 0x16 ||
	    evbuffer_get_length(bufferevent_get_output(c->bev)) > 0) {
		bufferevent_enable(c->bev, EV_READ);
		return;
	}
	if (eg_bump_start(c, 1) == -1)
		eg_conn_close(c, "tls_setup_failed");
}

/* A CONNECT passed policy: answer 200 and wait for the ClientHello. */
static void
eg_conn_connect_ok(struct eg_conn *c)
{
	/* §3.1.4: "200 Connection established", no fields. */
	evbuffer_add_printf(bufferevent_get_output(c->bev),
	    "HTTP/1.1 200 Connection established\r\n\r\n");
	c->tunnel = 1;
	cm_metric_add(c->ew->w, eg_m.tunnels, 1);
	cm_http_parser_reset(c->parser);
	eg_conn_set(c, EG_CONN_TLS_WAIT);
	eg_conn_arm_timer(c, (int)cm_worker_snap(c->ew->w)->
	    settings->v[CM_S_EG_TLS_HANDSHAKE_S]);
	/* Optimistic ClientHello bytes may already be here. */
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0) {
		eg_conn_read_cb(c->bev, c);
		return;
	}
	/*
	 * Peek at the first tunnel byte on the socket itself, so the
	 * TLS layer can sit directly on the fd (no filter, no copy).
	 */
	bufferevent_disable(c->bev, EV_READ);
	c->peek = event_new(cm_worker_base(c->ew->w),
	    bufferevent_getfd(c->bev), EV_READ, eg_conn_peek_cb, c);
	if (c->peek == NULL || event_add(c->peek, NULL) == -1)
		eg_conn_close(c, "out_of_memory");
}

void
eg_conn_connect_released(void *owner, int approved,
    const struct eg_refusal *r)
{
	struct eg_conn	*c = owner;

	eg_hold_cancel(c->hold);	/* decided: only frees it */
	c->hold = NULL;
	if (c->dead)
		return;
	if (!approved) {
		eg_conn_refuse(c, r);
		return;
	}
	eg_conn_connect_ok(c);
}

/* A head is complete: CONNECT here, everything else to an exchange. */
static void
eg_conn_head(struct eg_conn *c)
{
	struct cm_http_msg	*m = cm_http_parser_msg(c->parser);
	struct eg_refusal	 r;

	c->nreq++;
	event_del(c->timer);
	if (cm_http_msg_is_connect(m)) {
		if (c->tunnel) {
			eg_refusal_set(&r, 405, "method_not_allowed",
			    "egress: CONNECT inside a tunnel is not allowed");
			eg_conn_refuse(c, &r);
			return;
		}
		switch (eg_policy_connect(c, m, &r)) {
		case -1:
			eg_conn_refuse(c, &r);
			return;
		case 1:
			/* The CONNECT itself is held (§3.1.3, §9.3). */
			eg_conn_set(c, EG_CONN_HELD);
			bufferevent_disable(c->bev, EV_READ);
			return;
		default:
			eg_conn_connect_ok(c);
		}
		return;
	}
	eg_conn_set(c, EG_CONN_XCHG);
	/* The exchange reads the body, then leaves pipelined bytes be. */
	eg_xchg_start(c);
}

static void
eg_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct eg_conn		*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct eg_refusal	 r;
	const char		*why, *reason;
	unsigned char		 first;
	int			 rc, status;

	if (c->dead)
		return;
	switch (c->state) {
	case EG_CONN_HEAD:
		if (evbuffer_get_length(in) == 0)
			return;
		/* The head clock replaces the idle one at the first byte. */
		if (!c->head_clock) {
			c->head_clock = 1;
			eg_conn_arm_timer(c, (int)cm_worker_snap(c->ew->w)->
			    settings->v[CM_S_EG_REQUEST_HEAD_S]);
		}
		rc = cm_http_head_read(c->parser, in, &why);
		if (rc == 0)
			return;
		c->head_clock = 0;
		if (rc == -1) {
			status = cm_http_parser_error(c->parser, &reason);
			eg_refusal_set(&r, status, reason, "egress: %s", why);
			r.close = 1;	/* never reused after a framing error */
			eg_conn_refuse(c, &r);
			return;
		}
		eg_conn_head(c);
		return;
	case EG_CONN_TLS_WAIT:
		if (evbuffer_copyout(in, &first, 1) != 1)
			return;
		if (first != 0x16) {
			eg_refusal_set(&r, 403, "tunnel_not_tls",
			    "egress: the tunnel must carry TLS");
			r.close = 1;
			cm_strlcpy(r.host, c->thost, sizeof(r.host));
			eg_conn_refuse(c, &r);
			return;
		}
		if (eg_bump_start(c, 0) == -1)
			eg_conn_close(c, "tls_setup_failed");
		return;
	case EG_CONN_XCHG:
	case EG_CONN_RELAY:
		eg_xchg_agent_read(c->x);
		return;
	default:
		return;
	}
}

static void
eg_conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct eg_conn	*c = arg;

	if (c->dead)
		return;
	if (c->state == EG_CONN_FLUSH) {
		eg_conn_flush_or_close(c);
		return;
	}
	if (c->x != NULL)
		eg_xchg_agent_drained(c->x);
}

static void
eg_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct eg_conn	*c = arg;

	if (c->dead)
		return;
	if (what & BEV_EVENT_CONNECTED) {
		/* The agent-side TLS handshake finished. */
		eg_bump_done(c);
		return;
	}
	if (c->x != NULL && (what & BEV_EVENT_EOF)) {
		/* The agent half-closed or left during an exchange. */
		eg_xchg_agent_eof(c->x);
		return;
	}
	if ((what & BEV_EVENT_ERROR) && c->state == EG_CONN_TLS) {
		eg_bump_failed(c);
		return;
	}
	eg_conn_close(c, (what & BEV_EVENT_EOF) ? "agent_closed" :
	    (what & BEV_EVENT_TIMEOUT) ? "timeout" : "agent_error");
}

/* Installs the callbacks on c->bev (also after the bump replaces it). */
void
eg_conn_setcb(struct eg_conn *c)
{
	const struct cm_settings *s = cm_worker_snap(c->ew->w)->settings;
	size_t	 hb = (size_t)s->v[CM_S_EG_HEADER_BYTES];

	bufferevent_setcb(c->bev, eg_conn_read_cb, eg_conn_write_cb,
	    eg_conn_event_cb, c);
	/*
	 * Never much more than a head's worth waiting unparsed (STYLE.md
	 * 3.9); one byte past the limit lets the codec see it is crossed.
	 */
	bufferevent_setwatermark(c->bev, EV_READ, 0, hb + 1);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

static void
eg_conn_busy(int fd)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: text/plain; charset=utf-8\r\n"
	    "Cache-Control: no-store\r\nX-Bb-Sidecar-Reason: busy\r\n"
	    "Connection: close\r\nContent-Length: 69\r\n\r\n"
	    "bb-sidecar: egress: too many connections on this worker\n"
	    "reason: busy\n";

	/* Best effort on a fresh socket; the send buffer is empty. */
	(void)send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT);
	(void)close(fd);
}

void
eg_conn_accept(struct cm_worker *w, int fd, const struct sockaddr *sa,
    socklen_t salen, int listener)
{
	struct eg_worker	*ew = eg_worker_of(w);
	const struct cm_settings *s = cm_worker_snap(w)->settings;
	struct eg_conn		*c;
	struct cm_http_limits	 lim;
	char			 host[INET6_ADDRSTRLEN];
	int			 port = 0;

	if (ew == NULL || ew->nconns >= (size_t)s->v[CM_S_EG_CONNECTIONS_PER_WORKER]) {
		eg_metrics_refusal(ew, "busy");
		eg_conn_busy(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		(void)close(fd);
		return;
	}
	c->ew = ew;
	c->id = ((uint64_t)cm_worker_id(w) << 48) | ++ew->next_id;
	if (salen <= sizeof(c->peer))
		memcpy(&c->peer, sa, salen);
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    host, sizeof(host));
		port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
		(void)snprintf(c->client, sizeof(c->client), "%s:%d", host,
		    port);
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, host,
		    sizeof(host));
		port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
		(void)snprintf(c->client, sizeof(c->client), "[%s]:%d", host,
		    port);
	}
	lim.request_line_bytes = (size_t)s->v[CM_S_EG_REQUEST_LINE_BYTES];
	lim.header_bytes = (size_t)s->v[CM_S_EG_HEADER_BYTES];
	lim.header_count = (size_t)s->v[CM_S_EG_HEADER_COUNT];
	c->parser = cm_http_parser_new(CM_HTTP_REQUEST, &lim);
	c->bev = bufferevent_socket_new(cm_worker_base(w), fd,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	c->timer = evtimer_new(cm_worker_base(w), eg_conn_timer_cb, c);
	c->reap = event_new(cm_worker_base(w), -1, 0, eg_conn_reap_cb, c);
	if (c->parser == NULL || c->bev == NULL || c->timer == NULL ||
	    c->reap == NULL) {
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			(void)close(fd);
		cm_http_parser_free(c->parser);
		if (c->timer != NULL)
			event_free(c->timer);
		if (c->reap != NULL)
			event_free(c->reap);
		free(c);
		return;
	}
	/* Small responses go out now, not after the agent's delayed ACK. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
	    sizeof(int));
	TAILQ_INSERT_TAIL(&ew->conns, c, entry);
	ew->nconns++;
	cm_metric_add(w, eg_m.conns_agent, 1);
	cm_metric_add(w, eg_m.sc_conns, 1);
	c->state = EG_CONN_HEAD;
	eg_conn_setcb(c);
	eg_conn_arm_timer(c, (int)s->v[CM_S_EG_CLIENT_IDLE_S]);
}

void
eg_conn_drain_worker(struct eg_worker *ew)
{
	struct eg_conn	*c, *next;

	for (c = TAILQ_FIRST(&ew->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		/* Idle between requests: nothing in flight to finish. */
		if (c->state == EG_CONN_HEAD &&
		    cm_http_parser_msg(c->parser) == NULL &&
		    evbuffer_get_length(bufferevent_get_input(c->bev)) == 0)
			eg_conn_close(c, "draining");
		else if (c->x != NULL)
			eg_xchg_drain(c->x);
	}
}

void
eg_conn_kill_worker(struct eg_worker *ew)
{
	struct eg_conn	*c;

	TAILQ_FOREACH(c, &ew->conns, entry)
		eg_conn_close(c, "drain_deadline");
}

void
eg_conn_free_all(struct eg_worker *ew)
{
	struct eg_conn	*c;

	while ((c = TAILQ_FIRST(&ew->conns)) != NULL) {
		eg_conn_close(c, "stopped");
		event_del(c->reap);
		eg_conn_reap_cb(-1, 0, c);
	}
}

void
eg_conn_reload(struct eg_worker *ew, const struct eg_cfg *cfg)
{
	struct eg_conn	*c, *next;

	/* A WebSocket whose host lost its route ends (§13). */
	for (c = TAILQ_FIRST(&ew->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->x != NULL && c->x->state == EG_X_WS &&
		    cm_routes_lookup(cfg->routes, c->x->r.host) == NULL)
			eg_wsr_close(c->x, EG_WS_CLOSE_POLICY,
			    "bb-sidecar: route removed");
	}
}
