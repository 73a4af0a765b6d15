/*
 * Inbound detection on responses (spec/egress.md §10.2, §12):
 * naive_injection_detection on text bodies, buffered whole up to
 * limits.inbound_buffer_bytes (a block becomes a 403), streamed past
 * it or after timeouts.inbound_stall_ms (a block aborts), SSE and ndjson
 * per event.  Content-Encoding is undone for the scan (common/decode.h).
 */
#ifndef EG_INBOUND_H
#define EG_INBOUND_H

#include <stddef.h>

struct cm_http_msg;
struct eg_refusal;
struct eg_xchg;
struct eg_inbound;

/*
 * After the final response head: 0 no scan (relay as is), 1 scanning
 * (the head is written by inbound when it is due), -1 refused (*r:
 * 502 unscannable_encoding).
 */
int	 eg_inbound_start(struct eg_xchg *x, struct cm_http_msg *resp,
	    struct eg_refusal *r);
/* How many more framing-decoded bytes x->rbody may take now. */
size_t	 eg_inbound_room(const struct eg_xchg *x);
/*
 * New bytes are in x->rbody (done: the body is complete).  0 go on, 1
 * complete (the caller finishes the exchange), -1 the exchange ended
 * (refused or aborted; x may be gone).
 */
int	 eg_inbound_body(struct eg_xchg *x, int done);
void	 eg_inbound_free(struct eg_xchg *x);

#endif /* EG_INBOUND_H */
