/*
 * JSON-RPC over one POST body (spec/supervise.md §3.1 checks 7-14,
 * §3.2-§3.4, §3.6): parse, the header and session checks, message
 * shapes, batches, and the methods other than tools/call.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/bounds.h"
#include "common/http.h"
#include "common/log.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "supervise/sv.h"

#define SV_INSTRUCTIONS							\
	"Tools of the bot-bottle sidecar. A human operator reviews every " \
	"egress-block and capability-block request; nothing is granted " \
	"automatically. Use list-egress-routes to see what is already "	\
	"allowed."

static void	 sv_rpc_one(struct sv_batch *, size_t, const json_t *);
static json_t	*sv_rpc_initialize(struct sv_conn *, const json_t *,
		    const json_t *, char *, size_t, int *);

json_t *
sv_rpc_error(const json_t *id, int code, const char *message)
{
	return (json_pack("{s:s,s:O,s:{s:i,s:s}}", "jsonrpc", "2.0", "id",
	    id != NULL ? id : json_null(), "error", "code", code, "message",
	    message));
}

json_t *
sv_rpc_result(const json_t *id, json_t *result)
{
	return (json_pack("{s:s,s:O,s:o}", "jsonrpc", "2.0", "id", id,
	    "result", result));
}

void
sv_batch_free(struct sv_batch *b)
{
	if (b == NULL)
		return;
	json_decref(b->answers);
	free(b);
}

void
sv_rpc_settle(struct sv_batch *b, size_t slot, json_t *answer)
{
	if (answer != NULL) {
		json_array_set_new(b->answers, slot, answer);
		if (b->http_status == 202)
			b->http_status = 200;
	}
	if (--b->pending == 0 && b->conn != NULL)
		sv_conn_answer(b->conn);
}

/* The in-flight key of an id: its compact JSON. */
static void
sv_rpc_idkey(const json_t *id, char *buf, size_t size)
{
	char	*s = json_dumps(id, JSON_COMPACT | JSON_ENCODE_ANY);

	cm_strlcpy(buf, s != NULL ? s : "?", size);
	free(s);
}

static void
sv_rpc_log_error(struct sv_batch *b, const char *method, int code,
    const char *reason)
{
	cm_log(CM_LOG_INFO, "supervise", "rpc_error", b->conn->id,
	    json_pack("{s:o,s:i,s:i,s:s,s:s}", "method", method != NULL ?
	    cm_log_peer(method, strlen(method)) : json_null(), "code", code,
	    "http_status", b->http_status == 400 ? 400 : 200, "reason",
	    reason, "client", b->conn->peer));
}

/* An error answer for slot; a lone malformed message is HTTP 400. */
static void
sv_rpc_fail(struct sv_batch *b, size_t slot, const json_t *id,
    const char *method, int code, const char *message, int shape)
{
	if (shape && !b->is_array)
		b->http_status = 400;
	else if (b->http_status == 202)
		b->http_status = 200;
	sv_rpc_log_error(b, method, code, message);
	json_array_set_new(b->answers, slot, sv_rpc_error(id, code, message));
}

static int
sv_rpc_id_ok(const json_t *id)
{
	return (json_is_string(id) || json_is_number(id));
}

/* One message of the body (§3.2). */
static void
sv_rpc_one(struct sv_batch *b, size_t slot, const json_t *msg)
{
	const json_t	*id, *params, *jv;
	const char	*method;
	char		 idkey[80], text[160];

	if (!json_is_object(msg) || !json_is_string(jv = json_object_get(msg,
	    "jsonrpc")) || strcmp(json_string_value(jv), "2.0") != 0) {
		sv_rpc_fail(b, slot, NULL, NULL, -32600,
		    "invalid request: jsonrpc must be \"2.0\"", 1);
		return;
	}
	id = json_object_get(msg, "id");
	if (json_object_get(msg, "method") == NULL) {
		/* The server sends no requests: a response is dropped. */
		if (id != NULL && (json_object_get(msg, "result") != NULL ||
		    json_object_get(msg, "error") != NULL)) {
			cm_log(CM_LOG_DEBUG, "supervise", "client_response", 0,
			    NULL);
			return;
		}
		sv_rpc_fail(b, slot, NULL, NULL, -32600,
		    "invalid request: no method", 1);
		return;
	}
	if ((method = json_string_value(json_object_get(msg, "method"))) ==
	    NULL) {
		sv_rpc_fail(b, slot, NULL, NULL, -32600,
		    "invalid request: method must be a string", 1);
		return;
	}
	if (id != NULL && !sv_rpc_id_ok(id)) {
		sv_rpc_fail(b, slot, NULL, method, -32600,
		    "invalid request: id must be a string or a number", 1);
		return;
	}
	params = json_object_get(msg, "params");
	if (params != NULL && !json_is_object(params)) {
		if (id == NULL)
			return;
		if (json_is_array(params))
			sv_rpc_fail(b, slot, id, method, -32602,
			    "invalid params: params must be an object", 0);
		else
			sv_rpc_fail(b, slot, id, method, -32600,
			    "invalid request: params must be an object", 1);
		return;
	}
	if (id == NULL) {
		/* A notification: nothing is answered (202). */
		if (strcmp(method, "notifications/cancelled") == 0 &&
		    (jv = json_object_get(params, "requestId")) != NULL &&
		    sv_rpc_id_ok(jv)) {
			sv_rpc_idkey(jv, idkey, sizeof(idkey));
			sv_session_cancel(b->session, idkey);
		}
		return;
	}
	if (strcmp(method, "initialize") == 0) {
		sv_rpc_fail(b, slot, id, method, -32600,
		    "invalid request: initialize must be sent alone", 0);
		return;
	}
	if (strcmp(method, "tools/call") == 0) {
		b->pending++;
		sv_call_tools(b, slot, id, params);
		return;
	}
	sv_rpc_idkey(id, idkey, sizeof(idkey));
	if (sv_session_begin(b->session, idkey, NULL, 0) == -1) {
		sv_rpc_fail(b, slot, id, method, -32600,
		    "invalid request: this id is already in flight", 0);
		return;
	}
	sv_session_end(b->session, idkey);
	if (b->http_status == 202)
		b->http_status = 200;
	if (strcmp(method, "ping") == 0)
		json_array_set_new(b->answers, slot, sv_rpc_result(id,
		    json_object()));
	else if (strcmp(method, "tools/list") == 0) {
		const struct sv_cfg *cfg = sv_cfg_of(b->conn->snap);

		json_array_set_new(b->answers, slot, sv_rpc_result(id,
		    sv_tools_list(b->rev, cfg->wait_s)));
	} else {
		(void)snprintf(text, sizeof(text), "method not found: %.100s",
		    method);
		sv_rpc_fail(b, slot, id, method, -32601, text, 0);
	}
}

/* §3.4: the result, or an error answer (*status says which HTTP). */
static json_t *
sv_rpc_initialize(struct sv_conn *c, const json_t *id, const json_t *params,
    char *sid, size_t sidlen, int *status)
{
	const struct sv_cfg	*cfg = sv_cfg_of(c->snap);
	const json_t		*ci;
	const char		*pv, *name, *version;
	enum sv_rev		 rev;
	json_t			*info, *res;

	*status = 200;
	pv = json_string_value(json_object_get(params, "protocolVersion"));
	if (pv == NULL)
		return (sv_rpc_error(id, -32602,
		    "invalid params: protocolVersion must be a string"));
	if (sv_rev_parse(pv, &rev) == -1)
		rev = SV_REV_2025_11_25;
	ci = json_object_get(params, "clientInfo");
	name = json_string_value(json_object_get(ci, "name"));
	version = json_string_value(json_object_get(ci, "version"));
	if (sv_session_new(rev, c->peer, name != NULL ? name : "",
	    version != NULL ? version : "", cfg->session_limit, sid) == -1) {
		*status = 503;
		return (sv_rpc_error(id, -32000,
		    "too many MCP sessions with calls in flight"));
	}
	(void)sidlen;
	info = json_pack("{s:s,s:s}", "name", "bot-bottle-supervise",
	    "version", PACKAGE_VERSION);
	if (rev >= SV_REV_2025_06_18)
		json_object_set_new(info, "title",
		    json_string("bot-bottle supervise"));
	res = json_pack("{s:s,s:{s:{s:b}},s:o,s:s}", "protocolVersion",
	    sv_rev_name(rev), "capabilities", "tools", "listChanged", 0,
	    "serverInfo", info, "instructions", SV_INSTRUCTIONS);
	return (sv_rpc_result(id, res));
}

static const char *
sv_rpc_header(struct cm_http_msg *m, const char *name)
{
	return (cm_http_fields_get(cm_http_msg_fields(m), name));
}

/* Checks 10-12 for a request that needs a session; 0 or answered. */
static int
sv_rpc_session(struct sv_conn *c, struct cm_http_msg *m, char *sid,
    size_t sidlen, enum sv_rev *rev, char *client, size_t clientlen)
{
	const struct sv_cfg	*cfg = sv_cfg_of(c->snap);
	const char		*v;
	enum sv_rev		 hrev;

	if ((v = sv_rpc_header(m, "MCP-Protocol-Version")) != NULL &&
	    sv_rev_parse(v, &hrev) == -1) {
		sv_conn_rpc_error(c, 400, -32000,
		    "unsupported protocol version", 1);
		return (-1);
	}
	if ((v = sv_rpc_header(m, "Mcp-Session-Id")) == NULL) {
		sv_conn_rpc_error(c, 400, -32000, "missing Mcp-Session-Id", 1);
		return (-1);
	}
	if (strlen(v) >= sidlen || sv_session_touch(v, cfg->session_idle_s,
	    rev, client, clientlen) == -1) {
		sv_conn_rpc_error(c, 404, -32001, "unknown MCP session", 1);
		return (-1);
	}
	cm_strlcpy(sid, v, sidlen);
	return (0);
}

void
sv_rpc_delete(struct sv_conn *c, struct cm_http_msg *m)
{
	char		 sid[40], client[160];
	enum sv_rev	 rev;

	if (sv_rpc_session(c, m, sid, sizeof(sid), &rev, client,
	    sizeof(client)) == -1)
		return;
	(void)sv_session_delete(sid, "delete");
	sv_conn_reply_json(c, 204, NULL, NULL);
}

void
sv_rpc_handle(struct sv_conn *c, struct cm_http_msg *m, struct evbuffer *body)
{
	struct sv_batch	*b;
	json_error_t	 jerr;
	json_t		*root, *ans;
	const char	*method;
	char		 text[160];
	size_t		 len = evbuffer_get_length(body), i, n;
	int		 status;

	/* 7: JSON (jansson refuses NUL and invalid UTF-8). */
	root = json_loadb((const char *)evbuffer_pullup(body, -1), len,
	    JSON_DECODE_ANY, &jerr);
	if (root == NULL) {
		(void)snprintf(text, sizeof(text), "parse error: %.100s",
		    jerr.text);
		sv_conn_rpc_error(c, 400, -32700, text, 1);
		return;
	}
	/* 8 */
	if (!json_is_object(root) && !(json_is_array(root) &&
	    json_array_size(root) > 0)) {
		json_decref(root);
		sv_conn_rpc_error(c, 400, -32600, "invalid request: expected "
		    "an object or a non-empty array", 1);
		return;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->answers = json_array()) == NULL) {
		free(b);
		json_decref(root);
		sv_conn_rpc_error(c, 500, -32603, "out of memory", 0);
		return;
	}
	b->conn = c;
	b->http_status = 202;
	c->batch = b;
	/* 9: a lone initialize needs no session and creates one. */
	if (json_is_object(root) && (method = json_string_value(
	    json_object_get(root, "method"))) != NULL &&
	    strcmp(method, "initialize") == 0) {
		if (!sv_rpc_id_ok(json_object_get(root, "id")) ||
		    !json_is_string(json_object_get(root, "jsonrpc")) ||
		    strcmp(json_string_value(json_object_get(root, "jsonrpc")),
		    "2.0") != 0 || (json_object_get(root, "params") != NULL &&
		    !json_is_object(json_object_get(root, "params")))) {
			json_decref(root);
			c->batch = NULL;
			sv_batch_free(b);
			sv_conn_rpc_error(c, 400, -32600, "invalid request: "
			    "initialize needs jsonrpc 2.0, an id and object "
			    "params", 1);
			return;
		}
		ans = sv_rpc_initialize(c, json_object_get(root, "id"),
		    json_object_get(root, "params"), b->new_session,
		    sizeof(b->new_session), &status);
		json_decref(root);
		if (status != 200) {
			b->new_session[0] = '\0';
			c->batch = NULL;
			sv_batch_free(b);
			sv_conn_reply_json(c, status, ans, NULL);
			json_decref(ans);
			return;
		}
		json_array_append_new(b->answers, ans);
		b->http_status = 200;
		sv_conn_answer(c);
		return;
	}
	/* 10-12 */
	if (sv_rpc_session(c, m, b->session, sizeof(b->session), &b->rev,
	    b->client, sizeof(b->client)) == -1) {
		json_decref(root);
		return;
	}
	/* 13: batches by revision, and their size. */
	if (json_is_array(root)) {
		b->is_array = 1;
		if (b->rev >= SV_REV_2025_06_18) {
			(void)snprintf(text, sizeof(text),
			    "batches are not allowed in %s",
			    sv_rev_name(b->rev));
			json_decref(root);
			sv_conn_rpc_error(c, 400, -32600, text, 1);
			return;
		}
		if (json_array_size(root) > SV_MAX_BATCH) {
			(void)snprintf(text, sizeof(text),
			    "a batch holds at most %d messages", SV_MAX_BATCH);
			json_decref(root);
			sv_conn_rpc_error(c, 400, -32600, text, 1);
			return;
		}
	}
	/* 14: each message; calls may finish later. */
	n = json_is_array(root) ? json_array_size(root) : 1;
	b->n = n;
	for (i = 0; i < n; i++)
		json_array_append_new(b->answers, json_null());
	b->pending = 1;		/* held until every message is dispatched */
	for (i = 0; i < n; i++)
		sv_rpc_one(b, i, json_is_array(root) ? json_array_get(root, i) :
		    root);
	json_decref(root);
	sv_rpc_settle(b, 0, NULL);
}
