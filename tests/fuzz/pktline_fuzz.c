/*
 * libFuzzer target for the pkt-line reader (spec/gitgate.md §2.5): any
 * input is read packet by packet as a session would; a packet that is
 * read must re-encode to the bytes it came from, and the reader must
 * never drain a malformed or incomplete packet.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "gitgate/pktline.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static struct gg_pkt	 pktline_fuzz_pkt;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct evbuffer	*in, *re;
	const char	*why;
	unsigned char	 hdr[4];
	size_t		 before, used;
	int		 v2, rc;

	if (size == 0)
		return (0);
	v2 = data[0] & 1;
	in = evbuffer_new();
	re = evbuffer_new();
	if (in == NULL || re == NULL)
		abort();
	evbuffer_add(in, data + 1, size - 1);
	for (;;) {
		before = evbuffer_get_length(in);
		rc = gg_pktline_read(in, v2, &pktline_fuzz_pkt, &why);
		if (rc <= 0) {
			if (evbuffer_get_length(in) != before)
				abort();	/* drained without a packet */
			if (rc == -1 && why == NULL)
				abort();
			break;
		}
		used = before - evbuffer_get_length(in);
		if (pktline_fuzz_pkt.kind == GG_PKT_DATA) {
			if (pktline_fuzz_pkt.len > GG_PKT_DATA_MAX ||
			    used != pktline_fuzz_pkt.len + 4 ||
			    pktline_fuzz_pkt.data[pktline_fuzz_pkt.len] != '\0')
				abort();
			evbuffer_drain(re, evbuffer_get_length(re));
			if (gg_pktline_write(re, pktline_fuzz_pkt.data,
			    pktline_fuzz_pkt.len) == -1)
				abort();
			if (evbuffer_copyout(re, hdr, 4) != 4)
				abort();
		} else if (used != 4 || (!v2 &&
		    pktline_fuzz_pkt.kind != GG_PKT_FLUSH))
			abort();
	}
	evbuffer_free(in);
	evbuffer_free(re);
	return (0);
}
