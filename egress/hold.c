/*
 * Holds.  The agent connection is watched for EV_CLOSED while held, so a
 * client that gives up is noticed (hold_result client_gone) even though
 * egress reads nothing from it meanwhile.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "common/log.h"
#include "common/metrics.h"
#include "common/queue.h"
#include "common/scan.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "egress/conn.h"
#include "egress/dlp.h"
#include "egress/egress.h"
#include "egress/hold.h"
#include "egress/logs.h"
#include "egress/refuse.h"
#include "egress/safelist.h"

struct eg_hold {
	struct eg_conn		*c;		/* borrowed */
	struct cm_queue_req	*req;		/* owned while waiting */
	struct event		*gone;		/* owned: EV_CLOSED watch */
	eg_hold_cb		 cb;
	void			*owner;
	char			 host[256];
	char			 id[64];
	char			**keys;		/* owned: safelist keys */
	size_t			 nkeys;
	uint64_t		 t0_ms;
};

static int	eg_hold_m_pending = -1;
static int	eg_hold_m_outcome[4] = { -1, -1, -1, -1 };
static const char *const eg_hold_outcomes[4] = { "approved", "rejected",
	"timeout", "unavailable" };

void
eg_hold_metrics_init(void)
{
	static char	 labels[4][48];
	size_t		 i;

	eg_hold_m_pending = cm_metric_register("bb_egress_holds_pending", "",
	    CM_METRIC_GAUGE, "Requests held for an operator.");
	for (i = 0; i < 4; i++) {
		(void)snprintf(labels[i], sizeof(labels[i]),
		    "outcome=\"%s\"", eg_hold_outcomes[i]);
		eg_hold_m_outcome[i] = cm_metric_register(
		    "bb_egress_holds_total", labels[i], CM_METRIC_COUNTER,
		    "Holds by outcome.");
	}
}

static void
eg_hold_free(struct eg_hold *h)
{
	size_t	 i;

	if (h->gone != NULL)
		event_free(h->gone);
	for (i = 0; i < h->nkeys; i++)
		free(h->keys[i]);
	free(h->keys);
	free(h);
}

static void
eg_hold_end(struct eg_hold *h, int outcome_idx)
{
	cm_metric_add(h->c->ew->w, eg_hold_m_pending, -1);
	cm_metric_add(h->c->ew->w, eg_hold_m_outcome[outcome_idx], 1);
}

static void
eg_hold_decided(struct cm_worker *w, const struct cm_queue_result *res,
    void *arg)
{
	struct eg_hold		*h = arg;
	struct eg_refusal	 r;
	const char		*result;
	size_t			 i;
	int			 idx;

	h->req = NULL;
	if (res->outcome == CM_QUEUE_DECIDED && res->status == CM_QS_APPROVED) {
		for (i = 0; i < h->nkeys; i++)
			(void)eg_safelist_add(h->host, h->keys[i]);
		eg_log_event(h->c, 1, CM_LOG_INFO, "hold_result",
		    json_pack("{s:s,s:s,s:s,s:I}", "host", h->host, "proposal",
		    h->id, "result", "approved", "ms",
		    (json_int_t)(cm_now_ms() - h->t0_ms)));
		eg_hold_end(h, 0);
		event_del(h->gone);
		h->cb(h->owner, 1, NULL);
		return;
	}
	switch (res->outcome) {
	case CM_QUEUE_DECIDED:
	case CM_QUEUE_WITHDRAWN:
		eg_refusal_set(&r, 403, "dlp_rejected",
		    "egress DLP: the operator rejected the request");
		result = "rejected";
		idx = 1;
		break;
	case CM_QUEUE_EXPIRED:
		eg_refusal_set(&r, 403, "dlp_hold_timeout",
		    "egress DLP: no decision before the hold's deadline");
		r.hint = "ask the operator, then retry; a retry opens a new "
		    "proposal";
		result = "timeout";
		idx = 2;
		break;
	default:
		eg_refusal_set(&r, 403, "dlp_hold_unavailable",
		    "egress DLP: the approval queue is unavailable (%s)",
		    res->reason != NULL ? res->reason : "stopping");
		result = "unavailable";
		idx = 3;
		break;
	}
	cm_strlcpy(r.host, h->host, sizeof(r.host));
	eg_log_event(h->c, 1, CM_LOG_INFO, "hold_result", json_pack("{s:s,s:s,"
	    "s:s}", "host", h->host, "proposal", h->id, "result", result));
	eg_hold_end(h, idx);
	event_del(h->gone);
	h->cb(h->owner, 0, &r);
}

static void
eg_hold_submitted(struct cm_worker *w, const struct cm_queue_result *res,
    void *arg)
{
	struct eg_hold		*h = arg;
	struct eg_refusal	 r;

	h->req = NULL;
	if (res->outcome != CM_QUEUE_SUBMITTED) {
		eg_refusal_set(&r, 403, "dlp_hold_unavailable",
		    "egress DLP: the approval queue is unavailable (%s)",
		    res->reason != NULL ? res->reason : "limit");
		cm_strlcpy(r.host, h->host, sizeof(r.host));
		eg_log_event(h->c, 1, CM_LOG_WARN, "hold_result",
		    json_pack("{s:s,s:s,s:s?}", "host", h->host, "result",
		    "unavailable", "reason", res->reason));
		eg_hold_end(h, 3);
		event_del(h->gone);
		h->cb(h->owner, 0, &r);
		return;
	}
	cm_strlcpy(h->id, res->id, sizeof(h->id));
	eg_log_event(h->c, 1, CM_LOG_INFO, "hold", json_pack("{s:s,s:s,s:b}",
	    "host", h->host, "proposal", h->id, "deduped", res->deduped));
	h->req = cm_queue_wait(cm_queue_get(), res->id, 0, h->c->ew->w,
	    eg_hold_decided, h);
	if (h->req == NULL) {
		eg_refusal_set(&r, 403, "dlp_hold_unavailable",
		    "egress DLP: out of memory waiting for the decision");
		eg_hold_end(h, 3);
		event_del(h->gone);
		h->cb(h->owner, 0, &r);
	}
}

static void
eg_hold_gone_cb(evutil_socket_t fd, short what, void *arg)
{
	struct eg_hold	*h = arg;
	struct eg_conn	*c = h->c;

	/* The proposal stays: its approval serves the agent's retry. */
	eg_log_event(c, 1, CM_LOG_INFO, "hold_result", json_pack("{s:s,s:s,"
	    "s:s}", "host", h->host, "proposal", h->id, "result",
	    "client_gone"));
	eg_conn_close(c, "client_gone");
}

static int
eg_hold_keycmp(const void *a, const void *b)
{
	return (strcmp(*(char *const *)a, *(char *const *)b));
}

static json_t *
eg_hold_payload(const struct cm_snap *snap, const char *host, int port,
    const char *method, const char *path, const struct eg_dlp_hits *hs,
    uint64_t request_id)
{
	const struct eg_dlp_hit	*first = &hs->v[0];
	json_t			*p, *hits = json_array();
	char			 rid[32];
	size_t			 i;

	for (i = 0; i < hs->n; i++) {
		const struct eg_dlp_hit *dh = &hs->v[i];
		static const char *const surf[] = { "url", "url", "url",
		    "header", "body", "websocket" };

		json_array_append_new(hits, json_pack("{s:s,s:s,s:s,s:s,s:s,"
		    "s:s,s:s}", "rule", dh->h.rule, "rule_name", dh->h.name,
		    "detector", cm_scan_detector_name(dh->h.detector),
		    "surface", surf[dh->where], "location", dh->location,
		    "form", cm_scan_form_name(dh->h.form), "context",
		    dh->context));
	}
	(void)snprintf(rid, sizeof(rid), "%llx", (unsigned long long)request_id);
	p = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:o,s:i,s:s}", "host", host,
	    "method", method, "path", path, "rule", first->h.rule, "surface",
	    first->where == EG_AT_FIELD ? "header" : first->where ==
	    EG_AT_BODY ? "body" : first->where == EG_AT_WS ? "websocket" :
	    "url", "context", first->context, "hits", hits, "port", port,
	    "request_id", rid);
	return (p);
}

struct eg_hold *
eg_hold_start(struct eg_conn *c, const struct cm_snap *snap,
    const char *host, int port, const char *method, const char *path,
    const struct eg_dlp_hits *hs, eg_hold_cb cb, void *owner,
    struct eg_refusal *r)
{
	const struct eg_cfg		*cfg = eg_cfg_of(snap);
	struct cm_queue_submission	 sub;
	struct eg_hold			*h;
	json_t				*payload;
	char				*key = NULL;
	size_t				 i, kl;

	eg_refusal_set(r, 403, "dlp_hold_unavailable",
	    "egress DLP: the approval queue is unavailable");
	cm_strlcpy(r->host, host, sizeof(r->host));
	if (cm_queue_get() == NULL || hs->n == 0 ||
	    (h = calloc(1, sizeof(*h))) == NULL)
		return (NULL);
	h->c = c;
	h->cb = cb;
	h->owner = owner;
	h->t0_ms = cm_now_ms();
	cm_strlcpy(h->host, host, sizeof(h->host));
	if ((h->keys = calloc(hs->n, sizeof(*h->keys))) == NULL)
		goto fail;
	for (i = 0; i < hs->n; i++)
		if ((h->keys[h->nkeys] = strdup(hs->v[i].key)) != NULL)
			h->nkeys++;
	/* Dedupe: the host and the sorted set of held values' identities. */
	qsort(h->keys, h->nkeys, sizeof(*h->keys), eg_hold_keycmp);
	kl = strlen(host) + 2;
	for (i = 0; i < h->nkeys; i++)
		kl += strlen(h->keys[i]) + 1;
	if ((key = malloc(kl)) == NULL)
		goto fail;
	(void)snprintf(key, kl, "%s|", host);
	for (i = 0; i < h->nkeys; i++) {
		(void)strcat(key, h->keys[i]);
		(void)strcat(key, ",");
	}
	payload = eg_hold_payload(snap, host, port, method, path, hs,
	    (c->id << 16) | (c->nreq & 0xffff));
	if (payload == NULL)
		goto fail;
	memset(&sub, 0, sizeof(sub));
	sub.kind = CM_QK_EGRESS_TOKEN_ALLOW;
	sub.source = "egress";
	sub.payload = payload;
	sub.dedupe_key = key;
	sub.deadline_s = cfg != NULL ? cfg->hold_timeout_s :
	    CM_DEF_HOLD_TIMEOUT_S;
	h->gone = event_new(cm_worker_base(c->ew->w), bufferevent_getfd(
	    c->bev), EV_CLOSED | EV_PERSIST, eg_hold_gone_cb, h);
	if (h->gone != NULL)
		(void)event_add(h->gone, NULL);
	h->req = cm_queue_submit(cm_queue_get(), &sub, c->ew->w,
	    eg_hold_submitted, h);
	json_decref(payload);
	free(key);
	if (h->req == NULL) {
		eg_hold_free(h);
		return (NULL);
	}
	cm_metric_add(c->ew->w, eg_hold_m_pending, 1);
	return (h);
fail:
	free(key);
	eg_hold_free(h);
	return (NULL);
}

void
eg_hold_cancel(struct eg_hold *h)
{
	if (h == NULL)
		return;
	if (h->req != NULL) {
		cm_queue_cancel(h->req);
		cm_metric_add(h->c->ew->w, eg_hold_m_pending, -1);
	}
	eg_hold_free(h);
}
