/*
 * Idle origin connections (spec/egress.md §11.4), per worker and so
 * without locks.  Keyed by (tls, host, port); at most
 * limits.pool_idle_per_origin per key and limits.pool_idle_per_worker in
 * all, the oldest going first; each closes after timeouts.pool_idle_s or
 * the origin's Keep-Alive timeout, whichever is shorter.  While idle a
 * connection is read: any byte or EOF from the origin closes it, since a
 * connection that speaks unasked cannot be trusted with the next request.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/queue.h>

#include <openssl/ssl.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>

#include "common/routes.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/worker.h"
#include "egress/egress.h"
#include "egress/upstream.h"
#include "egress/upstream_int.h"

TAILQ_HEAD(eg_pool_list, eg_up);

struct eg_pool {
	struct eg_pool_list	 buckets[EG_POOL_BUCKETS];
	struct eg_pool_list	 lru;		/* oldest release first */
	size_t			 n;
};

static uint32_t	 eg_pool_hash(int tls, const char *host, int port);
static int	 eg_pool_key_eq(const struct eg_up *up, int tls,
		    const char *host, int port);
static void	 eg_pool_read_cb(struct bufferevent *bev, void *arg);
static void	 eg_pool_event_cb(struct bufferevent *bev, short what,
		    void *arg);
static void	 eg_pool_idle_cb(evutil_socket_t fd, short what, void *arg);
static void	 eg_pool_handoff_read_cb(struct bufferevent *bev, void *arg);
static void	 eg_pool_handoff_event_cb(struct bufferevent *bev, short what,
		    void *arg);

struct eg_pool *
eg_pool_new(void)
{
	struct eg_pool	*p;
	size_t		 i;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return (NULL);
	for (i = 0; i < EG_POOL_BUCKETS; i++)
		TAILQ_INIT(&p->buckets[i]);
	TAILQ_INIT(&p->lru);
	return (p);
}

void
eg_pool_free(struct eg_pool *p)
{
	struct eg_up	*up;

	if (p == NULL)
		return;
	while ((up = TAILQ_FIRST(&p->lru)) != NULL)
		eg_up_free(up);		/* unlinks it */
	free(p);
}

static uint32_t
eg_pool_hash(int tls, const char *host, int port)
{
	uint32_t	 h = 2166136261u;

	for (; *host != '\0'; host++)
		h = (h ^ (unsigned char)*host) * 16777619u;
	h = (h ^ (uint32_t)(tls != 0)) * 16777619u;
	h = (h ^ ((uint32_t)port & 0xff)) * 16777619u;
	return ((h ^ ((uint32_t)port >> 8)) * 16777619u);
}

static int
eg_pool_key_eq(const struct eg_up *up, int tls, const char *host, int port)
{
	return (up->tls == (tls != 0) && up->port == port &&
	    strcmp(up->host, host) == 0);
}

void
eg_pool_unlink(struct eg_up *up)
{
	struct eg_pool	*p = up->ew->pool;

	if (!up->pooled)
		return;
	TAILQ_REMOVE(&p->buckets[up->hash % EG_POOL_BUCKETS], up, bucket);
	TAILQ_REMOVE(&p->lru, up, lru);
	p->n--;
	up->pooled = 0;
	if (up->idle != NULL)
		(void)event_del(up->idle);
}

/*
 * The loop may not have run since the origin closed or spoke, so look
 * at the socket itself: EOF, any byte (a TLS alert included), or an
 * error means the connection must not carry a request.  Without peek_tls
 * a TLS socket's pending bytes are left to the bufferevent: right after
 * a handshake they are usually TLS 1.3 session tickets, which it reads
 * (without calling back) once pooled.
 */
int
eg_pool_alive(struct eg_up *up, int peek_tls)
{
	char	 c;
	ssize_t	 n;
	int	 fd;

	if (up->broken ||
	    evbuffer_get_length(bufferevent_get_input(up->bev)) > 0 ||
	    (fd = bufferevent_getfd(up->bev)) < 0)
		return (0);
	n = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
		return (0);
	if (n > 0 && (!up->tls || peek_tls))
		return (0);
	if (up->tls) {
		SSL	*ssl = bufferevent_openssl_get_ssl(up->bev);

		if (ssl == NULL || SSL_pending(ssl) > 0 ||
		    (SSL_get_shutdown(ssl) & SSL_RECEIVED_SHUTDOWN) != 0)
			return (0);
	}
	return (1);
}

static void
eg_pool_read_cb(struct bufferevent *bev, void *arg)
{
	eg_up_free(arg);	/* the origin spoke unasked */
}

static void
eg_pool_event_cb(struct bufferevent *bev, short what, void *arg)
{
	eg_up_free(arg);	/* EOF, error: it is gone */
}

static void
eg_pool_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	eg_up_free(arg);
}

/*
 * Between eg_pool_take() and the dial's callback a loop turn passes;
 * what the origin does then is noted, and the dial looks before handing
 * the connection out.
 */
static void
eg_pool_handoff_read_cb(struct bufferevent *bev, void *arg)
{
	struct eg_up	*up = arg;

	up->broken = 1;
	bufferevent_disable(bev, EV_READ);
}

static void
eg_pool_handoff_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct eg_up	*up = arg;

	up->broken = 1;
	bufferevent_disable(bev, EV_READ | EV_WRITE);
}

struct eg_up *
eg_pool_take(struct eg_worker *ew, int tls, const char *host, int port)
{
	struct eg_pool	*p = ew->pool;
	struct eg_up	*up, *prev;
	uint32_t	 h;

	if (p == NULL || p->n == 0)
		return (NULL);
	h = eg_pool_hash(tls, host, port);
	/* Newest first: it is the least likely to have been closed. */
	up = TAILQ_LAST(&p->buckets[h % EG_POOL_BUCKETS], eg_pool_list);
	for (; up != NULL; up = prev) {
		prev = TAILQ_PREV(up, eg_pool_list, bucket);
		if (up->hash != h || !eg_pool_key_eq(up, tls, host, port))
			continue;
		eg_pool_unlink(up);
		if (!eg_pool_alive(up, 1)) {
			eg_up_free(up);
			continue;
		}
		up->reused = 1;
		bufferevent_setcb(up->bev, eg_pool_handoff_read_cb, NULL,
		    eg_pool_handoff_event_cb, up);
		return (up);
	}
	return (NULL);
}

void
eg_up_release(struct eg_up *up, int idle_s)
{
	struct eg_worker	*ew;
	struct eg_pool		*p;
	const struct cm_settings *s;
	struct cm_snap		*snap;
	struct eg_up		*o, *next;
	struct timeval		 tv;
	long long		 per_origin, per_worker, secs;
	size_t			 same = 0;

	if (up == NULL)
		return;
	ew = up->ew;
	p = ew->pool;
	snap = cm_worker_snap(ew->w);
	if (p == NULL || snap == NULL || snap->settings == NULL ||
	    cm_worker_draining(ew->w) || !eg_pool_alive(up, 0) ||
	    evbuffer_get_length(bufferevent_get_output(up->bev)) > 0) {
		eg_up_free(up);
		return;
	}
	s = snap->settings;
	per_origin = s->v[CM_S_EG_POOL_IDLE_PER_ORIGIN];
	per_worker = s->v[CM_S_EG_POOL_IDLE_PER_WORKER];
	secs = s->v[CM_S_EG_POOL_IDLE_S];
	if (idle_s > 0 && idle_s < secs)
		secs = idle_s;
	if (per_origin <= 0 || per_worker <= 0 || secs <= 0) {
		eg_up_free(up);
		return;
	}
	if (up->idle == NULL && (up->idle = evtimer_new(bufferevent_get_base(
	    up->bev), eg_pool_idle_cb, up)) == NULL) {
		eg_up_free(up);
		return;
	}
	up->hash = eg_pool_hash(up->tls, up->host, up->port);
	/* Make room: this key's oldest first, then the worker's oldest. */
	TAILQ_FOREACH(o, &p->buckets[up->hash % EG_POOL_BUCKETS], bucket)
		if (o->hash == up->hash &&
		    eg_pool_key_eq(o, up->tls, up->host, up->port))
			same++;
	for (o = TAILQ_FIRST(&p->buckets[up->hash % EG_POOL_BUCKETS]);
	    o != NULL && (long long)same >= per_origin; o = next) {
		next = TAILQ_NEXT(o, bucket);
		if (o->hash == up->hash &&
		    eg_pool_key_eq(o, up->tls, up->host, up->port)) {
			eg_up_free(o);
			same--;
		}
	}
	while ((long long)p->n >= per_worker && (o = TAILQ_FIRST(&p->lru)) !=
	    NULL)
		eg_up_free(o);
	up->reused = 0;
	up->broken = 0;
	bufferevent_setcb(up->bev, eg_pool_read_cb, NULL, eg_pool_event_cb, up);
	bufferevent_set_timeouts(up->bev, NULL, NULL);
	bufferevent_setwatermark(up->bev, EV_READ, 0, 0);
	bufferevent_enable(up->bev, EV_READ);
	tv.tv_sec = (time_t)secs;
	tv.tv_usec = 0;
	if (evtimer_add(up->idle, &tv) == -1) {
		eg_up_free(up);
		return;
	}
	TAILQ_INSERT_TAIL(&p->buckets[up->hash % EG_POOL_BUCKETS], up, bucket);
	TAILQ_INSERT_TAIL(&p->lru, up, lru);
	p->n++;
	up->pooled = 1;
}

void
eg_pool_close_all(struct eg_worker *ew)
{
	struct eg_up	*up;

	if (ew->pool == NULL)
		return;
	while ((up = TAILQ_FIRST(&ew->pool->lru)) != NULL)
		eg_up_free(up);
}

void
eg_pool_prune(struct eg_worker *ew, const struct eg_cfg *cfg)
{
	struct eg_up	*up, *next;

	if (ew->pool == NULL)
		return;
	for (up = TAILQ_FIRST(&ew->pool->lru); up != NULL; up = next) {
		next = TAILQ_NEXT(up, lru);
		if (cfg == NULL || cfg->routes == NULL ||
		    cm_routes_lookup(cfg->routes, up->host) == NULL)
			eg_up_free(up);
	}
}

size_t
eg_pool_idle(const struct eg_worker *ew)
{
	return (ew->pool != NULL ? ew->pool->n : 0);
}
