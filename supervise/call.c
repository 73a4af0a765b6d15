/*
 * tools/call (spec/supervise.md §4): list-egress-routes answers at
 * once; check-proposal asks the queue thread; egress-block and
 * capability-block submit, then wait for the operator on a timer of
 * this worker (no thread sleeps), with progress on SSE, and answer the
 * decision object (§4.1).  A call is named by a uid so that messages
 * from other threads (cancel, the forced reload) find it or nothing.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "common/log.h"
#include "common/queue.h"
#include "common/routes.h"
#include "common/runtime.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "supervise/sv.h"

struct sv_call_msg {
	uint64_t	 uid;
};

static void	 sv_call_finish(struct sv_call *, json_t *, const char *);
static void	 sv_call_submitted(struct cm_worker *,
		    const struct cm_queue_result *, void *);
static void	 sv_call_decided(struct cm_worker *,
		    const struct cm_queue_result *, void *);
static void	 sv_call_status(struct cm_worker *,
		    const struct cm_queue_result *, void *);
static void	 sv_call_progress_cb(evutil_socket_t, short, void *);
static void	 sv_call_reloaded(struct cm_worker *, void *);

json_t *
sv_call_tool_error(const char *tool, const char *fmt, ...)
{
	char	 text[1024];
	va_list	 ap;

	va_start(ap, fmt);
	(void)vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	(void)tool;
	return (json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text",
	    "text", text, "isError", 1));
}

json_t *
sv_call_result(enum sv_rev rev, json_t *obj)
{
	char	*s = json_dumps(obj, JSON_COMPACT);
	json_t	*r;

	r = json_pack("{s:[{s:s,s:s}],s:b}", "content", "type", "text",
	    "text", s != NULL ? s : "{}", "isError", 0);
	free(s);
	if (rev >= SV_REV_2025_06_18)
		json_object_set_new(r, "structuredContent", obj);
	else
		json_decref(obj);
	return (r);
}

static struct sv_call *
sv_call_find(struct sv_worker *sw, uint64_t uid)
{
	struct sv_call	*c;

	if (sw == NULL)
		return (NULL);
	TAILQ_FOREACH(c, &sw->calls, link)
		if (c->uid == uid)
			return (c);
	return (NULL);
}

static void
sv_call_free(struct sv_call *c)
{
	TAILQ_REMOVE(&c->sw->calls, c, link);
	cm_queue_cancel(c->qreq);
	if (c->progress != NULL)
		event_free(c->progress);
	json_decref(c->rpc_id);
	json_decref(c->progress_token);
	json_decref(c->decision);
	json_decref(c->route);
	free(c);
}

/* Logs the call, answers its slot (NULL: no answer), frees it. */
static void
sv_call_finish(struct sv_call *c, json_t *result, const char *outcome)
{
	struct sv_batch	*b = c->batch;
	json_t		*answer = NULL;
	size_t		 slot = c->slot;

	cm_log(CM_LOG_INFO, "supervise", "tool_call", b->conn != NULL ?
	    b->conn->id : 0, json_pack("{s:s,s:s?,s:s,s:I,s:s%,s:s,s:o}",
	    "tool", c->tool, "proposal", c->proposal[0] != '\0' ?
	    c->proposal : NULL, "outcome", outcome, "ms",
	    (json_int_t)(cm_now_ms() - c->started_ms), "session", b->session,
	    (size_t)8, "client", c->peer, "mcp_client",
	    cm_log_peer(b->client, strlen(b->client))));
	sv_metric_tool(c->sw->w, c->tool, outcome);
	sv_session_end(b->session, c->idkey);
	if (result != NULL)
		answer = sv_rpc_result(c->rpc_id, result);
	sv_call_free(c);
	sv_rpc_settle(b, slot, answer);
}

/*
 * The decision object (§4.1).  status: "pending" or the response's;
 * response NULL for pending.
 */
static json_t *
sv_call_decision(const char *id, int kind, const char *status,
    const char *notes, const json_t *response, int64_t created_ms,
    int applied)
{
	char	 msg[400], ts[40];
	json_t	*o;

	if (strcmp(status, "pending") == 0)
		(void)snprintf(msg, sizeof(msg), "No decision yet. Proposal %s "
		    "stays queued for the operator; continue other work and "
		    "call check-proposal with this id later. Do not submit a "
		    "different request for the same need.", id);
	else if (strcmp(status, "rejected") == 0)
		(void)snprintf(msg, sizeof(msg), "Rejected by the operator; "
		    "see notes. Do not retry the same request.");
	else if (applied)
		(void)snprintf(msg, sizeof(msg), "Approved by the operator "
		    "(see payload for what was granted). The change is in "
		    "force; retry.");
	else
		(void)snprintf(msg, sizeof(msg), "Approved by the operator; "
		    "the operator will put the change in place. Check "
		    "list-egress-routes before retrying.");
	o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "id", id, "kind",
	    cm_qfile_kind_name(kind), "status", status, "notes",
	    notes != NULL ? notes : "", "message", msg);
	if (response == NULL) {
		cm_qfile_time_fmt(created_ms, ts, sizeof(ts));
		json_object_set_new(o, "created_at", json_string(ts));
		return (o);
	}
	json_object_set(o, "decided_at", json_object_get(response,
	    "decided_at"));
	json_object_set_new(o, "applied", json_boolean(applied));
	if (strcmp(status, "modified") == 0 &&
	    json_object_get(response, "payload") != NULL)
		json_object_set(o, "payload", json_object_get(response,
		    "payload"));
	return (o);
}

static const struct cm_routes *
sv_call_routes(struct sv_call *c)
{
	return (cm_snap_routes(cm_worker_snap(c->sw->w)));
}

/* The route an approval grants: the operator's or the proposed one. */
static json_t *
sv_call_granted(const json_t *proposal, const json_t *response,
    const char *status)
{
	char	 err[512];

	if (strcmp(status, "modified") == 0)
		return (sv_propose_route("modified", json_object_get(response,
		    "payload"), err, sizeof(err)));
	return (json_incref(json_object_get(json_object_get(proposal,
	    "payload"), "route")));
}

static struct sv_call *
sv_call_new(struct sv_batch *b, size_t slot, const json_t *id,
    const char *tool)
{
	struct sv_worker	*sw = b->conn->sw;
	struct sv_call		*c;
	char			*s;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return (NULL);
	c->sw = sw;
	c->uid = ++sw->next_id;
	c->batch = b;
	c->slot = slot;
	c->rpc_id = json_deep_copy(id);
	c->started_ms = cm_now_ms();
	c->kind = -1;
	cm_strlcpy(c->tool, tool, sizeof(c->tool));
	cm_strlcpy(c->peer, b->conn->peer, sizeof(c->peer));
	s = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);
	cm_strlcpy(c->idkey, s != NULL ? s : "?", sizeof(c->idkey));
	free(s);
	TAILQ_INSERT_TAIL(&sw->calls, c, link);
	return (c);
}

static void
sv_call_progress_arm(struct sv_call *c)
{
	const struct sv_cfg	*cfg = sv_cfg_of(c->batch->conn->snap);
	struct timeval		 tv = { cfg->progress_s, 0 };

	if (c->progress == NULL)
		c->progress = evtimer_new(cm_worker_base(c->sw->w),
		    sv_call_progress_cb, c);
	if (c->progress != NULL)
		evtimer_add(c->progress, &tv);
}

static void
sv_call_progress_send(struct sv_call *c)
{
	struct sv_conn	*conn = c->batch->conn;
	json_t		*n, *p;
	char		 msg[128];
	uint64_t	 elapsed = (cm_now_ms() - c->started_ms) / 1000;

	if (conn == NULL || !conn->sse)
		return;
	if (c->progress_token == NULL) {
		(void)snprintf(msg, sizeof(msg), "waiting %s", c->proposal);
		sv_conn_sse_comment(conn, msg);
		return;
	}
	/* progress is elapsed whole seconds, strictly increasing. */
	if (c->sent_progress && elapsed <= c->last_progress)
		elapsed = c->last_progress + 1;
	c->last_progress = elapsed;
	c->sent_progress = 1;
	p = json_pack("{s:O,s:I,s:I}", "progressToken", c->progress_token,
	    "progress", (json_int_t)elapsed, "total",
	    (json_int_t)(c->wait_ms / 1000));
	if (c->batch->rev >= SV_REV_2025_03_26) {
		(void)snprintf(msg, sizeof(msg), "waiting for the operator on "
		    "proposal %s", c->proposal);
		json_object_set_new(p, "message", json_string(msg));
	}
	n = json_pack("{s:s,s:s,s:o}", "jsonrpc", "2.0", "method",
	    "notifications/progress", "params", p);
	sv_conn_sse_event(conn, n);
	json_decref(n);
}

static void
sv_call_progress_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sv_call	*c = arg;

	if (c->state != SV_CALL_WAIT)
		return;
	sv_call_progress_send(c);
	sv_call_progress_arm(c);
}

static void
sv_call_submitted(struct cm_worker *w, const struct cm_queue_result *r,
    void *arg)
{
	struct sv_call		*c = arg;
	const struct sv_cfg	*cfg = sv_cfg_of(c->batch->conn->snap);
	struct cm_queue		*q = cm_queue_get();

	c->qreq = NULL;
	switch (r->outcome) {
	case CM_QUEUE_SUBMITTED:
		break;
	case CM_QUEUE_LIMITED:
		sv_call_finish(c, sv_call_tool_error(c->tool, "%s: %zu are "
		    "waiting for the operator (supervise.max_pending); wait "
		    "for a decision, with check-proposal, before proposing "
		    "more", c->tool, r->npending), "limited");
		return;
	default:
		sv_call_finish(c, sv_call_tool_error(c->tool,
		    "%s: the approval queue is unavailable: %s", c->tool,
		    r->reason != NULL ? r->reason : "unknown"), "error");
		return;
	}
	cm_strlcpy(c->proposal, r->id, sizeof(c->proposal));
	c->kind = (int)r->kind;
	c->created_ms = r->created_ms;
	c->state = SV_CALL_WAIT;
	c->wait_ms = (uint64_t)cfg->wait_s * 1000;
	if (q == NULL || (c->qreq = cm_queue_wait(q, r->id,
	    (int64_t)c->wait_ms, w, sv_call_decided, c)) == NULL) {
		sv_call_finish(c, sv_call_tool_error(c->tool, "%s: out of "
		    "memory", c->tool), "error");
		return;
	}
	/* About to wait: SSE if the client takes it, then progress. */
	if (sv_conn_sse_begin(c->batch->conn)) {
		if (c->progress_token != NULL)
			sv_call_progress_send(c);
		sv_call_progress_arm(c);
	}
}

static void
sv_call_reloaded(struct cm_worker *w, void *arg)
{
	struct sv_call_msg	*m = arg;
	struct sv_call		*c = sv_call_find(sv_worker_of(w), m->uid);
	json_t			*d;
	int			 applied;

	free(m);
	if (c == NULL || c->state != SV_CALL_RELOAD)
		return;
	applied = c->route != NULL && sv_propose_applied(sv_call_routes(c),
	    c->route);
	d = c->decision;
	c->decision = NULL;
	json_object_set_new(d, "applied", json_boolean(applied));
	if (applied)
		json_object_set_new(d, "message", json_string("Approved by the "
		    "operator (see payload for what was granted). The change "
		    "is in force; retry."));
	sv_call_finish(c, sv_call_result(c->batch->rev, d),
	    json_string_value(json_object_get(d, "status")));
}

static void
sv_call_decided(struct cm_worker *w, const struct cm_queue_result *r,
    void *arg)
{
	struct sv_call		*c = arg;
	struct sv_call_msg	*m;
	const char		*status, *notes;
	json_t			*d;

	c->qreq = NULL;
	if (c->progress != NULL)
		evtimer_del(c->progress);
	switch (r->outcome) {
	case CM_QUEUE_DECIDED:
		break;
	case CM_QUEUE_WITHDRAWN:
	case CM_QUEUE_UNKNOWN: {
		/* The pending file vanished: for the agent, a rejection. */
		char	 ts[40];
		json_t	*resp;

		cm_qfile_time_fmt(cm_qfile_now_ms(), ts, sizeof(ts));
		resp = json_pack("{s:s}", "decided_at", ts);
		d = sv_call_decision(c->proposal, c->kind, "rejected",
		    "withdrawn: proposal file removed", resp, 0, 0);
		json_decref(resp);
		sv_call_finish(c, sv_call_result(c->batch->rev, d),
		    "rejected");
		return;
	}
	default:
		/* TIMEOUT, STOPPING: the proposal stays queued. */
		d = sv_call_decision(c->proposal, c->kind, "pending", "", NULL,
		    c->created_ms, 0);
		sv_call_finish(c, sv_call_result(c->batch->rev, d), "pending");
		return;
	}
	status = cm_qfile_status_name(r->status);
	notes = json_string_value(json_object_get(r->response, "notes"));
	d = sv_call_decision(c->proposal, c->kind, status, notes, r->response,
	    r->created_ms, 0);
	/*
	 * §5.5 step 4: a merged approval is in force only once the forced
	 * reload put it in the live snapshot.
	 */
	if (c->kind == CM_QK_EGRESS_BLOCK && r->status != CM_QS_REJECTED &&
	    json_is_true(json_object_get(r->response, "applied")) &&
	    sv_call_routes(c) != NULL &&
	    (c->route = sv_call_granted(r->proposal, r->response, status)) !=
	    NULL && (m = malloc(sizeof(*m))) != NULL) {
		m->uid = c->uid;
		c->decision = d;
		c->state = SV_CALL_RELOAD;
		if (cm_runtime_reload_async(w, sv_call_reloaded, m) == 0)
			return;
		free(m);
		c->decision = NULL;
	}
	sv_call_finish(c, sv_call_result(c->batch->rev, d), status);
}

static void
sv_call_status(struct cm_worker *w, const struct cm_queue_result *r,
    void *arg)
{
	struct sv_call	*c = arg;
	const char	*status, *notes;
	json_t		*d, *route;
	int		 applied = 0;

	c->qreq = NULL;
	if (r->outcome == CM_QUEUE_PENDING) {
		cm_strlcpy(c->proposal, r->id, sizeof(c->proposal));
		d = sv_call_decision(r->id, r->kind, "pending", "", NULL,
		    r->created_ms, 0);
		sv_call_finish(c, sv_call_result(c->batch->rev, d), "status");
		return;
	}
	if (r->outcome != CM_QUEUE_DECIDED) {
		sv_call_finish(c, sv_call_tool_error(c->tool, "check-proposal: "
		    "no proposal %s in this bottle", r->id), "invalid");
		return;
	}
	cm_strlcpy(c->proposal, r->id, sizeof(c->proposal));
	status = cm_qfile_status_name(r->status);
	notes = json_string_value(json_object_get(r->response, "notes"));
	if (r->kind == CM_QK_EGRESS_BLOCK && r->status != CM_QS_REJECTED &&
	    json_is_true(json_object_get(r->response, "applied")) &&
	    (route = sv_call_granted(r->proposal, r->response, status)) !=
	    NULL) {
		applied = sv_propose_applied(sv_call_routes(c), route);
		json_decref(route);
	}
	d = sv_call_decision(r->id, r->kind, status, notes, r->response,
	    r->created_ms, applied);
	sv_call_finish(c, sv_call_result(c->batch->rev, d), "status");
}

static void
sv_call_propose(struct sv_call *c, const json_t *args)
{
	struct cm_queue_submission	 s;
	struct cm_queue			*q = cm_queue_get();
	struct sv_batch			*b = c->batch;
	char				 err[1024], name[128], version[64];
	char				*just = NULL;
	json_t				*payload = NULL;

	if (sv_propose(c->tool, args, sv_call_routes(c), &payload, &just, err,
	    sizeof(err)) == -1) {
		sv_call_finish(c, sv_call_tool_error(c->tool, "%s", err),
		    "invalid");
		return;
	}
	if (q == NULL) {
		json_decref(payload);
		free(just);
		sv_call_finish(c, sv_call_tool_error(c->tool,
		    "%s: the approval queue is not running", c->tool),
		    "error");
		return;
	}
	name[0] = version[0] = '\0';
	(void)sv_session_client(b->session, name, sizeof(name), version,
	    sizeof(version));
	memset(&s, 0, sizeof(s));
	s.kind = strcmp(c->tool, "egress-block") == 0 ? CM_QK_EGRESS_BLOCK :
	    CM_QK_CAPABILITY_BLOCK;
	s.source = "mcp";
	s.justification = just;
	s.client_name = name;
	s.client_version = version;
	s.payload = payload;
	c->state = SV_CALL_START;
	c->qreq = cm_queue_submit(q, &s, c->sw->w, sv_call_submitted, c);
	json_decref(payload);
	free(just);
	if (c->qreq == NULL)
		sv_call_finish(c, sv_call_tool_error(c->tool, "%s: out of "
		    "memory", c->tool), "error");
}

void
sv_call_tools(struct sv_batch *b, size_t slot, const json_t *id,
    const json_t *params)
{
	const char	*name = json_string_value(json_object_get(params,
			    "name"));
	const json_t	*args = json_object_get(params, "arguments");
	const json_t	*tok, *v;
	struct sv_call	*c;
	struct cm_queue	*q;
	json_t		*empty = NULL, *doc;
	char		 text[160];
	const struct cm_routes *routes;

	if (b->http_status == 202)
		b->http_status = 200;
	if (name == NULL || (args != NULL && !json_is_object(args))) {
		sv_rpc_settle(b, slot, sv_rpc_error(id, -32602, "invalid "
		    "params: name must be a string and arguments an object"));
		return;
	}
	if (!sv_tools_known(name)) {
		(void)snprintf(text, sizeof(text), "unknown tool: %.100s",
		    name);
		sv_rpc_settle(b, slot, sv_rpc_error(id, -32602, text));
		return;
	}
	if (args == NULL)
		args = empty = json_object();
	if ((c = sv_call_new(b, slot, id, name)) == NULL) {
		json_decref(empty);
		sv_rpc_settle(b, slot, sv_rpc_error(id, -32603,
		    "out of memory"));
		return;
	}
	if (sv_session_begin(b->session, c->idkey, c->sw->w, c->uid) == -1) {
		c->idkey[0] = '\0';	/* not ours to end */
		sv_call_free(c);
		json_decref(empty);
		sv_rpc_settle(b, slot, sv_rpc_error(id, -32600, "invalid "
		    "request: this id is already in flight"));
		return;
	}
	tok = json_object_get(json_object_get(params, "_meta"),
	    "progressToken");
	if (json_is_string(tok) || json_is_integer(tok))
		c->progress_token = json_deep_copy(tok);
	if (strcmp(name, "list-egress-routes") == 0) {
		if (json_object_size(args) > 0) {
			json_object_foreach((json_t *)args, name, v)
				break;
			sv_call_finish(c, sv_call_tool_error(c->tool,
			    "list-egress-routes: unknown argument \"%.64s\"",
			    name), "invalid");
		} else if ((routes = sv_call_routes(c)) == NULL)
			sv_call_finish(c, sv_call_tool_error(c->tool,
			    "list-egress-routes: egress is not running in this "
			    "sidecar"), "error");
		else {
			doc = cm_routes_json(routes);
			sv_call_finish(c, sv_call_result(b->rev, json_pack(
			    "{s:O}", "routes", json_object_get(doc, "routes"))),
			    "listed");
			json_decref(doc);
		}
	} else if (strcmp(name, "check-proposal") == 0) {
		const char *pid = json_string_value(json_object_get(args,
		    "id"));

		if (json_object_size(args) != 1 || pid == NULL ||
		    !cm_qfile_id_valid(pid) || (q = cm_queue_get()) == NULL) {
			if (pid == NULL || json_object_size(args) != 1)
				sv_call_finish(c, sv_call_tool_error(c->tool,
				    "check-proposal: id is required (and the "
				    "only argument)"), "invalid");
			else
				sv_call_finish(c, sv_call_tool_error(c->tool,
				    "check-proposal: no proposal %.64s in this "
				    "bottle", pid), "invalid");
		} else if ((c->qreq = cm_queue_status(q, pid, c->sw->w,
		    sv_call_status, c)) == NULL)
			sv_call_finish(c, sv_call_tool_error(c->tool,
			    "check-proposal: out of memory"), "error");
	} else
		sv_call_propose(c, args);
	json_decref(empty);
}

void
sv_call_abort_batch(struct sv_batch *b, const char *outcome)
{
	struct sv_worker	*sw;
	struct sv_call		*c, *next;

	if (b->conn == NULL)
		return;
	sw = b->conn->sw;
	/* Nothing is written any more: the connection is going. */
	b->conn = NULL;
	for (c = TAILQ_FIRST(&sw->calls); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->batch == b) {
			sv_call_finish(c, NULL, outcome);
			next = TAILQ_FIRST(&sw->calls);
		}
	}
}

void
sv_call_cancel_uid(struct cm_worker *w, uint64_t uid)
{
	struct sv_call	*c = sv_call_find(sv_worker_of(w), uid);

	if (c != NULL && c->state != SV_CALL_DONE)
		sv_call_finish(c, NULL, "cancelled");
}

void
sv_call_drain(struct sv_worker *sw)
{
	struct sv_call	*c;
	json_t		*d;
	int		 found;

	/* Each finish may end a connection; start over after each one. */
	do {
		found = 0;
		TAILQ_FOREACH(c, &sw->calls, link) {
			if (c->state != SV_CALL_WAIT)
				continue;
			cm_queue_cancel(c->qreq);
			c->qreq = NULL;
			c->state = SV_CALL_DONE;
			d = sv_call_decision(c->proposal, c->kind, "pending",
			    "", NULL, c->created_ms, 0);
			sv_call_finish(c, sv_call_result(c->batch->rev, d),
			    "pending");
			found = 1;
			break;
		}
	} while (found);
}
