/*
 * libFuzzer target for SSE and ndjson splitting (common/sse.c).
 *
 * Input: a control byte (mode, cap, piece size), then the stream.  The
 * units must add up to the stream byte for byte, none longer than the
 * cap, START and END well paired; ndjson cuts, and event cuts in a
 * stream without CR, must not depend on how the bytes arrived.  Each
 * whole event's data goes through cm_sse_data() too.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/sse.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_MAX_ENDS	4096

/* Splits; ends[] gets the stream offset after each END (up to a cap). */
static size_t
fuzz_split(enum cm_sse_mode mode, size_t max, const uint8_t *data,
    size_t size, size_t step, size_t *ends)
{
	struct cm_sse	*s = cm_sse_new(mode, max);
	struct evbuffer	*in = evbuffer_new(), *out = evbuffer_new();
	struct evbuffer	*data_out = evbuffer_new();
	const char	*why = NULL;
	unsigned char	*u;
	size_t		 off, n, pos = 0, nends = 0, len;
	unsigned	 flags;
	int		 open = 0, rc, fin, whole;

	if (s == NULL || in == NULL || out == NULL || data_out == NULL)
		abort();
	for (off = 0; off <= size; off += n) {
		n = size - off < step ? size - off : step;
		evbuffer_add(in, data + off, n);
		fin = off + n == size;
		for (;;) {
			rc = fin ? cm_sse_finish(s, in, out, &flags, &why) :
			    cm_sse_next(s, in, out, &flags, &why);
			if (rc == -1)
				__builtin_trap();
			if (rc == 0)
				break;
			len = evbuffer_get_length(out);
			whole = flags == (CM_SSE_START | CM_SSE_END);
			if (len > max || !!(flags & CM_SSE_START) == open ||
			    (len == 0 && flags != CM_SSE_END))
				__builtin_trap();
			u = evbuffer_pullup(out, -1);
			if (len > 0 && memcmp(u, data + pos, len) != 0)
				__builtin_trap();
			if (whole && mode == CM_SSE_EVENTS) {
				if (cm_sse_data(u, len, data_out) != 0 ||
				    evbuffer_get_length(data_out) > len)
					__builtin_trap();
				evbuffer_drain(data_out,
				    evbuffer_get_length(data_out));
			}
			pos += len;
			evbuffer_drain(out, len);
			open = !(flags & CM_SSE_END);
			if (!open && nends < FUZZ_MAX_ENDS)
				ends[nends++] = pos;
		}
		if (fin)
			break;
	}
	if (open || pos != size || evbuffer_get_length(in) != 0)
		__builtin_trap();
	cm_sse_free(s);
	evbuffer_free(in);
	evbuffer_free(out);
	evbuffer_free(data_out);
	return (nends);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 maxes[] = { 1, 2, 7, 64, 1000, 1 << 20, 3,
	    16 };
	static const size_t	 steps[] = { 1, 2, 5, 4096 };
	static size_t		 ea[FUZZ_MAX_ENDS], eb[FUZZ_MAX_ENDS];
	enum cm_sse_mode	 mode;
	size_t			 max, na, nb;

	if (size < 1)
		return (0);
	mode = (data[0] & 1) ? CM_SSE_NDJSON : CM_SSE_EVENTS;
	max = maxes[(data[0] >> 1) & 7];
	na = fuzz_split(mode, max, data + 1, size - 1, size, ea);
	nb = fuzz_split(mode, max, data + 1, size - 1,
	    steps[(data[0] >> 4) & 3], eb);
	if ((mode == CM_SSE_NDJSON || memchr(data + 1, '\r', size - 1) ==
	    NULL) && (na != nb || memcmp(ea, eb, na * sizeof(ea[0])) != 0))
		__builtin_trap();
	return (0);
}
