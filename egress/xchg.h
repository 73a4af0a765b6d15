/*
 * One request and its response: policy, upstream, body relay both ways.
 * Created by the connection when a head is complete, freed when the
 * response is written (eg_conn_xchg_done) or the connection closes.
 */
#ifndef EG_XCHG_H
#define EG_XCHG_H

#include <stddef.h>
#include <stdint.h>

#include "common/http.h"

struct cm_route;
struct cm_snap;
struct eg_cfg;
struct eg_conn;
struct eg_dial;
struct eg_up;
struct event;
struct eg_dlp_x;
struct cm_decode;
struct eg_inbound;
struct eg_wsr;
struct evbuffer;
struct eg_refusal;

enum eg_xchg_state {
	EG_X_HELD,		/* the head waits for an operator */
	EG_X_BODY,		/* reading (maybe buffering) the request body */
	EG_X_DIAL,		/* waiting for an origin connection */
	EG_X_SEND,		/* head sent; streaming the request body */
	EG_X_WAIT,		/* request sent; waiting for the response head */
	EG_X_RESP,		/* relaying the response body */
	EG_X_WS,		/* after 101: bytes both ways */
	EG_X_DONE,
};

/* The request as policy resolved it (policy.c fills it). */
struct eg_req {
	const struct cm_route	*route;		/* in snap; NULL for local */
	int			 local;		/* _egress.local */
	int			 tls;		/* upstream over TLS */
	char			 host[256];	/* normalised */
	int			 port;
	int			 is_ip;
	char			*path;		/* owned: normalised */
	const char		*query;		/* incl. '?': target or query_own */
	char			*query_own;	/* owned: a rewritten query */
	int			 path_changed;	/* log raw_path */
	int			 websocket;
	int			 expect_continue;
	int			 te_trailers;	/* agent sent TE: trailers */
	int			 absolute;	/* absolute-form target */
};

struct eg_xchg {
	struct eg_conn		*c;		/* borrowed: owner */
	enum eg_xchg_state	 state;
	struct cm_snap		*snap;		/* a reference, for the life */
	const struct eg_cfg	*cfg;		/* in snap */
	struct cm_http_msg	*req;		/* owned, taken from the parser */
	struct eg_req		 r;
	struct evbuffer		*body;		/* owned: decoded, not yet sent */
	int			 body_done;	/* the agent's body is complete */
	int			 buffering;	/* hold the head until the body */
	enum cm_http_framing	 up_framing;	/* towards the origin */
	uint64_t		 up_length;
	struct eg_dial		*dial;		/* owned while dialling */
	struct eg_up		*up;		/* owned once connected */
	int			 retried;	/* a reused conn failed once */
	struct cm_http_parser	*rparser;	/* owned: the origin's response */
	enum cm_http_framing	 down_framing;	/* towards the agent */
	int			 resp_started;	/* a final head went to the agent */
	uint64_t		 down_length;
	int			 down_nobody;	/* HEAD/204/304: no body */
	struct evbuffer		*rbody;		/* owned: decoded, not yet sent */
	int			 head_sent;	/* the request head went upstream */
	int			 got_bytes;	/* some response head arrived */
	int			 reused;	/* up came from the pool */
	int			 up_idle_s;	/* origin's Keep-Alive timeout */
	int			 ws;		/* counted as a WebSocket */
	int			 body_held;	/* a hold decides the body */
	struct cm_decode	*req_dec;	/* owned: a coded request body */
	struct evbuffer		*body_raw;	/* owned: coded bytes to decode */
	int			 req_decoding;	/* body is forwarded decoded */
	struct eg_dlp_x		*dlp;		/* owned: scan state, hold */
	struct eg_inbound	*inb;		/* owned: response scanning */
	struct eg_wsr		*wsr;		/* owned: WebSocket relay */
	int			 keep_agent;	/* agent keep-alive after this */
	int			 up_reusable;
	struct event		*timer;		/* owned: headers / io idle */
	uint64_t		 bytes_up;
	uint64_t		 bytes_down;
	uint64_t		 t0_ms;
	int			 status;
	int			 draining;
};

/* Runs policy on the head in c's parser, then forwards or refuses. */
void		 eg_xchg_start(struct eg_conn *c);
/* Drops the upstream side (connection closing).  Accepts NULL. */
void		 eg_xchg_abort(struct eg_xchg *x);
void		 eg_xchg_free(struct eg_xchg *x);
/* Agent-side events, routed by the connection. */
void		 eg_xchg_agent_read(struct eg_xchg *x);
void		 eg_xchg_agent_drained(struct eg_xchg *x);
void		 eg_xchg_agent_eof(struct eg_xchg *x);
void		 eg_xchg_drain(struct eg_xchg *x);
/* A hold on the head was approved: stages 12 and on. */
void		 eg_xchg_head_released(struct eg_xchg *x);
/* A hold on the body was approved: the pump goes on. */
void		 eg_xchg_body_released(struct eg_xchg *x);
/* Refuses (before the response began) or cuts the connection. */
void		 eg_xchg_refuse(struct eg_xchg *x, const struct eg_refusal *r);
/* Writes the response head (decoded: the body goes out decoded). */
int		 eg_xchg_head_out(struct eg_xchg *x, int decoded);
/* Frames n bytes of data towards the agent; 0 or -1. */
int		 eg_xchg_down(struct eg_xchg *x, struct evbuffer *data, size_t n);
/* The last chunk (chunked framing) after the last byte. */
void		 eg_xchg_down_end(struct eg_xchg *x);
/* The response is complete: pool, log, next request. */
void		 eg_xchg_finish(struct eg_xchg *x);
/* After a 101: moves bytes from one side to the other. */
void		 eg_xchg_ws_relay(struct eg_xchg *x, int from_agent);

#endif /* EG_XCHG_H */
