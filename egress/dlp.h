/*
 * The one scan interface of egress (spec/egress.md §8-§13).  Every
 * CONNECT host, request head, request body piece, response body piece
 * and WebSocket message passes through these calls, in that order of
 * the lifecycle; the connection code never scans by itself.  The rules,
 * known secrets and injection patterns come from the snapshot's scan
 * set (common/scan.h); the actions (block, redact, supervise holds) and
 * the safelist are here and in hold.c.
 */
#ifndef EG_DLP_H
#define EG_DLP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "common/scan.h"

struct cm_http_msg;
struct cm_route;
struct cm_snap;
struct evbuffer;
struct eg_cfg;
struct eg_conn;
struct eg_refusal;
struct eg_xchg;

/* Where a hit was found (§9.3 location), and whether it can be rewritten. */
enum eg_dlp_where { EG_AT_HOST, EG_AT_PATH, EG_AT_QUERY, EG_AT_FIELD,
	EG_AT_BODY, EG_AT_WS };

struct eg_dlp_hit {
	struct cm_scan_hit	 h;		/* strings live in the set */
	enum eg_dlp_where	 where;
	size_t			 field;		/* EG_AT_FIELD: its index */
	size_t			 value_off;	/* EG_AT_FIELD: where the value
						   starts in "name: value" */
	char			 location[80];	/* "header:x-note", "body" */
	char			 context[CM_SCAN_EXCERPT_BYTES + 1];
	char			 key[72];	/* safelist key, never a value */
};

struct eg_dlp_hits {
	struct eg_dlp_hit	*v;		/* owned */
	size_t			 n;
	size_t			 cap;
};

void	 eg_dlp_hits_free(struct eg_dlp_hits *hs);

/* Compiles the snapshot's scan set (egress load_finish).  0 or -1. */
int	 eg_dlp_compile(struct eg_cfg *cfg, const struct cm_snap *snap,
	    char *err, size_t errlen);
/* 1 when the route's outbound detectors are on: bodies are buffered. */
int	 eg_dlp_outbound_active(const struct cm_route *rt);
/* Stage 2: URL-encoded CRLF in the target or a field (§8.7).  0 or -1. */
int	 eg_dlp_crlf(struct cm_http_msg *m, struct eg_refusal *r);
/*
 * Stage 3 of §3.1: the CONNECT host's labels.  0 pass, -1 refused, 1
 * held (the connection resumes with eg_conn_connect_released()).
 */
int	 eg_dlp_connect(struct eg_conn *c, const struct cm_route *rt,
	    struct eg_refusal *r);
/*
 * Stage 11: host, path, query, fields (may rewrite under redact).  0
 * pass, -1 refused, 1 held (resumes with eg_xchg_head_released()).
 */
int	 eg_dlp_head(struct eg_xchg *x, struct eg_refusal *r);
/*
 * Request body bytes decoded so far in body (final: complete).  Returns
 * how many bytes at the front are scanned and may leave; -1 refused
 * (*r; once streaming, the upstream request is aborted); -2 held (the
 * pump resumes with eg_xchg_body_released()).  May rewrite body.
 */
long	 eg_dlp_body(struct eg_xchg *x, struct evbuffer *body, int final,
	    struct eg_refusal *r);
/* The same for response body bytes towards the agent (inbound, §12). */
long	 eg_dlp_response(struct eg_xchg *x, struct evbuffer *body, int final,
	    struct eg_refusal *r);
/*
 * A client->server WebSocket message (surface ws): 0 pass, 2 rewritten
 * (*out, malloc'd, *outlen bytes), -1 close 1008
 * with *r naming the rule, 1 held (resumes with eg_wsr_released()).
 */
int	 eg_dlp_ws(struct eg_xchg *x, const void *buf, size_t len, char **out,
	    size_t *outlen, struct eg_refusal *r);
/* Frees the exchange's scan state and cancels its hold.  Accepts NULL. */
void	 eg_dlp_xchg_free(struct eg_xchg *x);
/*
 * A peer string for a log line with every known secret and every token
 * pattern masked (§16).  snap may be NULL (then only capped).
 */
json_t	*eg_dlp_log_string(const struct cm_snap *snap, const char *s,
	    size_t len);

#endif /* EG_DLP_H */
