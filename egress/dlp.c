/*
 * The scan interface with no detector yet: it passes everything and
 * holds nothing back.  The DLP issue replaces these bodies with calls
 * into common/scan*.c; the call sites stay as they are.
 */
#include "config.h"

#include <event2/buffer.h>

#include "common/routes.h"
#include "egress/dlp.h"

int
eg_dlp_outbound_active(const struct cm_route *rt)
{
	return (rt != NULL && cm_route_outbound(rt) != 0);
}

int
eg_dlp_connect(struct eg_conn *c, const struct cm_route *rt,
    struct eg_refusal *r)
{
	return (0);
}

int
eg_dlp_head(struct eg_xchg *x, struct eg_refusal *r)
{
	return (0);
}

long
eg_dlp_body(struct eg_xchg *x, struct evbuffer *body, int final,
    struct eg_refusal *r)
{
	return ((long)evbuffer_get_length(body));
}

long
eg_dlp_response(struct eg_xchg *x, struct evbuffer *body, int final,
    struct eg_refusal *r)
{
	return ((long)evbuffer_get_length(body));
}
