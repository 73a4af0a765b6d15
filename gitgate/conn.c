/*
 * Client connections of both fronts: accept, the 1 Hz tick, output
 * accounting for the write-stall clock, and the deferred free.  A
 * connection closed while a job or a queue waiter still refers to it
 * stays allocated (dead) until the last reference is dropped, so no
 * callback ever touches freed memory (STYLE.md 3.7).
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
#include <event2/event.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "gitgate/conn.h"
#include "gitgate/gg.h"
#include "gitgate/pktline.h"
#include "gitgate/sess.h"

static void	gg_conn_read_cb(struct bufferevent *, void *);
static void	gg_conn_write_cb(struct bufferevent *, void *);
static void	gg_conn_event_cb(struct bufferevent *, short, void *);

/* A closing connection waits this long for its last bytes to go out. */
#define GG_FLUSH_MAX_MS		5000
/* ...and a lingering one this long for the client's EOF after them. */
#define GG_LINGER_MAX_MS	2000

static void
gg_conn_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gg_conn	*c = arg;

	if (c->refs > 0)
		return;		/* the last release fires the reap again */
	TAILQ_REMOVE(&c->gw->conns, c, entry);
	c->gw->nconns--;
	cm_metric_add(c->gw->w, c->front == GG_FRONT_GIT ? gg_m.conns_git :
	    gg_m.conns_http, -1);
	gg_sess_free(c->sess);
	gg_http_free(c->http);
	if (c->bev != NULL)
		bufferevent_free(c->bev);
	event_free(c->tick);
	event_free(c->pump);
	event_free(c->done);
	event_free(c->reap);
	free(c);
}

void
gg_conn_close(struct gg_conn *c, const char *why)
{
	if (c->dead)
		return;
	c->dead = 1;
	if (c->bev != NULL)
		bufferevent_disable(c->bev, EV_READ | EV_WRITE);
	event_del(c->tick);
	event_del(c->pump);
	event_del(c->done);
	/* Jobs see the cancel flag; holds are withdrawn. */
	if (c->sess != NULL)
		gg_sess_abort(c->sess);
	cm_log(CM_LOG_DEBUG, "gitgate", "close", c->id, json_pack("{s:s,s:s,"
	    "s:I,s:I}", "reason", why, "front", c->front == GG_FRONT_GIT ?
	    "git" : "http", "bytes_in", (json_int_t)c->bytes_in, "bytes_out",
	    (json_int_t)c->bytes_out));
	event_active(c->reap, EV_TIMEOUT, 0);
}

void
gg_conn_hold(struct gg_conn *c)
{
	c->refs++;
}

int
gg_conn_release(struct gg_conn *c)
{
	if (--c->refs == 0 && c->dead) {
		event_active(c->reap, EV_TIMEOUT, 0);
		return (1);
	}
	return (c->dead);
}

struct evbuffer *
gg_conn_output(struct gg_conn *c)
{
	return (bufferevent_get_output(c->bev));
}

struct evbuffer *
gg_conn_input(struct gg_conn *c)
{
	return (bufferevent_get_input(c->bev));
}

size_t
gg_conn_pending(struct gg_conn *c)
{
	return (evbuffer_get_length(bufferevent_get_output(c->bev)));
}

void
gg_conn_reading(struct gg_conn *c, int on)
{
	if (c->dead || c->bev == NULL)
		return;
	if (on)
		bufferevent_enable(c->bev, EV_READ);
	else
		bufferevent_disable(c->bev, EV_READ);
}

static void
gg_conn_pump_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gg_conn	*c = arg;

	if (c->dead)
		return;
	if (c->front == GG_FRONT_HTTP) {
		gg_http_read(c);
		return;
	}
	if (c->state != GG_CONN_SESSION)
		return;
	bufferevent_enable(c->bev, EV_READ);
	if (c->sess != NULL && (evbuffer_get_length(gg_conn_input(c)) > 0 ||
	    c->sess->in_eof))
		gg_sess_input(c->sess);
}

static void
gg_conn_done_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gg_conn	*c = arg;

	if (c->dead)
		return;
	if (c->front == GG_FRONT_HTTP)
		gg_http_sess_done(c, c->over_ok);
	else
		gg_conn_finish(c);
}

void
gg_conn_over(struct gg_conn *c, int ok)
{
	if (c->dead)
		return;
	c->over_ok = ok;
	c->state = GG_CONN_DONE;
	bufferevent_disable(c->bev, EV_READ);
	event_active(c->done, EV_TIMEOUT, 0);
}

void
gg_conn_pump(struct gg_conn *c)
{
	if (!c->dead)
		event_active(c->pump, EV_TIMEOUT, 0);
}

void
gg_conn_sent(struct gg_conn *c, size_t n)
{
	c->bytes_out += n;
	/* Per repo: bytes of a refusal before any repo is known are not. */
	if (c->sess != NULL)
		cm_metric_add(c->gw->w, c->sess->m_bytes[1], (int64_t)n);
}

static void
gg_conn_flush_or_close(struct gg_conn *c)
{
	if (gg_conn_pending(c) == 0 && c->linger == 1) {
		/* Half-close; the client's EOF (or the deadline) ends it. */
		c->linger = 2;
		(void)shutdown(bufferevent_getfd(c->bev), SHUT_WR);
		c->flush_deadline_ms = cm_now_ms() + GG_LINGER_MAX_MS;
		bufferevent_enable(c->bev, EV_READ);
		return;
	}
	if (gg_conn_pending(c) == 0 && c->linger == 0) {
		gg_conn_close(c, "done");
		return;
	}
	if (c->flush_deadline_ms == 0)
		c->flush_deadline_ms = cm_now_ms() + GG_FLUSH_MAX_MS;
}

void
gg_conn_finish(struct gg_conn *c)
{
	if (c->dead)
		return;
	bufferevent_disable(c->bev, EV_READ);
	c->state = GG_CONN_FLUSH;
	gg_conn_flush_or_close(c);
}

void
gg_conn_finish_linger(struct gg_conn *c)
{
	if (c->dead)
		return;
	c->linger = 1;
	gg_conn_finish(c);
}

/* Output left the buffer: the client reads, the stall clock restarts. */
static void
gg_conn_out_cb(struct evbuffer *buf, const struct evbuffer_cb_info *info,
    void *arg)
{
	struct gg_conn	*c = arg;

	if (info->n_deleted > 0)
		c->last_out_ms = cm_now_ms();
}

static void
gg_conn_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct gg_conn		*c = arg;
	const struct cm_settings *s = cm_worker_snap(c->gw->w)->settings;
	uint64_t		 now = cm_now_ms();

	if (c->dead)
		return;
	if (c->state == GG_CONN_FLUSH) {
		if (now >= c->flush_deadline_ms)
			gg_conn_close(c, "flush_timeout");
		return;
	}
	/* §11: a client that does not read our output is dropped. */
	if (gg_conn_pending(c) > 0 && now - c->last_out_ms >
	    (uint64_t)s->v[CM_S_GG_WRITE_STALL_TIMEOUT_S] * 1000) {
		cm_log(CM_LOG_INFO, "gitgate", "timeout", c->id, json_pack(
		    "{s:s,s:I}", "what", "write_stall", "seconds",
		    (json_int_t)s->v[CM_S_GG_WRITE_STALL_TIMEOUT_S]));
		gg_conn_close(c, "write_stall");
		return;
	}
	if (c->front == GG_FRONT_GIT)
		gg_git_tick(c, now);
	else
		gg_http_tick(c, now);
}

static void
gg_conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct gg_conn	*c = arg;
	size_t		 n = evbuffer_get_length(bufferevent_get_input(bev));

	if (c->dead)
		return;
	if (n > 0)
		c->last_in_ms = cm_now_ms();
	if (c->state == GG_CONN_FLUSH) {
		/* Lingering: what the client still sends is dropped. */
		(void)evbuffer_drain(bufferevent_get_input(bev), n);
		return;
	}
	if (c->front == GG_FRONT_GIT)
		gg_git_read(c);
	else
		gg_http_read(c);
}

static void
gg_conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct gg_conn	*c = arg;

	if (c->dead)
		return;
	c->last_out_ms = cm_now_ms();
	if (c->state == GG_CONN_FLUSH) {
		gg_conn_flush_or_close(c);
		return;
	}
	if (c->sess != NULL)
		gg_sess_drained(c->sess);
}

static void
gg_conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct gg_conn	*c = arg;

	if (c->dead)
		return;
	if ((what & BEV_EVENT_EOF) && c->state != GG_CONN_FLUSH) {
		/* Half-close: a session may still owe its answer. */
		if (c->front == GG_FRONT_HTTP) {
			gg_http_eof(c);
			return;
		}
		if (c->state == GG_CONN_REQUEST &&
		    evbuffer_get_length(gg_conn_input(c)) > 0) {
			gg_git_eof(c);
			return;
		}
		if (c->sess != NULL && !c->sess->in_eof) {
			c->sess->in_eof = 1;
			bufferevent_disable(c->bev, EV_READ);
			gg_sess_input(c->sess);
			return;
		}
	}
	gg_conn_close(c, (what & BEV_EVENT_EOF) ? "client_closed" :
	    "client_error");
}

void
gg_conn_accept(struct cm_worker *w, int fd, const struct sockaddr *sa,
    socklen_t salen, int listener)
{
	struct gg_worker	*gw = gg_worker_of(w);
	struct gg_conn		*c;
	char			 host[INET6_ADDRSTRLEN];

	if (gw == NULL || gw->nconns >= GG_MAX_CONNS_PER_WORKER ||
	    cm_worker_draining(w)) {
		(void)close(fd);
		return;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		(void)close(fd);
		return;
	}
	c->gw = gw;
	c->front = listener == CM_L_GITGATE_GIT ? GG_FRONT_GIT : GG_FRONT_HTTP;
	c->id = ((uint64_t)cm_worker_id(w) << 48) | ++gw->next_id;
	c->opened_ms = c->last_in_ms = c->last_out_ms = c->state_ms =
	    cm_now_ms();
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
		    host, sizeof(host));
		(void)snprintf(c->client, sizeof(c->client), "%s:%d", host,
		    ntohs(((const struct sockaddr_in *)sa)->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		inet_ntop(AF_INET6,
		    &((const struct sockaddr_in6 *)sa)->sin6_addr, host,
		    sizeof(host));
		(void)snprintf(c->client, sizeof(c->client), "[%s]:%d", host,
		    ntohs(((const struct sockaddr_in6 *)sa)->sin6_port));
	}
	c->bev = bufferevent_socket_new(cm_worker_base(w), fd,
	    BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
	c->tick = event_new(cm_worker_base(w), -1, EV_PERSIST, gg_conn_tick_cb,
	    c);
	c->reap = event_new(cm_worker_base(w), -1, 0, gg_conn_reap_cb, c);
	c->pump = event_new(cm_worker_base(w), -1, 0, gg_conn_pump_cb, c);
	c->done = event_new(cm_worker_base(w), -1, 0, gg_conn_done_cb, c);
	if (c->bev == NULL || c->tick == NULL || c->reap == NULL ||
	    c->pump == NULL || c->done == NULL ||
	    evbuffer_add_cb(bufferevent_get_output(c->bev), gg_conn_out_cb,
	    c) == NULL) {
		if (c->bev != NULL)
			bufferevent_free(c->bev);
		else
			(void)close(fd);
		if (c->tick != NULL)
			event_free(c->tick);
		if (c->reap != NULL)
			event_free(c->reap);
		if (c->pump != NULL)
			event_free(c->pump);
		if (c->done != NULL)
			event_free(c->done);
		free(c);
		return;
	}
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &(int){ 1 },
	    sizeof(int));
	TAILQ_INSERT_TAIL(&gw->conns, c, entry);
	gw->nconns++;
	cm_metric_add(w, c->front == GG_FRONT_GIT ? gg_m.conns_git :
	    gg_m.conns_http, 1);
	c->state = GG_CONN_REQUEST;
	bufferevent_setcb(c->bev, gg_conn_read_cb, gg_conn_write_cb,
	    gg_conn_event_cb, c);
	/* Never more than a packet's worth or a head unparsed at once. */
	bufferevent_setwatermark(c->bev, EV_READ, 0, 4 * GG_PKT_MAX);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	(void)event_add(c->tick, &(struct timeval){ 1, 0 });
	if (c->front == GG_FRONT_HTTP)
		gg_http_start(c);
}

static void	gg_conn_refuse_draining(struct gg_conn *);

void
gg_conn_drain_worker(struct gg_worker *gw)
{
	struct gg_conn	*c, *next;

	for (c = TAILQ_FIRST(&gw->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		if (c->sess != NULL || c->state != GG_CONN_REQUEST)
			continue;
		/*
		 * git://: no request line yet (or part of one).  Answer now
		 * rather than close in silence; the client reads the ERR
		 * after it sent its request.
		 */
		if (c->front == GG_FRONT_GIT) {
			gg_conn_refuse_draining(c);
			continue;
		}
		/* HTTP between requests: nothing in flight to finish. */
		if (evbuffer_get_length(gg_conn_input(c)) == 0 &&
		    !gg_http_head_begun(c))
			gg_conn_close(c, "draining");
	}
}

static void
gg_conn_refuse_draining(struct gg_conn *c)
{
	cm_log(CM_LOG_INFO, "gitgate", "refused", c->id, json_pack("{s:s,"
	    "s:s,s:s}", "client", c->client, "front", "git", "reason",
	    "draining"));
	cm_metric_add(c->gw->w, gg_m.refusals, 1);
	(void)gg_pktline_printf(gg_conn_output(c), "ERR %s\n", GG_DRAIN_MSG);
	gg_conn_finish_linger(c);
}

void
gg_conn_kill_worker(struct gg_worker *gw)
{
	struct gg_conn	*c;

	TAILQ_FOREACH(c, &gw->conns, entry)
		gg_conn_close(c, "drain_deadline");
}

void
gg_conn_free_all(struct gg_worker *gw)
{
	struct gg_conn	*c;

	struct gg_conn	*next;

	for (c = TAILQ_FIRST(&gw->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		gg_conn_close(c, "stopped");
		event_del(c->reap);
		/*
		 * A job still running holds c: its done() runs off the workers
		 * and never touches c, which is left to the exit.
		 */
		if (c->refs == 0)
			gg_conn_reap_cb(-1, 0, c);
		else
			TAILQ_REMOVE(&gw->conns, c, entry);
	}
}
