/*
 * Worker threads (DESIGN.md "Runtime model"): each has its own
 * event_base and its own SO_REUSEPORT listener of every service, and a
 * connection stays on the worker that accepted it.  Other threads reach
 * a worker only through its inbox.
 */
#ifndef CM_WORKER_H
#define CM_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "common/service.h"

struct event_base;
struct cm_snap;
struct cm_worker;

typedef void	(*cm_worker_fn)(struct cm_worker *w, void *arg);

/* The worker's loop; never NULL. */
struct event_base	*cm_worker_base(struct cm_worker *w);
/* 0..n-1, stable for the process. */
int			 cm_worker_id(const struct cm_worker *w);
/*
 * The snapshot this worker serves now; borrowed, valid until the
 * current callback returns.  cm_snap_ref() it to keep it longer.
 */
struct cm_snap		*cm_worker_snap(struct cm_worker *w);
/* A service's per-worker state (set in worker_start). */
void			*cm_worker_svc(struct cm_worker *w, enum cm_svc_id id);
void			 cm_worker_set_svc(struct cm_worker *w,
			    enum cm_svc_id id, void *state);
/* 1 once drain has begun on this worker. */
int			 cm_worker_draining(const struct cm_worker *w);
/*
 * Runs fn(w, arg) on w's thread soon.  Callable from any thread;
 * 0, or -1 if out of memory or the worker has stopped (fn not called).
 */
int			 cm_worker_post(struct cm_worker *w, cm_worker_fn fn,
			    void *arg);
/* The worker the calling thread runs, or NULL off the workers. */
struct cm_worker	*cm_worker_self(void);

#endif /* CM_WORKER_H */

/* ---- runtime only (runtime.c) ---- */

/* Creates worker id with its base; snap is referenced. NULL on error. */
struct cm_worker	*cm_worker_new(int id, struct cm_snap *snap);
/* Adds a bound, listening socket (owned from now on). 0 or -1. */
int			 cm_worker_listen(struct cm_worker *w, int fd,
			    cm_accept_fn accept, int listener);
/* Starts the thread; services' worker_start run on it first. */
int			 cm_worker_start(struct cm_worker *w,
			    const struct cm_service *const *svcs);
/* Publishes snap to w (referenced for it). */
int			 cm_worker_publish(struct cm_worker *w,
			    struct cm_snap *snap);
/* Stops accepting, drains until idle or deadline_ms (monotonic). */
int			 cm_worker_drain(struct cm_worker *w,
			    uint64_t deadline_ms);
/* Joins the thread and frees w. */
void			 cm_worker_join(struct cm_worker *w);
/* Worker threads still in their loop. */
int			 cm_workers_running(void);
/* Last loop tick, monotonic ms (for /healthz). */
uint64_t		 cm_worker_last_tick(const struct cm_worker *w);
