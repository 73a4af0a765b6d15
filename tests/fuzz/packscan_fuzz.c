/*
 * libFuzzer target for the pushed-pack walker (spec/gitgate.md §7.3):
 * the same bytes fed whole and in pieces must reach the same end, and
 * the walker never claims bytes it was not given.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "gitgate/packscan.h"

int	 LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gg_packscan	 a, b;
	ssize_t			 na, nb, r;
	size_t			 i, step;

	if (size < 1)
		return (0);
	step = (data[0] % 7) + 1;
	data++;
	size--;
	gg_packscan_init(&a, 64, 1 << 20);
	gg_packscan_init(&b, 64, 1 << 20);
	na = gg_packscan_feed(&a, data, size);
	if (na > (ssize_t)size)
		abort();
	nb = 0;
	for (i = 0; i < size && b.state != GG_PS_DONE &&
	    b.state != GG_PS_FAILED; i += step) {
		r = gg_packscan_feed(&b, data + i, size - i < step ?
		    size - i : step);
		if (r == -1)
			break;
		nb += r;
	}
	if ((a.state == GG_PS_DONE) != (b.state == GG_PS_DONE))
		abort();
	if (a.state == GG_PS_DONE && na != nb)
		abort();
	gg_packscan_free(&a);
	gg_packscan_free(&b);
	return (0);
}
