/*
 * Inline suppressions held for the operator (spec/gitgate.md §9): a push
 * whose findings are all marked gitleaks:allow / bb-sidecar:allow becomes
 * one gitleaks-allow proposal in the common queue; the push waits as an
 * ordinary queue waiter on its worker (no job, thread or lock held), the
 * client sees progress lines and keepalives, and only "approved"
 * releases it.  An approval covers exactly this push: a client that
 * leaves withdraws its proposal.
 */
#include "config.h"

#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/queue.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "gitgate/conf.h"
#include "gitgate/conn.h"
#include "gitgate/gg.h"
#include "gitgate/push.h"
#include "gitgate/receive.h"
#include "gitgate/sess.h"

/* Envelope room a proposal file needs around its payload. */
#define GG_HOLD_ENVELOPE_BYTES	4096

enum {
	GG_APPR_APPROVED,
	GG_APPR_REJECTED,
	GG_APPR_TIMEOUT,
	GG_APPR_UNAVAILABLE,
	GG_APPR_WITHDRAWN,
};

static json_t *
gg_hold_payload(struct gg_receive *r)
{
	struct gg_push	*p = r->p;
	json_t		*refs = json_array(), *finds = json_array();
	char		 o[GIT_OID_HEXSZ + 1], n[GIT_OID_HEXSZ + 1];
	size_t		 i;

	for (i = 0; i < p->ncmds; i++) {
		const struct gg_cmd *c = &p->cmds[i];

		if (c->state != GG_CMD_PENDING)
			continue;
		git_oid_tostr(o, sizeof(o), &c->old);
		git_oid_tostr(n, sizeof(n), &c->new);
		json_array_append_new(refs, json_pack("{s:s,s:s,s:s}", "ref",
		    c->ref, "old", o, "new", n));
	}
	for (i = 0; i < p->nfindings; i++) {
		const struct gg_finding *f = &p->findings[i];

		git_oid_tostr(o, sizeof(o), &f->commit);
		json_array_append_new(finds, json_pack("{s:s,s:s,s:s,s:I,s:s,"
		    "s:s}", "ref", f->ref, "commit", o, "file", f->file, "line",
		    (json_int_t)f->line, "rule", f->rule, "context",
		    f->context));
	}
	return (json_pack("{s:s,s:o,s:o}", "repo", r->s->repo->name, "refs",
	    refs, "findings", finds));
}

static void
gg_hold_outcome(struct gg_receive *r, int which, const char *token,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
gg_hold_outcome(struct gg_receive *r, int which, const char *token,
    const char *fmt, ...)
{
	char	 msg[512];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cm_metric_add(r->s->c->gw->w, gg_m.approvals[which], 1);
	cm_log(CM_LOG_INFO, "gitgate", "approval", r->s->c->id, json_pack(
	    "{s:s,s:s,s:s}", "repo", r->s->repo->name, "proposal",
	    r->proposal, "outcome", token));
	if (which == GG_APPR_APPROVED)
		return;
	gg_receive_ng_pending(r, token, msg);
	gg_receive_report(r);
}

/* An expiry or refusal that comes from the sidecar stopping. */
static int
gg_hold_stopping(struct cm_worker *w, const struct cm_queue_result *res)
{
	json_t	*jn;

	if (cm_worker_draining(w))
		return (1);
	return (res->response != NULL &&
	    (jn = json_object_get(res->response, "notes")) != NULL &&
	    json_is_string(jn) &&
	    strcmp(json_string_value(jn), CM_QUEUE_STOP_NOTES) == 0);
}

static void
gg_hold_decided_cb(struct cm_worker *w, const struct cm_queue_result *res,
    void *arg)
{
	struct gg_receive	*r = arg;
	struct gg_sess		*s = r->s;
	const char		*notes = "";
	json_t			*jn;

	r->qreq = NULL;
	cm_metric_add(w, gg_m.held, -1);
	if (gg_conn_release(s->c) || s->ended)
		return;
	s->busy = 0;
	if (res->response != NULL &&
	    (jn = json_object_get(res->response, "notes")) != NULL &&
	    json_is_string(jn))
		notes = json_string_value(jn);
	switch (res->outcome) {
	case CM_QUEUE_DECIDED:
		if (res->status == CM_QS_APPROVED) {
			gg_sess_progress(s, "approved by operator: %s", notes);
			gg_hold_outcome(r, GG_APPR_APPROVED, "approved", "%s",
			    "");
			gg_receive_forward(r);
			return;
		}
		if (notes[0] != '\0')
			gg_sess_progress(s, "operator notes: %s", notes);
		gg_hold_outcome(r, GG_APPR_REJECTED, "operator_rejected",
		    "operator rejected the suppressed findings");
		return;
	case CM_QUEUE_WITHDRAWN:
		gg_hold_outcome(r, GG_APPR_WITHDRAWN, "operator_rejected",
		    "operator rejected the suppressed findings");
		return;
	case CM_QUEUE_EXPIRED:
		/* The queue expires every hold when the sidecar stops (§11). */
		if (gg_hold_stopping(w, res)) {
			gg_hold_outcome(r, GG_APPR_UNAVAILABLE, "shutdown",
			    "gate shutting down");
			return;
		}
		gg_hold_outcome(r, GG_APPR_TIMEOUT, "approval_timeout",
		    "operator approval timed out after %d s", r->hold_s);
		return;
	case CM_QUEUE_STOPPING:
		gg_hold_outcome(r, GG_APPR_UNAVAILABLE, "shutdown",
		    "gate shutting down");
		return;
	default:
		gg_hold_outcome(r, GG_APPR_UNAVAILABLE, "approval_unavailable",
		    "operator approval unavailable: %s", res->reason != NULL ?
		    res->reason : "queue error");
		return;
	}
}

static void
gg_hold_progress_line(struct gg_receive *r, uint64_t now)
{
	uint64_t	 left = r->hold_until_ms > now ?
			    (r->hold_until_ms - now + 999) / 1000 : 0;

	/* Shown even with quiet (§9): the client must know it waits. */
	gg_sess_progress(r->s, "waiting for operator approval of proposal %s "
	    "(%llu s left)", r->proposal, (unsigned long long)left);
	(void)gg_sess_flush(r->s);
	r->hold_progress_ms = now;
}

static void
gg_hold_submitted_cb(struct cm_worker *w, const struct cm_queue_result *res,
    void *arg)
{
	struct gg_receive	*r = arg;
	struct gg_sess		*s = r->s;
	struct cm_queue		*q = cm_queue_get();

	r->qreq = NULL;
	if (gg_conn_release(s->c) || s->ended) {
		/* Gone meanwhile: the approval would cover nothing. */
		if (res->outcome == CM_QUEUE_SUBMITTED && q != NULL)
			cm_queue_withdraw(q, res->id, "client disconnected");
		return;
	}
	if (res->outcome != CM_QUEUE_SUBMITTED || q == NULL) {
		s->busy = 0;
		if (cm_worker_draining(w)) {
			gg_hold_outcome(r, GG_APPR_UNAVAILABLE, "shutdown",
			    "gate shutting down");
			return;
		}
		gg_hold_outcome(r, GG_APPR_UNAVAILABLE, "approval_unavailable",
		    "operator approval unavailable: %s", res->reason != NULL ?
		    res->reason : "the queue refused the proposal");
		return;
	}
	cm_strlcpy(r->proposal, res->id, sizeof(r->proposal));
	r->hold_until_ms = cm_now_ms() + (uint64_t)r->hold_s * 1000;
	gg_hold_progress_line(r, cm_now_ms());
	cm_metric_add(w, gg_m.held, 1);
	gg_conn_hold(s->c);
	r->qreq = cm_queue_wait(q, r->proposal, 0, w, gg_hold_decided_cb, r);
	if (r->qreq == NULL) {
		(void)gg_conn_release(s->c);
		cm_metric_add(w, gg_m.held, -1);
		cm_queue_withdraw(q, r->proposal, "out of memory");
		gg_hold_outcome(r, GG_APPR_UNAVAILABLE, "approval_unavailable",
		    "operator approval unavailable: out of memory");
	}
}

void
gg_hold_start(struct gg_receive *r)
{
	struct gg_sess			*s = r->s;
	struct cm_queue			*q = cm_queue_get();
	struct cm_queue_submission	 sub;
	json_t				*payload;
	char				*txt, key[PATH_MAX + 16];
	size_t				 len;

	payload = gg_hold_payload(r);
	txt = payload != NULL ? json_dumps(payload, JSON_COMPACT) : NULL;
	len = txt != NULL ? strlen(txt) : SIZE_MAX;
	free(txt);
	if (len + GG_HOLD_ENVELOPE_BYTES > CM_QUEUE_PROPOSAL_MAX_BYTES) {
		/* §9: too large for one proposal: rejected, without one. */
		json_decref(payload);
		r->p->nunsuppressed = r->p->nsuppressed;
		gg_receive_findings(r, 0);
		gg_receive_ng_pending(r, "secret_detected", "secret detected");
		gg_receive_report(r);
		return;
	}
	gg_receive_findings(r, 1);
	r->state = GG_RP_HOLD;
	r->hold_s = s->cfg->hold_timeout_s;
	if (q == NULL) {
		json_decref(payload);
		gg_hold_outcome(r, GG_APPR_UNAVAILABLE, "approval_unavailable",
		    "operator approval unavailable: the approval queue is not "
		    "running");
		return;
	}
	memset(&sub, 0, sizeof(sub));
	sub.kind = CM_QK_GITLEAKS_ALLOW;
	sub.source = "gitgate";
	sub.payload = payload;
	/* Each push is its own proposal: never deduped with another. */
	(void)snprintf(key, sizeof(key), "gitgate:%s", r->p->qpath);
	sub.dedupe_key = key;
	sub.deadline_s = r->hold_s;
	s->busy = 1;
	(void)gg_sess_flush(s);
	gg_conn_hold(s->c);
	r->qreq = cm_queue_submit(q, &sub, s->c->gw->w, gg_hold_submitted_cb,
	    r);
	json_decref(payload);
	if (r->qreq == NULL) {
		(void)gg_conn_release(s->c);
		s->busy = 0;
		gg_hold_outcome(r, GG_APPR_UNAVAILABLE, "approval_unavailable",
		    "operator approval unavailable: out of memory");
	}
}

void
gg_hold_tick(struct gg_receive *r, uint64_t now)
{
	uint64_t	 iv;

	if (r->state != GG_RP_HOLD || r->proposal[0] == '\0' || r->s->ended)
		return;
	iv = (uint64_t)r->s->snap->settings->v[CM_S_GG_PROGRESS_INTERVAL_S] *
	    1000;
	if (now - r->hold_progress_ms >= iv)
		gg_hold_progress_line(r, now);
}

void
gg_hold_cancel(struct gg_receive *r)
{
	struct cm_queue	*q = cm_queue_get();

	if (r->qreq == NULL)
		return;
	cm_queue_cancel(r->qreq);
	r->qreq = NULL;
	if (r->proposal[0] != '\0') {
		cm_metric_add(r->s->c->gw->w, gg_m.held, -1);
		if (q != NULL)
			cm_queue_withdraw(q, r->proposal,
			    "client disconnected");
	}
	/* The callback will never run: its reference goes here. */
	(void)gg_conn_release(r->s->c);
}
