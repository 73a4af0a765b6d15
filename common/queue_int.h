/*
 * Private to the queue (common/queue.c, common/queue_scan.c): the
 * structs behind struct cm_queue and struct cm_queue_req.
 *
 * Locking: q->lock guards the inbox, every entry's waiter list, the
 * index list itself and the done/cancelled/entry fields of requests.
 * Only the queue thread adds or removes entries and does file I/O, and
 * it never holds the lock across I/O.  A request has two references:
 * the owner's (dropped when its callback ran or on cancel) and the
 * queue's (dropped by whoever takes it off the inbox or an entry).
 */
#ifndef CM_QUEUE_INT_H
#define CM_QUEUE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/queue.h>
#include <sys/types.h>

#include "common/queue.h"

/* glibc's sys/queue.h lacks the BSD _SAFE walk. */
#ifndef TAILQ_FOREACH_SAFE
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

struct cm_scanner;
struct cm_scanset;
struct event;
struct event_base;

enum cm_queue_op {
	CM_QOP_SUBMIT,
	CM_QOP_WAIT,
	CM_QOP_STATUS,
	CM_QOP_WITHDRAW,
	CM_QOP_SHUTDOWN,
};

struct cm_queue_req {
	struct cm_queue			*q;		/* borrowed */
	enum cm_queue_op		 op;
	struct cm_worker		*owner;		/* NULL: queue thread */
	cm_queue_cb			 cb;
	void				*arg;
	char				 id[CM_QUEUE_ID_BYTES];
	int64_t				 wait_ms;
	/* owner's base; owned */
	struct event			*timer;
	/* CM_QOP_SUBMIT: owned copies */
	enum cm_qkind			 kind;
	char				*source;
	char				*justification;
	char				*client_name;
	char				*client_version;
	json_t				*payload;
	char				*dedupe;
	int				 deadline_s;
	struct cm_secrets		*secrets;	/* a reference */
	char				*reason;	/* CM_QOP_WITHDRAW */
	/* Under q->lock. */
	int				 done;		/* a result is set */
	int				 cancelled;	/* no callback */
	struct cm_qentry		*entry;		/* waiting on it */
	atomic_int			 refs;
	struct cm_queue_result		 res;		/* pointers owned */
	TAILQ_ENTRY(cm_queue_req)	 link;		/* inbox or waiters */
};
TAILQ_HEAD(cm_queue_reqs, cm_queue_req);

/* One pending proposal the sidecar knows. */
struct cm_qentry {
	char				 id[CM_QUEUE_ID_BYTES];
	enum cm_qkind			 kind;
	/* agent kind, our bottle */
	int				 visible;
	int64_t				 created_ms;
	int64_t				 expires_ms;	/* holds */
	char				*dedupe;	/* owned; NULL: none */
	json_t				*proposal;	/* owned */
	struct event			*expiry;	/* holds; owned */
	struct cm_queue			*expiry_q;	/* for the timer */
	/* A decision whose archive step failed, kept for the retry. */
	json_t				*decision;	/* owned */
	enum cm_qstatus			 dstatus;
	/* The malformed response version already logged. */
	ino_t				 bad_ino;
	off_t				 bad_size;
	int64_t				 bad_mtime_ns;
	struct cm_queue_reqs		 waiters;
	TAILQ_ENTRY(cm_qentry)		 link;
};
TAILQ_HEAD(cm_qentries, cm_qentry);

/* A file already logged as malformed or orphan (once per version). */
struct cm_qnoted {
	char				 name[64];
	ino_t				 ino;
	off_t				 size;
	int64_t				 mtime_ns;
};

struct cm_queue {
	struct cm_qdirs			 dirs;
	char				 bottle[72];
	_Atomic int			 poll_ms;
	_Atomic int			 max_pending;
	_Atomic int			 max_pending_holds;
	int				 use_inotify;
	struct cm_secrets		*secrets;	/* a reference */
	/* The known-secret matcher of scan_secrets (queue thread only). */
	struct cm_scanset		*scanset;	/* a reference */
	struct cm_scanner		*scanner;	/* owned */
	struct cm_secrets		*scan_secrets;	/* a reference */

	pthread_t			 thread;
	int				 started;
	struct event_base		*base;		/* owned */
	struct event			*wakeup;	/* inbox; owned */
	struct event			*tick;		/* owned */
	struct event			*inotify_ev;	/* owned */
	int				 inotify_fd;
	int64_t				 last_list_ms;	/* monotonic */

	pthread_mutex_t			 lock;
	struct cm_queue_reqs		 inbox;
	struct cm_qentries		 entries;
	size_t				 nwaiters;
	int				 stopping;	/* shutdown began */
	int				 quit;		/* thread must leave */

	struct cm_qnoted		*noted;		/* ring, owned */
	size_t				 nnoted;
	size_t				 noted_next;

	void				(*test_hook)(const char *, void *);
	void				*test_arg;

	/* Metric slots. */
	int				 m_created[CM_QK_COUNT];
	int				 m_decided[CM_QK_COUNT][CM_QS_COUNT];
	int				 m_pending[CM_QK_COUNT];
	int				 m_err_malformed;
	int				 m_err_io;
	int				 m_waiters;
	int				 m_decision_s;
};

/* queue.c */
void		 cm_queue_deliver(struct cm_queue *q, struct cm_queue_req *r);
/* The queue thread's request got its result; 0 if it came too late. */
int		 cm_queue_finish(struct cm_queue *q, struct cm_queue_req *r);
void		 cm_queue_req_unref(struct cm_queue_req *r);

/* queue_submit.c: queue thread only. */
void		 cm_queue_do_submit(struct cm_queue *q, struct cm_queue_req *r);

/* queue_proc.c */
void		 cm_queue_metrics_init(struct cm_queue *q);
/* The pending gauges from the index (queue thread). */
void		 cm_queue_gauges(struct cm_queue *q);
/* The dedupe key of an agent kind: kind + canonical payload (§5.7). */
char		*cm_queue_agent_key(enum cm_qkind kind, const json_t *payload);

/* queue_scan.c: queue thread only (and cm_queue_new before it). */
struct cm_qentry *cm_qscan_find(struct cm_queue *q, const char *id);
int		 cm_qscan_startup(struct cm_queue *q, char *err, size_t errlen);
void		 cm_qscan_tick(struct cm_queue *q, int full);
/* 1 when a valid response was found and applied. */
int		 cm_qscan_check(struct cm_queue *q, struct cm_qentry *e);
void		 cm_qscan_expire(struct cm_queue *q, struct cm_qentry *e,
		    const char *notes);
void		 cm_qscan_withdraw(struct cm_queue *q, struct cm_qentry *e,
		    const char *notes);
struct cm_qentry *cm_qscan_index(struct cm_queue *q, const char *id,
		    json_t *proposal, enum cm_qkind kind, int64_t created_ms);
/* Answers a request from archive/ or an unindexed pending file. */
void		 cm_qscan_lookup(struct cm_queue *q, struct cm_queue_req *r);
void		 cm_qscan_free_entry(struct cm_queue *q, struct cm_qentry *e);
/* Moves e's waiters out (under the lock) and delivers to each. */
void		 cm_qscan_notify(struct cm_queue *q, struct cm_qentry *e,
		    enum cm_queue_outcome outcome, enum cm_qstatus status,
		    const json_t *response);
size_t		 cm_qscan_count(struct cm_queue *q, enum cm_qkind kind,
		    int visible_only);

#endif /* CM_QUEUE_INT_H */
