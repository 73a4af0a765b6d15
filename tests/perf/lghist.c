/*
 * A latency histogram in the manner of HdrHistogram: values below
 * 2^SUB_BITS us have a bucket each; above, every power of two is split
 * into 2^SUB_BITS equal buckets, so any recorded value is known to
 * within 1/2^SUB_BITS of itself whatever its size, in fixed memory.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "tests/perf/loadgen.h"

#define SUB	(1u << BBP_HIST_SUB_BITS)

static size_t
bbp_lghist_index(uint64_t v)
{
	unsigned	 msb, shift;

	if (v < SUB)
		return ((size_t)v);
	if (v >= (UINT64_C(1) << BBP_HIST_MAX_BITS))
		v = (UINT64_C(1) << BBP_HIST_MAX_BITS) - 1;
	msb = 63 - (unsigned)__builtin_clzll(v);
	shift = msb - BBP_HIST_SUB_BITS;
	/* Octave shift+1 starts at (shift+1)*SUB; v>>shift is in [SUB,2SUB). */
	return (((size_t)(shift + 1) << BBP_HIST_SUB_BITS) +
	    (size_t)((v >> shift) - SUB));
}

/* The middle of bucket i: what a quantile landing there reports. */
static uint64_t
bbp_lghist_value(size_t i)
{
	unsigned	 shift;
	uint64_t	 lo;

	if (i < SUB)
		return ((uint64_t)i);
	shift = (unsigned)(i >> BBP_HIST_SUB_BITS) - 1;
	lo = ((uint64_t)(i & (SUB - 1)) + SUB) << shift;
	return (lo + ((UINT64_C(1) << shift) >> 1));
}

void
bbp_lghist_add(struct bbp_hist *h, uint64_t us)
{
	h->n[bbp_lghist_index(us)]++;
	h->count++;
	h->sum += us;
	if (us > h->max)
		h->max = us;
}

void
bbp_lghist_merge(struct bbp_hist *dst, const struct bbp_hist *src)
{
	size_t	 i;

	for (i = 0; i < BBP_HIST_BUCKETS; i++)
		dst->n[i] += src->n[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t
bbp_lghist_quantile(const struct bbp_hist *h, double q)
{
	uint64_t	 want, seen = 0, v;
	size_t		 i;

	if (h->count == 0)
		return (0);
	if (q <= 0)
		q = 0;
	if (q >= 1)
		return (h->max);
	/* The smallest value with at least q of the samples at or below. */
	want = (uint64_t)(q * (double)h->count);
	if ((double)want < q * (double)h->count)
		want++;
	if (want == 0)
		want = 1;
	for (i = 0; i < BBP_HIST_BUCKETS; i++) {
		seen += h->n[i];
		if (seen >= want) {
			v = bbp_lghist_value(i);
			/* A bucket's middle may lie past the largest sample. */
			return (v > h->max ? h->max : v);
		}
	}
	return (h->max);
}
