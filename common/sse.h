/*
 * Record splitting for streamed responses (spec/egress.md §10.2):
 * text/event-stream into events, application/x-ndjson into records, so
 * that each is scanned before it is forwarded.
 *
 * An event runs up to and including the blank line that ends it; lines
 * end in CRLF, LF or CR (HTML "Server-sent events" §9.2.4), and a CR that
 * ends one piece followed by LF in the next is one line end.  An ndjson
 * record runs up to and including its LF.  Units up to the cap come out
 * whole; a longer one comes out in pieces of the cap, the last one ending
 * it.  Bytes move unchanged from the caller's evbuffer to out, so what
 * was scanned is exactly what is forwarded.
 *
 * Pure computation; the splitter keeps no bytes of its own (the unit
 * being assembled stays in the caller's evbuffer).
 */
#ifndef CM_SSE_H
#define CM_SSE_H

#include <stddef.h>

struct evbuffer;
struct cm_sse;			/* opaque: common/sse.c */

enum cm_sse_mode {
	CM_SSE_EVENTS,		/* text/event-stream */
	CM_SSE_NDJSON,		/* application/x-ndjson: one record a line */
};

/* Flags of what one call moved. */
#define CM_SSE_START	0x01	/* it begins an event or record */
#define CM_SSE_END	0x02	/* it ends one: START|END is a whole one */

/*
 * A splitter; max_bytes is limits.sse_event_bytes (0 counts as 1).  NULL
 * when out of memory.
 */
struct cm_sse	*cm_sse_new(enum cm_sse_mode mode, size_t max_bytes);
void		 cm_sse_free(struct cm_sse *s);
/*
 * Moves the next whole event (or the next piece of one longer than the
 * cap) from the front of in to out and sets *flags.  1: moved; 0: in
 * holds no complete unit yet (call again when more bytes are appended;
 * the caller must not drain in meanwhile: bytes already looked at are
 * not looked at again); -1 and *why when out of memory.
 */
int		 cm_sse_next(struct cm_sse *s, struct evbuffer *in,
		    struct evbuffer *out, unsigned *flags, const char **why);
/*
 * The stream ended: moves what is left of an unfinished event as its
 * last piece (flag CM_SSE_END).  1: moved, 0: nothing was left, -1.
 */
int		 cm_sse_finish(struct cm_sse *s, struct evbuffer *in,
		    struct evbuffer *out, unsigned *flags, const char **why);
/*
 * The data of one whole event: the values of its "data" fields joined
 * by LF, as a client dispatches them (the leading space of a value
 * dropped, comments and other fields skipped), appended to out.  0 or
 * -1 when out of memory.
 */
int		 cm_sse_data(const void *event, size_t len,
		    struct evbuffer *out);

#endif /* CM_SSE_H */
