/*
 * The approval queue: requests, the queue thread and its inbox, delivery
 * to owners, the process-wide instance.  File work lives in
 * queue_scan.c; file formats in queue_file.c.
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <event2/event.h>

#include "common/bounds.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/queue_int.h"
#include "common/scan.h"
#include "common/secrets.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"

static struct cm_queue_req *cm_queue_req_new(struct cm_queue *,
		    enum cm_queue_op, struct cm_worker *, cm_queue_cb, void *);
static void	 cm_queue_req_free(struct cm_queue_req *);
static void	 cm_queue_post(struct cm_queue *, struct cm_queue_req *);
static void	 cm_queue_deliver_msg(struct cm_worker *, void *);
static void	 cm_queue_timeout_cb(evutil_socket_t, short, void *);
static void	 cm_queue_wakeup_cb(evutil_socket_t, short, void *);
static void	 cm_queue_tick_cb(evutil_socket_t, short, void *);
static void	 cm_queue_inotify_cb(evutil_socket_t, short, void *);
static void	 cm_queue_rearm(struct cm_queue *);
static void	 cm_queue_do_wait(struct cm_queue *, struct cm_queue_req *);
static void	 cm_queue_do_status(struct cm_queue *, struct cm_queue_req *);
static void	 cm_queue_do_shutdown(struct cm_queue *);
static void	*cm_queue_main(void *);


/* ---- requests ------------------------------------------------------ */

static struct cm_queue_req *
cm_queue_req_new(struct cm_queue *q, enum cm_queue_op op,
    struct cm_worker *owner, cm_queue_cb cb, void *arg)
{
	struct cm_queue_req	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (NULL);
	r->q = q;
	r->op = op;
	r->owner = owner;
	r->cb = cb;
	r->arg = arg;
	atomic_init(&r->refs, 2);
	return (r);
}

static void
cm_queue_req_free(struct cm_queue_req *r)
{
	if (r->timer != NULL)
		event_free(r->timer);
	free(r->source);
	free(r->justification);
	free(r->client_name);
	free(r->client_version);
	json_decref(r->payload);
	free(r->dedupe);
	free(r->reason);
	cm_secrets_unref(r->secrets);
	json_decref(r->res.proposal);
	json_decref(r->res.response);
	free(r);
}

void
cm_queue_req_unref(struct cm_queue_req *r)
{
	if (r != NULL && atomic_fetch_sub(&r->refs, 1) == 1)
		cm_queue_req_free(r);
}

static void
cm_queue_post(struct cm_queue *q, struct cm_queue_req *r)
{
	pthread_mutex_lock(&q->lock);
	TAILQ_INSERT_TAIL(&q->inbox, r, link);
	pthread_mutex_unlock(&q->lock);
	event_active(q->wakeup, EV_READ, 0);
}

/* On the owner's thread: the callback, unless cancelled meanwhile. */
static void
cm_queue_deliver_msg(struct cm_worker *w, void *arg)
{
	struct cm_queue_req	*r = arg;

	if (!r->cancelled) {
		if (r->timer != NULL) {
			event_free(r->timer);
			r->timer = NULL;
		}
		if (r->cb != NULL)
			r->cb(w, &r->res, r->arg);
		cm_queue_req_unref(r);		/* the owner's */
	}
	cm_queue_req_unref(r);			/* the queue's */
}

/* r->done is set and r is off every list: send it home. */
void
cm_queue_deliver(struct cm_queue *q, struct cm_queue_req *r)
{
	if (r->owner == NULL) {
		cm_queue_deliver_msg(NULL, r);
		return;
	}
	/* The worker stopped: its free hook cancels, we drop our part. */
	if (cm_worker_post(r->owner, cm_queue_deliver_msg, r) == -1)
		cm_queue_req_unref(r);
}

/* A request the queue thread holds got its result; 0 if it was late. */
int
cm_queue_finish(struct cm_queue *q, struct cm_queue_req *r)
{
	pthread_mutex_lock(&q->lock);
	if (r->done) {
		pthread_mutex_unlock(&q->lock);
		cm_queue_req_unref(r);
		return (0);
	}
	r->done = 1;
	pthread_mutex_unlock(&q->lock);
	cm_queue_deliver(q, r);
	return (1);
}

static void
cm_queue_timeout_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cm_queue_req	*r = arg;
	struct cm_queue		*q = r->q;
	int			 dropq = 0;

	pthread_mutex_lock(&q->lock);
	if (r->done) {
		/* A decision is on its way to this thread. */
		pthread_mutex_unlock(&q->lock);
		return;
	}
	r->done = 1;
	if (r->entry != NULL) {
		TAILQ_REMOVE(&r->entry->waiters, r, link);
		r->entry = NULL;
		q->nwaiters--;
		dropq = 1;
	}
	cm_metric_set(q->m_waiters, (int64_t)q->nwaiters);
	pthread_mutex_unlock(&q->lock);
	event_free(r->timer);
	r->timer = NULL;
	r->res.outcome = CM_QUEUE_TIMEOUT;
	cm_strlcpy(r->res.id, r->id, sizeof(r->res.id));
	if (r->cb != NULL)
		r->cb(r->owner, &r->res, r->arg);
	cm_queue_req_unref(r);
	if (dropq)
		cm_queue_req_unref(r);
}

void
cm_queue_cancel(struct cm_queue_req *r)
{
	struct cm_queue	*q;
	int		 dropq = 0;

	if (r == NULL)
		return;
	q = r->q;
	pthread_mutex_lock(&q->lock);
	r->cancelled = 1;
	if (!r->done) {
		r->done = 1;
		if (r->entry != NULL) {
			TAILQ_REMOVE(&r->entry->waiters, r, link);
			r->entry = NULL;
			q->nwaiters--;
			dropq = 1;
		}
	}
	cm_metric_set(q->m_waiters, (int64_t)q->nwaiters);
	pthread_mutex_unlock(&q->lock);
	if (r->timer != NULL) {
		event_free(r->timer);
		r->timer = NULL;
	}
	cm_queue_req_unref(r);
	if (dropq)
		cm_queue_req_unref(r);
}

/* ---- the public operations ----------------------------------------- */

static char *
cm_queue_strdup(const char *s)
{
	return (s != NULL ? strdup(s) : NULL);
}

struct cm_queue_req *
cm_queue_submit(struct cm_queue *q, const struct cm_queue_submission *s,
    struct cm_worker *owner, cm_queue_cb cb, void *arg)
{
	struct cm_queue_req	*r;
	struct cm_worker	*self = cm_worker_self();
	struct cm_snap		*snap;

	if ((r = cm_queue_req_new(q, CM_QOP_SUBMIT, owner, cb, arg)) == NULL)
		return (NULL);
	r->kind = s->kind;
	r->source = cm_queue_strdup(s->source != NULL ? s->source : "mcp");
	r->justification = cm_queue_strdup(s->justification);
	r->client_name = cm_queue_strdup(s->client_name);
	r->client_version = cm_queue_strdup(s->client_version);
	r->payload = s->payload != NULL ? json_deep_copy(s->payload) :
	    json_object();
	r->dedupe = cm_queue_strdup(s->dedupe_key);
	r->deadline_s = s->deadline_s;
	/* The caller's snapshot has the newest known-secret set. */
	if (self != NULL && (snap = cm_worker_snap(self)) != NULL &&
	    snap->secrets != NULL)
		r->secrets = cm_secrets_ref(snap->secrets);
	else if (q->secrets != NULL)
		r->secrets = cm_secrets_ref(q->secrets);
	if (r->source == NULL || r->payload == NULL ||
	    (s->justification != NULL && r->justification == NULL) ||
	    (s->dedupe_key != NULL && r->dedupe == NULL)) {
		cm_queue_req_free(r);
		return (NULL);
	}
	cm_queue_post(q, r);
	return (r);
}

struct cm_queue_req *
cm_queue_wait(struct cm_queue *q, const char *id, int64_t wait_ms,
    struct cm_worker *owner, cm_queue_cb cb, void *arg)
{
	struct cm_queue_req	*r;
	struct event_base	*base;
	struct timeval		 tv;

	if ((r = cm_queue_req_new(q, CM_QOP_WAIT, owner, cb, arg)) == NULL)
		return (NULL);
	cm_strlcpy(r->id, id, sizeof(r->id));
	r->wait_ms = wait_ms;
	if (wait_ms > 0) {
		/* The wait is a timer on the owner's own loop. */
		base = owner != NULL ? cm_worker_base(owner) : q->base;
		tv.tv_sec = (time_t)(wait_ms / 1000);
		tv.tv_usec = (suseconds_t)(wait_ms % 1000) * 1000;
		if ((r->timer = evtimer_new(base, cm_queue_timeout_cb, r)) ==
		    NULL) {
			cm_queue_req_free(r);
			return (NULL);
		}
		evtimer_add(r->timer, &tv);
	}
	cm_queue_post(q, r);
	return (r);
}

struct cm_queue_req *
cm_queue_status(struct cm_queue *q, const char *id, struct cm_worker *owner,
    cm_queue_cb cb, void *arg)
{
	struct cm_queue_req	*r;

	if ((r = cm_queue_req_new(q, CM_QOP_STATUS, owner, cb, arg)) == NULL)
		return (NULL);
	cm_strlcpy(r->id, id, sizeof(r->id));
	cm_queue_post(q, r);
	return (r);
}

void
cm_queue_withdraw(struct cm_queue *q, const char *id, const char *reason)
{
	struct cm_queue_req	*r;

	if ((r = cm_queue_req_new(q, CM_QOP_WITHDRAW, NULL, NULL, NULL)) ==
	    NULL)
		return;
	cm_strlcpy(r->id, id, sizeof(r->id));
	r->reason = strdup(reason != NULL ? reason : "withdrawn");
	/* Nobody holds the owner's reference of a fire-and-forget request. */
	atomic_store(&r->refs, 1);
	r->cancelled = 1;
	cm_queue_post(q, r);
}

void
cm_queue_shutdown(struct cm_queue *q)
{
	struct cm_queue_req	*r;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	if (q->stopping) {
		pthread_mutex_unlock(&q->lock);
		return;
	}
	q->stopping = 1;
	pthread_mutex_unlock(&q->lock);
	if ((r = cm_queue_req_new(q, CM_QOP_SHUTDOWN, NULL, NULL, NULL)) ==
	    NULL)
		return;
	atomic_store(&r->refs, 1);
	r->cancelled = 1;
	cm_queue_post(q, r);
}

size_t
cm_queue_nwaiters(struct cm_queue *q)
{
	size_t	 n;

	pthread_mutex_lock(&q->lock);
	n = q->nwaiters;
	pthread_mutex_unlock(&q->lock);
	return (n);
}

const char *
cm_queue_bottle(const struct cm_queue *q)
{
	return (q->bottle);
}

void
cm_queue_set_test_hook(struct cm_queue *q,
    void (*after_write)(const char *, void *), void *arg)
{
	q->test_hook = after_write;
	q->test_arg = arg;
}

void
cm_queue_configure(struct cm_queue *q, const struct cm_settings *s)
{
	atomic_store(&q->poll_ms, (int)s->v[CM_S_SV_POLL_MS]);
	atomic_store(&q->max_pending, (int)s->v[CM_S_SV_MAX_PENDING]);
	atomic_store(&q->max_pending_holds,
	    (int)s->v[CM_S_SV_MAX_PENDING_HOLDS]);
}

/* ---- the queue thread ---------------------------------------------- */

static void
cm_queue_rearm(struct cm_queue *q)
{
	struct timeval	 tv;
	int		 ms;

	pthread_mutex_lock(&q->lock);
	ms = q->nwaiters > 0 ? atomic_load(&q->poll_ms) : CM_QUEUE_IDLE_TICK_MS;
	pthread_mutex_unlock(&q->lock);
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(q->tick, &tv);
}

static void
cm_queue_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cm_queue	*q = arg;

	/* A timer a little early must not skip a listing for a round. */
	cm_qscan_tick(q, cm_now_ms() - (uint64_t)q->last_list_ms +
	    CM_QUEUE_IDLE_TICK_MS / 10 >= CM_QUEUE_IDLE_TICK_MS);
	cm_queue_rearm(q);
}

static void
cm_queue_inotify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cm_queue	*q = arg;
	char		 buf[4096] __attribute__((aligned(
			    __alignof__(struct inotify_event))));

	/* What changed does not matter: the listing finds it. */
	while (read(fd, buf, sizeof(buf)) > 0)
		;
	cm_qscan_tick(q, 1);
	cm_queue_rearm(q);
}

static void
cm_queue_wakeup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cm_queue		*q = arg;
	struct cm_queue_reqs	 todo;
	struct cm_queue_req	*r;

	TAILQ_INIT(&todo);
	pthread_mutex_lock(&q->lock);
	TAILQ_CONCAT(&todo, &q->inbox, link);
	pthread_mutex_unlock(&q->lock);
	while ((r = TAILQ_FIRST(&todo)) != NULL) {
		TAILQ_REMOVE(&todo, r, link);
		switch (r->op) {
		case CM_QOP_SUBMIT:
			cm_queue_do_submit(q, r);
			break;
		case CM_QOP_WAIT:
			cm_queue_do_wait(q, r);
			break;
		case CM_QOP_STATUS:
			cm_queue_do_status(q, r);
			break;
		case CM_QOP_WITHDRAW: {
			struct cm_qentry *e = cm_qscan_find(q, r->id);

			if (e != NULL && cm_qfile_kind_is_hold(e->kind) &&
			    e->decision == NULL)
				cm_qscan_withdraw(q, e, r->reason);
			cm_queue_req_unref(r);
			break;
		}
		case CM_QOP_SHUTDOWN:
			cm_queue_do_shutdown(q);
			cm_queue_req_unref(r);
			break;
		}
	}
	if (q->quit)
		event_base_loopbreak(q->base);
	else
		cm_queue_rearm(q);
}

static void
cm_queue_do_wait(struct cm_queue *q, struct cm_queue_req *r)
{
	struct cm_qentry	*e;
	int			 stopping;

	cm_strlcpy(r->res.id, r->id, sizeof(r->res.id));
	pthread_mutex_lock(&q->lock);
	stopping = q->stopping;
	pthread_mutex_unlock(&q->lock);
	if (!cm_qfile_id_valid(r->id)) {
		r->res.outcome = CM_QUEUE_UNKNOWN;
		(void)cm_queue_finish(q, r);
		return;
	}
	e = cm_qscan_find(q, r->id);
	if (e != NULL && e->decision != NULL) {
		r->res.outcome = CM_QUEUE_DECIDED;
		r->res.kind = e->kind;
		r->res.status = e->dstatus;
		r->res.proposal = json_deep_copy(e->proposal);
		r->res.response = json_deep_copy(e->decision);
		r->res.created_ms = e->created_ms;
		(void)cm_queue_finish(q, r);
		return;
	}
	if (e != NULL && stopping && !cm_qfile_kind_is_hold(e->kind)) {
		r->res.outcome = CM_QUEUE_STOPPING;
		r->res.kind = e->kind;
		(void)cm_queue_finish(q, r);
		return;
	}
	if (e == NULL) {
		/* Archived, or written by hand since the last listing. */
		cm_qscan_lookup(q, r);
		if ((e = cm_qscan_find(q, r->id)) == NULL ||
		    e->decision != NULL) {
			(void)cm_queue_finish(q, r);
			return;
		}
		json_decref(r->res.proposal);
		json_decref(r->res.response);
		r->res.proposal = r->res.response = NULL;
	}
	pthread_mutex_lock(&q->lock);
	if (r->done) {
		pthread_mutex_unlock(&q->lock);
		cm_queue_req_unref(r);
		return;
	}
	r->entry = e;
	TAILQ_INSERT_TAIL(&e->waiters, r, link);
	q->nwaiters++;
	cm_metric_set(q->m_waiters, (int64_t)q->nwaiters);
	pthread_mutex_unlock(&q->lock);
	/* One immediate lookup: the response may predate the waiter. */
	(void)cm_qscan_check(q, e);
}

static void
cm_queue_do_status(struct cm_queue *q, struct cm_queue_req *r)
{
	struct cm_qentry	*e;

	cm_strlcpy(r->res.id, r->id, sizeof(r->res.id));
	r->res.outcome = CM_QUEUE_UNKNOWN;
	if (!cm_qfile_id_valid(r->id)) {
		(void)cm_queue_finish(q, r);
		return;
	}
	if ((e = cm_qscan_find(q, r->id)) != NULL && e->decision == NULL &&
	    e->visible) {
		/* A valid response waiting in responses/ is applied now. */
		json_t *prop = json_incref(e->proposal);

		if (cm_qscan_check(q, e)) {
			json_decref(prop);
			cm_qscan_lookup(q, r);
			(void)cm_queue_finish(q, r);
			return;
		}
		r->res.outcome = CM_QUEUE_PENDING;
		r->res.kind = e->kind;
		r->res.proposal = json_deep_copy(prop);
		r->res.created_ms = e->created_ms;
		json_decref(prop);
		(void)cm_queue_finish(q, r);
		return;
	}
	if (e != NULL && !e->visible) {
		(void)cm_queue_finish(q, r);
		return;
	}
	if (e != NULL) {
		r->res.outcome = CM_QUEUE_DECIDED;
		r->res.kind = e->kind;
		r->res.status = e->dstatus;
		r->res.proposal = json_deep_copy(e->proposal);
		r->res.response = json_deep_copy(e->decision);
		r->res.created_ms = e->created_ms;
		(void)cm_queue_finish(q, r);
		return;
	}
	cm_qscan_lookup(q, r);
	if ((e = cm_qscan_find(q, r->id)) != NULL) {
		/* An unindexed pending file was just indexed. */
		json_decref(r->res.proposal);
		r->res.proposal = NULL;
		if (e->visible) {
			r->res.outcome = CM_QUEUE_PENDING;
			r->res.kind = e->kind;
			r->res.proposal = json_deep_copy(e->proposal);
			r->res.created_ms = e->created_ms;
		} else
			r->res.outcome = CM_QUEUE_UNKNOWN;
	} else if (r->res.outcome != CM_QUEUE_UNKNOWN) {
		/* Archived: only agent kinds of this bottle are visible. */
		const char *b = json_string_value(json_object_get(
		    r->res.proposal, "bottle"));

		if (cm_qfile_kind_is_hold(r->res.kind) || b == NULL ||
		    strcmp(b, q->bottle) != 0) {
			r->res.outcome = CM_QUEUE_UNKNOWN;
			json_decref(r->res.proposal);
			json_decref(r->res.response);
			r->res.proposal = r->res.response = NULL;
		}
	}
	(void)cm_queue_finish(q, r);
}

static void
cm_queue_do_shutdown(struct cm_queue *q)
{
	struct cm_qentry	*e, *next;

	TAILQ_FOREACH_SAFE(e, &q->entries, link, next) {
		if (e->decision != NULL)
			continue;
		if (cm_qfile_kind_is_hold(e->kind))
			cm_qscan_expire(q, e, CM_QUEUE_STOP_NOTES);
		else
			cm_qscan_notify(q, e, CM_QUEUE_STOPPING, CM_QS_COUNT,
			    NULL);
	}
	cm_queue_gauges(q);
}

static void *
cm_queue_main(void *arg)
{
	struct cm_queue	*q = arg;

	event_base_dispatch(q->base);
	return (NULL);
}

/* ---- life ------------------------------------------------------------ */

static int
cm_queue_inotify_init(struct cm_queue *q)
{
	uint32_t mask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM |
	    IN_DELETE | IN_CREATE;

	q->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (q->inotify_fd == -1)
		return (-1);
	if (inotify_add_watch(q->inotify_fd, q->dirs.pending_path, mask) ==
	    -1 || inotify_add_watch(q->inotify_fd, q->dirs.responses_path,
	    mask) == -1 ||
	    (q->inotify_ev = event_new(q->base, q->inotify_fd,
	    EV_READ | EV_PERSIST, cm_queue_inotify_cb, q)) == NULL ||
	    event_add(q->inotify_ev, NULL) == -1) {
		if (q->inotify_ev != NULL)
			event_free(q->inotify_ev);
		q->inotify_ev = NULL;
		(void)close(q->inotify_fd);
		q->inotify_fd = -1;
		return (-1);
	}
	return (0);
}

struct cm_queue *
cm_queue_new(const struct cm_queue_config *cfg, char *err, size_t errlen)
{
	struct cm_queue	*q;

	if ((q = calloc(1, sizeof(*q))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	q->inotify_fd = -1;
	pthread_mutex_init(&q->lock, NULL);
	TAILQ_INIT(&q->inbox);
	TAILQ_INIT(&q->entries);
	cm_strlcpy(q->bottle, cfg->bottle != NULL ? cfg->bottle : "local",
	    sizeof(q->bottle));
	atomic_init(&q->poll_ms, cfg->poll_ms > 0 ? cfg->poll_ms : 250);
	atomic_init(&q->max_pending, cfg->max_pending > 0 ? cfg->max_pending :
	    10);
	atomic_init(&q->max_pending_holds, cfg->max_pending_holds > 0 ?
	    cfg->max_pending_holds : 32);
	q->use_inotify = cfg->inotify;
	q->secrets = cfg->secrets != NULL ? cm_secrets_ref(cfg->secrets) :
	    NULL;
	cm_queue_metrics_init(q);
	if ((q->noted = calloc(CM_QUEUE_MAX_NOTED_FILES,
	    sizeof(*q->noted))) == NULL ||
	    (q->base = event_base_new()) == NULL ||
	    (q->wakeup = event_new(q->base, -1, EV_PERSIST, cm_queue_wakeup_cb,
	    q)) == NULL || event_add(q->wakeup, NULL) == -1 ||
	    (q->tick = evtimer_new(q->base, cm_queue_tick_cb, q)) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (cm_qfile_dirs_open(cfg->state_dir, 1, &q->dirs, err, errlen) ==
	    -1)
		goto fail;
	if (cm_qscan_startup(q, err, errlen) == -1)
		goto fail;
	if (q->use_inotify && cm_queue_inotify_init(q) == -1)
		cm_log(CM_LOG_WARN, "supervise", "inotify_unavailable", 0,
		    json_pack("{s:s}", "reason", strerror(errno)));
	cm_queue_rearm(q);
	cm_queue_gauges(q);
	if (pthread_create(&q->thread, NULL, cm_queue_main, q) != 0) {
		(void)snprintf(err, errlen, "cannot start the queue thread");
		goto fail;
	}
	cm_thread_name(q->thread, "bb-queue");
	q->started = 1;
	return (q);
fail:
	cm_queue_free(q);
	return (NULL);
}

static void
cm_queue_quit_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cm_queue		*q = arg;
	struct cm_qentry	*e;

	/* Whoever still waits learns it now; the files stay as they are. */
	TAILQ_FOREACH(e, &q->entries, link)
		cm_qscan_notify(q, e, CM_QUEUE_STOPPING, CM_QS_COUNT, NULL);
	event_base_loopbreak(q->base);
}

void
cm_queue_free(struct cm_queue *q)
{
	struct cm_queue_req	*r;
	struct cm_qentry	*e;

	if (q == NULL)
		return;
	if (q->started) {
		(void)event_base_once(q->base, -1, EV_TIMEOUT, cm_queue_quit_cb,
		    q, NULL);
		pthread_mutex_lock(&q->lock);
		q->quit = 1;
		pthread_mutex_unlock(&q->lock);
		event_active(q->wakeup, EV_READ, 0);
		pthread_join(q->thread, NULL);
	}
	while ((r = TAILQ_FIRST(&q->inbox)) != NULL) {
		TAILQ_REMOVE(&q->inbox, r, link);
		cm_queue_req_unref(r);
	}
	while ((e = TAILQ_FIRST(&q->entries)) != NULL)
		cm_qscan_free_entry(q, e);
	if (q->inotify_ev != NULL)
		event_free(q->inotify_ev);
	if (q->inotify_fd != -1)
		(void)close(q->inotify_fd);
	if (q->tick != NULL)
		event_free(q->tick);
	if (q->wakeup != NULL)
		event_free(q->wakeup);
	if (q->base != NULL)
		event_base_free(q->base);
	cm_qfile_dirs_close(&q->dirs);
	cm_scanset_unref(q->scanset);
	cm_scanner_free(q->scanner);
	cm_secrets_unref(q->scan_secrets);
	cm_secrets_unref(q->secrets);
	free(q->noted);
	pthread_mutex_destroy(&q->lock);
	free(q);
}

