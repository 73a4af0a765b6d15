/*
 * libFuzzer target for the v0/v1 lines a client sends (spec/gitgate.md
 * §6.2, §7.2): upload-pack request lines and receive-pack commands.
 * Whatever parses must satisfy the parser's own promises.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gitgate/negotiate.h"
#include "gitgate/wire.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gg_wire_line	 wl;
	struct gg_wire_cmd	 wc;
	const char		*why;
	char			*buf;

	/* A pkt-line's data is NUL-terminated after its length. */
	if ((buf = malloc(size + 1)) == NULL)
		abort();
	memcpy(buf, data, size);
	buf[size] = '\0';
	if (gg_wire_upload(buf, size, &wl, &why) == 0) {
		if (wl.kind == GG_WIRE_DEEPEN && (wl.depth < 1 ||
		    wl.depth > GG_DEPTH_INFINITE))
			abort();
		/* The capabilities are in the line (or empty). */
		if (wl.kind == GG_WIRE_WANT && (wl.caps == NULL ||
		    (*wl.caps != '\0' && (wl.caps < buf ||
		    wl.caps > buf + size))))
			abort();
	} else if (why == NULL)
		abort();
	if (gg_wire_command(buf, size, &wc, &why) == 0) {
		if (wc.ref < buf || wc.ref + wc.reflen > buf + size ||
		    memchr(wc.ref, '\0', wc.reflen) != NULL ||
		    memchr(wc.ref, ' ', wc.reflen) != NULL)
			abort();
		if (wc.caps != NULL && wc.caps + wc.capslen != buf + size)
			abort();
	} else if (why == NULL)
		abort();
	free(buf);
	return (0);
}
