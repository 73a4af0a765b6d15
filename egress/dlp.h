/*
 * The one scan interface of egress (spec/egress.md §8-§13).  Every
 * CONNECT host, request head, request body piece, response body piece
 * and WebSocket message passes through these calls, in that order of
 * the lifecycle.  The detectors and on-match actions plug in here (the
 * DLP issue); the connection code never scans by itself.
 */
#ifndef EG_DLP_H
#define EG_DLP_H

#include <stddef.h>

struct cm_route;
struct evbuffer;
struct eg_conn;
struct eg_refusal;
struct eg_xchg;

/* 1 when the route's outbound detectors are on: bodies are buffered. */
int	 eg_dlp_outbound_active(const struct cm_route *rt);
/* Stage 3 of §3.1: the CONNECT host's labels.  0 pass, -1 refused. */
int	 eg_dlp_connect(struct eg_conn *c, const struct cm_route *rt,
	    struct eg_refusal *r);
/* Stage 11: host, path, query, fields (may rewrite).  0 or -1. */
int	 eg_dlp_head(struct eg_xchg *x, struct eg_refusal *r);
/*
 * Request body bytes decoded so far in body (final: the body is
 * complete).  Returns how many bytes at the front are scanned and may
 * leave, or -1 with *r (block: the upstream request is aborted).
 */
long	 eg_dlp_body(struct eg_xchg *x, struct evbuffer *body, int final,
	    struct eg_refusal *r);
/* The same for response body bytes towards the agent. */
long	 eg_dlp_response(struct eg_xchg *x, struct evbuffer *body, int final,
	    struct eg_refusal *r);

#endif /* EG_DLP_H */
