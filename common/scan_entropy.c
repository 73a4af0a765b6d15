/*
 * The opt-in entropy detector (spec/egress.md §8.4): windows of
 * dlp.entropy_window bytes stepped by CM_SCAN_ENTROPY_STEP; the first
 * window whose Shannon entropy reaches dlp.entropy_threshold is one warn
 * hit.  It never blocks, holds or rewrites, so it plays no part in
 * overlap resolution or in a stream's release point.
 *
 * The histogram slides by one step at a time (exact integers); the sum
 * of c*log2(c) is recomputed per window in a fixed order from a table,
 * so a window's value does not depend on where a scan started and a
 * stream reports the window a whole-buffer scan does.
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "common/scan_int.h"

int
cm_entropy_table(struct cm_scanset *set, size_t window)
{
	size_t	 c;

	set->ent_tab = calloc(window + 1, sizeof(*set->ent_tab));
	if (set->ent_tab == NULL)
		return (-1);
	for (c = 2; c <= window; c++)
		set->ent_tab[c] = (double)c * log2((double)c);
	return (0);
}

/*
 * Looks at the windows starting at *next, *next + step, ... that fit in
 * p[0..n).  Returns 1 with the first over the threshold in *at and its
 * entropy in *mbits, else 0; *next is left at the first window not yet
 * looked at, for the next call on a longer buffer.
 */
int
cm_entropy_find(const struct cm_scanset *set, const unsigned char *p,
    size_t n, size_t *next, size_t *at, unsigned *mbits)
{
	const double	*tab = set->ent_tab;
	size_t		 w = set->entropy_window, s = *next, i;
	uint16_t	 cnt[256];
	double		 sum, h, logw = log2((double)w);

	if (s + w > n)
		return (0);
	memset(cnt, 0, sizeof(cnt));
	for (i = s; i < s + w; i++)
		cnt[p[i]]++;
	for (;;) {
		for (i = 0, sum = 0; i < 256; i++)
			sum += tab[cnt[i]];
		h = logw - sum / (double)w;
		if (h * 1000.0 + 1e-6 >= (double)set->entropy_mbits) {
			*at = s;
			*mbits = (unsigned)(h * 1000.0 + 0.5);
			*next = s + CM_SCAN_ENTROPY_STEP;
			return (1);
		}
		if (s + CM_SCAN_ENTROPY_STEP + w > n)
			break;
		for (i = 0; i < CM_SCAN_ENTROPY_STEP; i++) {
			cnt[p[s + i]]--;
			cnt[p[s + w + i]]++;
		}
		s += CM_SCAN_ENTROPY_STEP;
	}
	*next = s + CM_SCAN_ENTROPY_STEP;
	return (0);
}
