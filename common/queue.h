/*
 * The approval queue (spec/supervise.md §5, DESIGN.md "Holds"): one
 * module for the MCP tools (egress-block, capability-block), egress
 * holds (egress-token-allow) and gitgate holds (gitleaks-allow).
 *
 * One queue thread with its own event base does every file operation
 * and runs the poll timer and the inotify watch.  Callers never block:
 * each operation returns a request handle at once and its callback runs
 * later on the owner's worker (through cm_worker_post), exactly once,
 * unless the owner cancels first.  Waits are timers on event bases; no
 * thread sleeps while a proposal waits.
 *
 * Typical hold (egress, gitgate), all on the connection's worker w:
 *
 *	struct cm_queue_submission s = { .kind = CM_QK_EGRESS_TOKEN_ALLOW,
 *	    .source = "egress", .payload = p, .dedupe_key = key,
 *	    .deadline_s = cm_queue_hold_timeout_s(
 *	    "EGRESS_TOKEN_ALLOW_TIMEOUT_SECONDS") };
 *	c->qreq = cm_queue_submit(cm_queue_get(), &s, w, on_submitted, c);
 *	...on_submitted: r->outcome == CM_QUEUE_SUBMITTED: c->qreq =
 *	    cm_queue_wait(q, r->id, 0, w, on_decided, c); anything else
 *	    refuses (UNAVAILABLE: r->reason).
 *	...on_decided: release only when r->outcome == CM_QUEUE_DECIDED and
 *	    r->status == CM_QS_APPROVED; every other outcome refuses.
 *	...client gone: cm_queue_cancel(c->qreq) (egress; the proposal stays
 *	    pending) or cm_queue_withdraw(q, id, "client disconnected")
 *	    (gitgate, single-use approvals).
 *
 * A callback's request handle is dead once the callback returns; clear
 * the pointer you kept in it.
 */
#ifndef CM_QUEUE_H
#define CM_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/queue_file.h"

/* The notes of the expiry the queue archives every hold with when the
 * sidecar stops (callers tell a shutdown from a timeout by them). */
#define CM_QUEUE_STOP_NOTES	"sidecar stopping"

struct cm_queue;
struct cm_queue_req;
struct cm_secrets;
struct cm_settings;
struct cm_snap;
struct cm_worker;

enum cm_queue_outcome {
	/* cm_queue_submit() */
	CM_QUEUE_SUBMITTED,	/* id names the proposal (maybe deduped) */
	CM_QUEUE_LIMITED,	/* max_pending agent proposals reached */
	CM_QUEUE_UNAVAILABLE,	/* reason: unwritable, too many, stopping */
	/* cm_queue_wait() */
	CM_QUEUE_DECIDED,	/* status, response: a valid decision */
	CM_QUEUE_TIMEOUT,	/* wait_ms passed; the proposal stays */
	CM_QUEUE_WITHDRAWN,	/* archived withdrawn, or the file vanished */
	CM_QUEUE_EXPIRED,	/* a hold's deadline passed */
	CM_QUEUE_STOPPING,	/* the sidecar is shutting down */
	/* cm_queue_status() */
	CM_QUEUE_PENDING,	/* no decision yet */
	CM_QUEUE_UNKNOWN,	/* no such visible proposal */
};

/* What a callback gets; valid only during the callback. */
struct cm_queue_result {
	enum cm_queue_outcome	 outcome;
	char			 id[CM_QUEUE_ID_BYTES];
	enum cm_qkind		 kind;
	/* submit: attached to a pending one */
	int			 deduped;
	/* static; LIMITED, UNAVAILABLE, ... */
	const char		*reason;
	/* LIMITED: how many are waiting */
	size_t			 npending;
	/* DECIDED, WITHDRAWN, EXPIRED */
	enum cm_qstatus		 status;
	json_t			*proposal;	/* borrowed; may be NULL */
	/* borrowed; DECIDED (and archived EXPIRED/WITHDRAWN) */
	json_t			*response;
	int64_t			 created_ms;	/* wall clock */
};

typedef void	(*cm_queue_cb)(struct cm_worker *owner,
		    const struct cm_queue_result *r, void *arg);

/* One proposal to write (strings are copied; payload is copied). */
struct cm_queue_submission {
	enum cm_qkind		 kind;
	const char		*source;	/* "mcp", "egress", "gitgate" */
	const char		*justification;	/* agent kinds; else NULL */
	const char		*client_name;	/* agent kinds: clientInfo */
	const char		*client_version;
	/* already redacted by the caller */
	const json_t		*payload;
	/*
	 * Holds: the caller's key (memory only; may derive from a secret,
	 * never written).  Agent kinds: NULL, and the queue uses the kind
	 * plus the canonical payload without existing_route (§5.7).
	 */
	const char		*dedupe_key;
	int			 deadline_s;	/* holds: seconds from now */
};

struct cm_queue_config {
	const char		*state_dir;
	const char		*bottle;	/* slug */
	int			 poll_ms;	/* 50..2000 */
	int			 inotify;	/* accelerator only */
	int			 max_pending;	/* agent kinds per bottle */
	int			 max_pending_holds;	/* per hold kind */
	struct cm_secrets	*secrets;	/* referenced; may be NULL */
};

/*
 * Creates the dirs (0700), sweeps old temp files, indexes pending/
 * (holds are expired: the held requests died with the last process),
 * applies the responses already present and starts the queue thread.
 * NULL with err ("PATH: strerror") when the state dir cannot be used.
 */
struct cm_queue	*cm_queue_new(const struct cm_queue_config *cfg, char *err,
		    size_t errlen);
/* Stops the thread (waiters get STOPPING first) and frees q. */
void		 cm_queue_free(struct cm_queue *q);
/*
 * Shutdown began (SIGTERM): pending holds are archived expired ("sidecar
 * stopping") and every waiter gets STOPPING; new submissions get
 * UNAVAILABLE.  Any thread, idempotent.
 */
void		 cm_queue_shutdown(struct cm_queue *q);
/* New limits and poll interval (a reload); any thread. */
void		 cm_queue_configure(struct cm_queue *q,
		    const struct cm_settings *s);

/*
 * The process's queue, started by the first service that can submit
 * (its start hook) from the snapshot's settings and the state dir, and
 * stopped by the last one's stop hook.  The bottle slug is resolved
 * here: env BOT_BOTTLE_SLUG, SUPERVISE_BOTTLE_SLUG, supervise.bottle,
 * "local".  0, or -1 with err (start-up exits 1 then).
 */
int		 cm_queue_start(const struct cm_snap *snap,
		    const char *state_dir, char *err, size_t errlen);
void		 cm_queue_stop(void);
/* The running queue, or NULL. */
struct cm_queue	*cm_queue_get(void);
const char	*cm_queue_bottle(const struct cm_queue *q);

/*
 * Submits a proposal.  owner is the calling worker (callbacks run on
 * it), or NULL to have them run on the queue thread.  Dedupe first,
 * then limits (§5.7), then the file is written.  Never NULL unless out
 * of memory (then cb is never called).
 */
struct cm_queue_req *cm_queue_submit(struct cm_queue *q,
		    const struct cm_queue_submission *s,
		    struct cm_worker *owner, cm_queue_cb cb, void *arg);
/*
 * Waits for the decision on id.  wait_ms > 0 ends the wait with TIMEOUT
 * (agent calls); 0 waits until decided, withdrawn or, for a hold,
 * expired.  The first lookup is immediate, so a response written before
 * the wait is found at once; an archived id answers from the archive.
 */
struct cm_queue_req *cm_queue_wait(struct cm_queue *q, const char *id,
		    int64_t wait_ms, struct cm_worker *owner, cm_queue_cb cb,
		    void *arg);
/*
 * check-proposal (§4.5): PENDING, DECIDED (a response in responses/ is
 * processed on the spot) or UNKNOWN.  Only agent kinds of this bottle
 * are visible; a bad id is UNKNOWN.  Never waits.
 */
struct cm_queue_req *cm_queue_status(struct cm_queue *q, const char *id,
		    struct cm_worker *owner, cm_queue_cb cb, void *arg);
/*
 * Drops a request on the owner's thread before its callback ran; the
 * proposal is untouched.  NULL is ignored.
 */
void		 cm_queue_cancel(struct cm_queue_req *r);
/* Archives a pending hold as withdrawn; its waiters get WITHDRAWN. */
void		 cm_queue_withdraw(struct cm_queue *q, const char *id,
		    const char *reason);

/* Waiters registered now (bb_supervise_waiters). */
size_t		 cm_queue_nwaiters(struct cm_queue *q);
/*
 * DESIGN "Holds": the hold deadline from env var name: unset,
 * non-integer or <= 0 means CM_DEF_HOLD_TIMEOUT_S, above
 * CM_MAX_HOLD_TIMEOUT_S is capped.  Logs the value in force once per
 * name (the boot line).
 */
int		 cm_queue_hold_timeout_s(const char *envname);

/* Tests: runs after a proposal file is written, before the callback. */
void		 cm_queue_set_test_hook(struct cm_queue *q,
		    void (*after_write)(const char *id, void *arg), void *arg);

#endif /* CM_QUEUE_H */
