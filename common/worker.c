/*
 * Worker threads.  Each runs its own event_base; the inbox is the only
 * way in from other threads (append under lock, then wake the loop).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "common/bounds.h"
#include "common/log.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"

#define CM_WORKER_MAX_LISTENERS	(CM_MAX_LISTEN_ADDRS * CM_L_COUNT)
/* Paused accepting after EMFILE/ENFILE for this long. */
#define CM_ACCEPT_PAUSE_MS	100
/* While draining, busy connections are counted this often. */
#define CM_DRAIN_TICK_MS	50

struct cm_worker_msg {
	cm_worker_fn			 fn;
	void				*arg;
	TAILQ_ENTRY(cm_worker_msg)	 entry;
};

struct cm_worker_listener {
	struct cm_worker	*w;		/* borrowed */
	struct evconnlistener	*lev;		/* owned */
	struct event		*resume;	/* owned: after EMFILE */
	cm_accept_fn		 accept;
	int			 listener;	/* CM_L_* */
};

struct cm_worker {
	int				 id;
	pthread_t			 thread;
	int				 started;
	struct event_base		*base;		/* owned */
	pthread_mutex_t			 lock;		/* guards inbox, stopped */
	TAILQ_HEAD(, cm_worker_msg)	 inbox;
	int				 stopped;
	struct event			*wakeup;	/* owned */
	struct event			*heartbeat;	/* owned */
	struct event			*drain_tick;	/* owned */
	_Atomic uint64_t		 last_tick_ms;
	struct cm_snap			*snap;		/* a reference */
	void				*svc[CM_SVC_COUNT];	/* services' */
	const struct cm_service *const	*svcs;		/* borrowed */
	struct cm_worker_listener	 lis[CM_WORKER_MAX_LISTENERS];
	size_t				 nlis;
	int				 draining;
	int				 killed;
	uint64_t			 drain_deadline_ms;
};

static __thread struct cm_worker *cm_worker_current;
/* Worker threads between start and the end of their loop. */
static atomic_int cm_worker_nrunning;

int
cm_workers_running(void)
{
	return (atomic_load(&cm_worker_nrunning));
}

struct event_base *
cm_worker_base(struct cm_worker *w)
{
	return (w->base);
}

int
cm_worker_id(const struct cm_worker *w)
{
	return (w->id);
}

struct cm_snap *
cm_worker_snap(struct cm_worker *w)
{
	return (w->snap);
}

void *
cm_worker_svc(struct cm_worker *w, enum cm_svc_id id)
{
	return (w->svc[id]);
}

void
cm_worker_set_svc(struct cm_worker *w, enum cm_svc_id id, void *state)
{
	w->svc[id] = state;
}

int
cm_worker_draining(const struct cm_worker *w)
{
	return (w->draining);
}

struct cm_worker *
cm_worker_self(void)
{
	return (cm_worker_current);
}

uint64_t
cm_worker_last_tick(const struct cm_worker *w)
{
	return (atomic_load(&w->last_tick_ms));
}

static void
cm_worker_wakeup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cm_worker		*w = arg;
	TAILQ_HEAD(, cm_worker_msg)	 todo;
	struct cm_worker_msg		*m;

	TAILQ_INIT(&todo);
	pthread_mutex_lock(&w->lock);
	TAILQ_CONCAT(&todo, &w->inbox, entry);
	pthread_mutex_unlock(&w->lock);
	while ((m = TAILQ_FIRST(&todo)) != NULL) {
		TAILQ_REMOVE(&todo, m, entry);
		m->fn(w, m->arg);
		free(m);
	}
}

int
cm_worker_post(struct cm_worker *w, cm_worker_fn fn, void *arg)
{
	struct cm_worker_msg	*m;

	if ((m = malloc(sizeof(*m))) == NULL)
		return (-1);
	m->fn = fn;
	m->arg = arg;
	pthread_mutex_lock(&w->lock);
	if (w->stopped) {
		pthread_mutex_unlock(&w->lock);
		free(m);
		return (-1);
	}
	TAILQ_INSERT_TAIL(&w->inbox, m, entry);
	pthread_mutex_unlock(&w->lock);
	event_active(w->wakeup, EV_READ, 0);
	return (0);
}

static void
cm_worker_heartbeat_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cm_worker	*w = arg;

	atomic_store(&w->last_tick_ms, cm_now_ms());
}

struct cm_worker *
cm_worker_new(int id, struct cm_snap *snap)
{
	struct cm_worker	*w;
	struct timeval		 tv = { CM_HEARTBEAT_MS / 1000,
				    (CM_HEARTBEAT_MS % 1000) * 1000 };

	if ((w = calloc(1, sizeof(*w))) == NULL)
		return (NULL);
	w->id = id;
	pthread_mutex_init(&w->lock, NULL);
	TAILQ_INIT(&w->inbox);
	if ((w->base = event_base_new()) == NULL)
		goto fail;
	w->wakeup = event_new(w->base, -1, EV_PERSIST, cm_worker_wakeup_cb, w);
	w->heartbeat = event_new(w->base, -1, EV_PERSIST,
	    cm_worker_heartbeat_cb, w);
	if (w->wakeup == NULL || w->heartbeat == NULL)
		goto fail;
	/* A pending persistent event keeps the loop alive while idle. */
	if (event_add(w->wakeup, NULL) == -1 ||
	    event_add(w->heartbeat, &tv) == -1)
		goto fail;
	atomic_store(&w->last_tick_ms, cm_now_ms());
	w->snap = cm_snap_ref(snap);
	return (w);
fail:
	if (w->wakeup != NULL)
		event_free(w->wakeup);
	if (w->heartbeat != NULL)
		event_free(w->heartbeat);
	if (w->base != NULL)
		event_base_free(w->base);
	pthread_mutex_destroy(&w->lock);
	free(w);
	return (NULL);
}

static void
cm_worker_resume_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cm_worker_listener *l = arg;

	if (!l->w->draining && l->lev != NULL)
		evconnlistener_enable(l->lev);
}

static void
cm_worker_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct cm_worker_listener *l = arg;

	if (l->w->draining) {
		(void)close(fd);
		return;
	}
	l->accept(l->w, fd, sa, (socklen_t)salen, l->listener);
}

static void
cm_worker_accept_error_cb(struct evconnlistener *lev, void *arg)
{
	struct cm_worker_listener *l = arg;
	struct timeval		 tv = { 0, CM_ACCEPT_PAUSE_MS * 1000 };
	int			 err = EVUTIL_SOCKET_ERROR();

	/* Out of descriptors: park instead of spinning (httpd's rule). */
	if (err == EMFILE || err == ENFILE || err == ENOBUFS ||
	    err == ENOMEM) {
		evconnlistener_disable(lev);
		event_add(l->resume, &tv);
		cm_log(CM_LOG_WARN, "sidecar", "accept_paused", 0,
		    json_pack("{s:s,s:i}", "reason", strerror(err),
		    "worker", l->w->id));
		return;
	}
	cm_log(CM_LOG_WARN, "sidecar", "accept_error", 0,
	    json_pack("{s:s}", "reason", strerror(err)));
}

int
cm_worker_listen(struct cm_worker *w, int fd, cm_accept_fn accept,
    int listener)
{
	struct cm_worker_listener *l;

	if (w->nlis == CM_WORKER_MAX_LISTENERS) {
		(void)close(fd);
		return (-1);
	}
	l = &w->lis[w->nlis];
	l->w = w;
	l->accept = accept;
	l->listener = listener;
	l->resume = evtimer_new(w->base, cm_worker_resume_cb, l);
	l->lev = evconnlistener_new(w->base, cm_worker_accept_cb, l,
	    LEV_OPT_CLOSE_ON_FREE, -1, fd);
	if (l->lev == NULL || l->resume == NULL) {
		if (l->lev != NULL)
			evconnlistener_free(l->lev);
		else
			(void)close(fd);
		if (l->resume != NULL)
			event_free(l->resume);
		memset(l, 0, sizeof(*l));
		return (-1);
	}
	evconnlistener_set_error_cb(l->lev, cm_worker_accept_error_cb);
	w->nlis++;
	return (0);
}

static void
cm_worker_close_listeners(struct cm_worker *w)
{
	size_t	 i;

	for (i = 0; i < w->nlis; i++) {
		if (w->lis[i].lev != NULL)
			evconnlistener_free(w->lis[i].lev);
		if (w->lis[i].resume != NULL)
			event_free(w->lis[i].resume);
		w->lis[i].lev = NULL;
		w->lis[i].resume = NULL;
	}
	w->nlis = 0;
}

static void *
cm_worker_main(void *arg)
{
	struct cm_worker	*w = arg;
	size_t			 i;

	cm_worker_current = w;
	for (i = 0; i < CM_SVC_COUNT; i++)
		if (w->svcs[i] != NULL && w->svcs[i]->worker_start != NULL &&
		    w->svcs[i]->worker_start(w) == -1) {
			cm_log(CM_LOG_ERROR, "sidecar", "worker_start_failed",
			    0, json_pack("{s:s,s:i}", "service",
			    w->svcs[i]->name, "worker", w->id));
			exit(3);
		}
	event_base_dispatch(w->base);
	/* Refuse late posts; run what was already queued. */
	pthread_mutex_lock(&w->lock);
	w->stopped = 1;
	pthread_mutex_unlock(&w->lock);
	cm_worker_wakeup_cb(-1, 0, w);
	cm_worker_close_listeners(w);
	for (i = 0; i < CM_SVC_COUNT; i++)
		if (w->svcs[i] != NULL && w->svcs[i]->worker_free != NULL)
			w->svcs[i]->worker_free(w);
	/* Let frees scheduled by the services run. */
	event_base_loop(w->base, EVLOOP_NONBLOCK);
	cm_worker_current = NULL;
	atomic_fetch_sub(&cm_worker_nrunning, 1);
	return (NULL);
}

int
cm_worker_start(struct cm_worker *w, const struct cm_service *const *svcs)
{
	w->svcs = svcs;
	atomic_fetch_add(&cm_worker_nrunning, 1);
	if (pthread_create(&w->thread, NULL, cm_worker_main, w) != 0) {
		atomic_fetch_sub(&cm_worker_nrunning, 1);
		return (-1);
	}
	cm_thread_name(w->thread, "bb-worker-%d", w->id);
	w->started = 1;
	return (0);
}

static void
cm_worker_publish_cb(struct cm_worker *w, void *arg)
{
	struct cm_snap	*snap = arg, *old = w->snap;
	size_t		 i;

	w->snap = snap;
	for (i = 0; i < CM_SVC_COUNT; i++)
		if (w->svcs[i] != NULL && w->svcs[i]->worker_reload != NULL)
			w->svcs[i]->worker_reload(w, old, snap);
	cm_snap_unref(old);
}

int
cm_worker_publish(struct cm_worker *w, struct cm_snap *snap)
{
	cm_snap_ref(snap);
	if (cm_worker_post(w, cm_worker_publish_cb, snap) == -1) {
		cm_snap_unref(snap);
		return (-1);
	}
	return (0);
}

static size_t
cm_worker_busy(struct cm_worker *w)
{
	size_t	 i, n = 0;

	for (i = 0; i < CM_SVC_COUNT; i++)
		if (w->svcs[i] != NULL && w->svcs[i]->worker_busy != NULL)
			n += w->svcs[i]->worker_busy(w);
	return (n);
}

static void
cm_worker_drain_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cm_worker	*w = arg;
	struct timeval		 tv = { 0, 10 * 1000 };
	size_t			 i;

	if (w->killed)
		return;
	if (cm_worker_busy(w) > 0 && cm_now_ms() < w->drain_deadline_ms)
		return;
	/* Idle or out of time: close what is left, then leave the loop. */
	w->killed = 1;
	event_del(w->drain_tick);
	for (i = 0; i < CM_SVC_COUNT; i++)
		if (w->svcs[i] != NULL && w->svcs[i]->worker_kill != NULL)
			w->svcs[i]->worker_kill(w);
	event_base_loopexit(w->base, &tv);
}

static void
cm_worker_drain_cb(struct cm_worker *w, void *arg)
{
	struct timeval	 tv = { 0, CM_DRAIN_TICK_MS * 1000 };
	size_t		 i;

	if (w->draining)
		return;
	w->draining = 1;
	cm_worker_close_listeners(w);
	for (i = 0; i < CM_SVC_COUNT; i++)
		if (w->svcs[i] != NULL && w->svcs[i]->worker_drain != NULL)
			w->svcs[i]->worker_drain(w);
	w->drain_tick = event_new(w->base, -1, EV_PERSIST,
	    cm_worker_drain_tick_cb, w);
	if (w->drain_tick == NULL) {
		event_base_loopexit(w->base, NULL);
		return;
	}
	event_add(w->drain_tick, &tv);
	cm_worker_drain_tick_cb(-1, 0, w);
}

int
cm_worker_drain(struct cm_worker *w, uint64_t deadline_ms)
{
	w->drain_deadline_ms = deadline_ms;
	return (cm_worker_post(w, cm_worker_drain_cb, NULL));
}

void
cm_worker_join(struct cm_worker *w)
{
	struct cm_worker_msg	*m;

	if (w == NULL)
		return;
	if (w->started)
		pthread_join(w->thread, NULL);
	while ((m = TAILQ_FIRST(&w->inbox)) != NULL) {
		TAILQ_REMOVE(&w->inbox, m, entry);
		free(m);
	}
	cm_worker_close_listeners(w);
	if (w->drain_tick != NULL)
		event_free(w->drain_tick);
	event_free(w->wakeup);
	event_free(w->heartbeat);
	event_base_free(w->base);
	cm_snap_unref(w->snap);
	pthread_mutex_destroy(&w->lock);
	free(w);
}
