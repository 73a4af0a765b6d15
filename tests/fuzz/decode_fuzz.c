/*
 * libFuzzer target for content decoding (common/decode.c).
 *
 * Input: a control byte (codings, piece size, output budget), then the
 * encoded body.  Beyond not crashing or leaking, it checks the streaming
 * contract: no call appends more than its budget, the decoder always
 * ends (1 or -1 at eof, never stuck), and decoding in the pieces the
 * control byte picks gives the same result and bytes as all at once.
 * The ratio guard is set out of reach here, since where it trips
 * depends on how far input had got when output crossed it.
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/bounds.h"
#include "common/decode.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_OUT_CAP	(4 << 20)

static const char *const fuzz_ce[] = {
	"identity", "gzip", "deflate", "br", "gzip, deflate", "deflate, gzip",
	"br, gzip", "gzip, br",
};

/* Decodes data in pieces of step with budget max; the result's rc. */
static int
fuzz_decode(const char *ce, const uint8_t *data, size_t size, size_t step,
    size_t max, struct evbuffer *out)
{
	enum cm_decode_coding	 c[CM_MAX_DECODE_CODINGS];
	struct cm_decode_limits	 lim = { FUZZ_OUT_CAP, 1u << 30 };
	struct cm_decode	*d;
	struct evbuffer		*in = evbuffer_new();
	const char		*why = NULL;
	size_t			 n, off = 0, before, rounds;
	int			 rc = 0, eof;

	if (in == NULL)
		return (-2);
	if (cm_decode_parse(ce, c, &n, &why) == -1) {
		evbuffer_free(in);
		return (-2);	/* this build has no brotli */
	}
	if ((d = cm_decode_new(c, n, &lim)) == NULL)
		__builtin_trap();
	for (;;) {
		n = size - off < step ? size - off : step;
		evbuffer_add(in, data + off, n);
		off += n;
		eof = off == size;
		rounds = 0;
		do {
			before = evbuffer_get_length(out);
			rc = cm_decode_read(d, in, eof, out, max, &why);
			if (evbuffer_get_length(out) - before > max)
				__builtin_trap();
			if (rc == -1 && (why == NULL ||
			    cm_decode_error(d) == CM_DECODE_OK))
				__builtin_trap();
			/* Output is bounded, so the loop must end. */
			if (++rounds > FUZZ_OUT_CAP + 2)
				__builtin_trap();
		} while (rc == 0 && evbuffer_get_length(out) - before == max);
		if (rc == -1 || eof)
			break;
	}
	if (eof && rc == 0)
		__builtin_trap();	/* stuck: neither done nor refused */
	if (cm_decode_out_bytes(d) != evbuffer_get_length(out) ||
	    cm_decode_out_bytes(d) > FUZZ_OUT_CAP)
		__builtin_trap();
	cm_decode_free(d);
	evbuffer_free(in);
	return (rc);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const size_t	 steps[] = { 1, 3, 64, 4096 };
	static const size_t	 maxes[] = { 1, 7, 512, 65536 };
	struct evbuffer		*a, *b;
	const char		*ce;
	enum cm_decode_coding	 c[CM_MAX_DECODE_CODINGS];
	const char		*why;
	size_t			 n;
	int			 ra, rb;

	if (size < 1)
		return (0);
	ce = fuzz_ce[data[0] & 7];
	/* Also the Content-Encoding parser, on the first bytes as text. */
	{
		char	 s[33];

		n = size - 1 < 32 ? size - 1 : 32;
		memcpy(s, data + 1, n);
		s[n] = '\0';
		if (cm_decode_parse(s, c, &n, &why) == 0 &&
		    n > CM_MAX_DECODE_CODINGS)
			__builtin_trap();
	}
	if ((a = evbuffer_new()) == NULL || (b = evbuffer_new()) == NULL) {
		if (a != NULL)
			evbuffer_free(a);
		return (0);
	}
	ra = fuzz_decode(ce, data + 1, size - 1, size, 1 << 20, a);
	rb = fuzz_decode(ce, data + 1, size - 1, steps[(data[0] >> 3) & 3],
	    maxes[(data[0] >> 5) & 3], b);
	if (ra != rb)
		__builtin_trap();
	if (ra == 1 && (evbuffer_get_length(a) != evbuffer_get_length(b) ||
	    (evbuffer_get_length(a) > 0 && memcmp(evbuffer_pullup(a, -1),
	    evbuffer_pullup(b, -1), evbuffer_get_length(a)) != 0)))
		__builtin_trap();
	evbuffer_free(a);
	evbuffer_free(b);
	return (0);
}
