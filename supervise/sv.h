/*
 * Types shared by the files of the supervise service (not by other
 * services).  spec/supervise.md is the behaviour; this is the plumbing.
 *
 * A connection (conn.c) reads one HTTP request at a time and hands its
 * body to the JSON-RPC layer (rpc.c), which answers each message at once
 * or starts a call (call.c) that finishes later; the batch collects the
 * answers and writes them back through the connection.  Everything of a
 * connection lives on its worker.  MCP sessions (session.c) are shared
 * by every worker behind one mutex.
 */
#ifndef SV_SV_H
#define SV_SV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/socket.h>

#include <jansson.h>

#include "common/http.h"

struct bufferevent;
struct cm_queue_req;
struct cm_routes;
struct cm_snap;
struct cm_worker;
struct event;
struct evbuffer;
struct sv_batch;
struct sv_call;
struct sv_conn;

/* Protocol revisions, oldest first (§3.3). */
enum sv_rev {
	SV_REV_2024_11_05,
	SV_REV_2025_03_26,
	SV_REV_2025_06_18,
	SV_REV_2025_11_25,
	SV_REV_COUNT
};

/* The supervise part of a snapshot: immutable once loaded. */
struct sv_cfg {
	char			*state_dir;	/* owned */
	char			*config_dir;	/* owned */
	/* SUPERVISE_WAIT_SECONDS wins */
	int			 wait_s;
	int			 progress_s;
	size_t			 max_body;
	int			 session_limit;
	int			 session_idle_s;
	int			 request_head_s;
	int			 client_idle_s;
	struct cm_http_limits	 lim;
	char			**origins;	/* owned */
	size_t			 norigins;
};

enum sv_conn_state {
	SV_CONN_IDLE,		/* keep-alive: no byte of a request yet */
	SV_CONN_HEAD,		/* reading the head (request_head_s) */
	SV_CONN_BODY,		/* reading the body */
	SV_CONN_BUSY,		/* answered later: a call is running */
	SV_CONN_CLOSING,	/* flush the output, then free */
};

/* One per worker, on that worker only. */
struct sv_worker {
	struct cm_worker		*w;		/* borrowed */
	TAILQ_HEAD(, sv_conn)		 conns;
	TAILQ_HEAD(, sv_call)		 calls;		/* every running call */
	size_t				 nconns;
	uint64_t			 next_id;
	int				 draining;
};

struct sv_conn {
	uint64_t			 id;		/* in log lines */
	struct sv_worker		*sw;		/* borrowed */
	struct bufferevent		*bev;		/* owned */
	struct cm_http_parser		*parser;	/* owned */
	struct evbuffer			*body;		/* owned */
	struct event			*timer;		/* owned */
	struct event			*reap;		/* owned: frees conn */
	/* a reference, per request */
	struct cm_snap			*snap;
	enum sv_conn_state		 state;
	char				 peer[64];
	/* The request being answered. */
	int				 keep_alive;
	int				 accept_json;
	int				 accept_sse;
	/* stream head written */
	int				 sse;
	struct sv_batch			*batch;		/* owned while BUSY */
	int				 dead;
	TAILQ_ENTRY(sv_conn)		 link;
};

/* The messages of one POST body and their answers, in order. */
struct sv_batch {
	struct sv_conn			*conn;		/* borrowed */
	json_t				*answers;	/* array; null = none */
	size_t				 n;
	/* calls still running */
	size_t				 pending;
	int				 is_array;
	/* 200, or 202 for none */
	int				 http_status;
	/* "" before initialize */
	char				 session[40];
	/* initialize made */
	char				 new_session[40];
	enum sv_rev			 rev;
	/* mcp_client, for logs */
	char				 client[160];
};

/* A tools/call that finishes later (queue, reload). */
enum sv_call_state {
	SV_CALL_START,		/* waiting for the queue's first answer */
	SV_CALL_WAIT,		/* waiting for the operator */
	SV_CALL_RELOAD,		/* decided; waiting for the forced reload */
	SV_CALL_DONE,
};

struct sv_call {
	/* names it across threads */
	uint64_t			 uid;
	struct sv_worker		*sw;		/* borrowed */
	struct sv_batch			*batch;		/* borrowed */
	size_t				 slot;		/* in batch->answers */
	json_t				*rpc_id;	/* owned */
	/* session in-flight key */
	char				 idkey[80];
	char				 tool[32];
	enum sv_call_state		 state;
	/* the queue's, or NULL */
	struct cm_queue_req		*qreq;
	/* owned; SSE keep-alive */
	struct event			*progress;
	/* owned, or NULL */
	json_t				*progress_token;
	uint64_t			 started_ms;
	uint64_t			 wait_ms;
	int				 kind;		/* enum cm_qkind */
	char				 proposal[32];
	/* owned, while RELOAD */
	json_t				*decision;
	/* owned: proposed route */
	json_t				*route;
	char				 peer[64];	/* the connection's */
	int64_t				 created_ms;	/* the proposal's */
	uint64_t			 last_progress;	/* seconds sent */
	int				 sent_progress;
	TAILQ_ENTRY(sv_call)		 link;
};

/* service.c */
const struct sv_cfg	*sv_cfg_of(const struct cm_snap *snap);
struct sv_worker	*sv_worker_of(struct cm_worker *w);
/* Metric slots, registered at start. */
void			 sv_metric_tool(struct cm_worker *w, const char *tool,
			    const char *outcome);
void			 sv_metric_sessions(int64_t n);
const char		*sv_rev_name(enum sv_rev rev);
int			 sv_rev_parse(const char *s, enum sv_rev *rev);

/* conn.c */
void			 sv_conn_accept(struct cm_worker *w, int fd,
			    const struct sockaddr *sa, socklen_t salen,
			    int listener);
/* The batch is complete: write its answers (JSON or the SSE tail). */
void			 sv_conn_answer(struct sv_conn *c);
/* Answers with doc (NULL: no body), Mcp-Session-Id if session. */
void			 sv_conn_reply_json(struct sv_conn *c, int status,
			    const json_t *doc, const char *session);
/* A call is about to wait: switch this request to SSE if allowed. */
int			 sv_conn_sse_begin(struct sv_conn *c);
void			 sv_conn_sse_event(struct sv_conn *c,
			    const json_t *msg);
void			 sv_conn_sse_comment(struct sv_conn *c,
			    const char *text);
/* A JSON-mode answer cannot come (cancel): close the connection. */
void			 sv_conn_abort(struct sv_conn *c, const char *why);
void			 sv_conn_close(struct sv_conn *c, const char *why);
/* Writes a plain error answer (status, code, message) and closes. */
void			 sv_conn_rpc_error(struct sv_conn *c, int status,
			    int code, const char *message, int keep);

/* rpc.c */
/* A complete POST body of c; answers now or leaves c BUSY. */
void			 sv_rpc_handle(struct sv_conn *c, struct cm_http_msg *m,
			    struct evbuffer *body);
/* DELETE (checks 10-12). */
void			 sv_rpc_delete(struct sv_conn *c,
			    struct cm_http_msg *m);
json_t			*sv_rpc_error(const json_t *id, int code,
			    const char *message);
json_t			*sv_rpc_result(const json_t *id, json_t *result);
/* A call of b finished: fill slot, and answer once nothing runs. */
void			 sv_rpc_settle(struct sv_batch *b, size_t slot,
			    json_t *answer);
void			 sv_batch_free(struct sv_batch *b);

/* call.c */
/* tools/call; answers through sv_rpc_settle (maybe at once). */
void			 sv_call_tools(struct sv_batch *b, size_t slot,
			    const json_t *id, const json_t *params);
/* Ends every call of b without an answer (cancel, disconnect, kill). */
void			 sv_call_abort_batch(struct sv_batch *b,
			    const char *outcome);
/* Drain: every waiting call answers pending now. */
void			 sv_call_drain(struct sv_worker *sw);
/* notifications/cancelled or DELETE, maybe from another worker. */
void			 sv_call_cancel_uid(struct cm_worker *w, uint64_t uid);
/* A tool result (§4.1) from an object, per revision. */
json_t			*sv_call_result(enum sv_rev rev, json_t *obj);
json_t			*sv_call_tool_error(const char *tool, const char *fmt,
			    ...) __attribute__((format(printf, 2, 3)));

/* tools.c */
/* The tools/list result for rev. */
json_t			*sv_tools_list(enum sv_rev rev, int wait_s);
int			 sv_tools_known(const char *name);

/* session.c */
int			 sv_session_init(void);
void			 sv_session_shutdown(void);
/*
 * initialize: a new session; 0 and id, or -1 when the table is full of
 * sessions with calls in flight (503).
 */
int			 sv_session_new(enum sv_rev rev, const char *client,
			    const char *name, const char *version, int limit,
			    char id[40]);
/* Known and not idle past idle_s: 0 with rev, name/version copied. */
int			 sv_session_touch(const char *id, int idle_s,
			    enum sv_rev *rev, char *client, size_t clientlen);
/* Ends a session; its calls are cancelled on their workers. */
int			 sv_session_delete(const char *id, const char *reason);
/*
 * Registers an in-flight request id (idkey) of a session; -1 when the
 * same id is already in flight (-32600).  uid 0: not cancellable.
 */
int			 sv_session_begin(const char *id, const char *idkey,
			    struct cm_worker *w, uint64_t uid);
void			 sv_session_end(const char *id, const char *idkey);
/* notifications/cancelled: cancels idkey's call wherever it runs. */
void			 sv_session_cancel(const char *id, const char *idkey);
/* The client name/version of a session (for proposals). */
int			 sv_session_client(const char *id, char *name,
			    size_t namelen, char *version, size_t verlen);

/* propose.c */
/*
 * Validates egress-block or capability-block arguments.  0 with the
 * payload and the justification (new references), or -1 with the tool
 * error text in err.  routes may be NULL (egress not running).
 */
int			 sv_propose(const char *tool, const json_t *args,
			    const struct cm_routes *routes, json_t **payload,
			    char **justification, char *err, size_t errlen);
/* Does the live route for route's host allow all that route asks? */
int			 sv_propose_applied(const struct cm_routes *routes,
			    const json_t *route);
/* JSON to the YAML loader's node tree (line 0: no position). */
struct cm_ynode		*sv_json_to_ynode(const json_t *v);
/* Normalised route from a JSON route object, or NULL with err. */
json_t			*sv_propose_route(const char *tool, const json_t *v,
			    char *err, size_t errlen);
/* Match entries: 1 when e equals one of list structurally. */
int			 sv_match_in(const json_t *e, const json_t *list);

#endif /* SV_SV_H */
