/*
 * Per-worker metric slots.  The registry is written only at startup,
 * before any worker runs, and read-only after; the slots are atomics.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/metrics.h"
#include "common/worker.h"

struct cm_metric_def {
	const char		*family;
	const char		*labels;
	const char		*help;
	enum cm_metric_type	 type;
};

static struct cm_metric_def	 cm_metric_defs[CM_MAX_METRICS];
static int			 cm_metric_count;
/* (nworkers + 1) rows of CM_MAX_METRICS; the last row is global. */
static _Atomic int64_t		*cm_metric_slots;
static int			 cm_metric_rows;

int
cm_metrics_init(int nworkers)
{
	free((void *)cm_metric_slots);
	cm_metric_rows = nworkers + 1;
	cm_metric_slots = calloc((size_t)cm_metric_rows * CM_MAX_METRICS,
	    sizeof(*cm_metric_slots));
	return (cm_metric_slots == NULL ? -1 : 0);
}

int
cm_metric_register(const char *family, const char *labels,
    enum cm_metric_type type, const char *help)
{
	int	 i;

	/* A series registered twice (a reload, a second listener) is one. */
	for (i = 0; i < cm_metric_count; i++)
		if (strcmp(cm_metric_defs[i].family, family) == 0 &&
		    strcmp(cm_metric_defs[i].labels, labels) == 0)
			return (i);
	if (cm_metric_count == CM_MAX_METRICS)
		return (-1);
	cm_metric_defs[cm_metric_count].family = family;
	cm_metric_defs[cm_metric_count].labels = strdup(labels);
	cm_metric_defs[cm_metric_count].help = help;
	cm_metric_defs[cm_metric_count].type = type;
	if (cm_metric_defs[cm_metric_count].labels == NULL)
		return (-1);
	return (cm_metric_count++);
}

void
cm_metric_add(struct cm_worker *w, int slot, int64_t delta)
{
	int	 row;

	if (slot < 0 || cm_metric_slots == NULL)
		return;
	row = w != NULL ? cm_worker_id(w) : cm_metric_rows - 1;
	if (row >= cm_metric_rows)
		row = cm_metric_rows - 1;
	atomic_fetch_add_explicit(&cm_metric_slots[(size_t)row *
	    CM_MAX_METRICS + (size_t)slot], delta, memory_order_relaxed);
}

int64_t
cm_metric_sum(int slot)
{
	int64_t	 sum = 0;
	int	 r;

	if (slot < 0 || cm_metric_slots == NULL)
		return (0);
	for (r = 0; r < cm_metric_rows; r++)
		sum += atomic_load_explicit(&cm_metric_slots[(size_t)r *
		    CM_MAX_METRICS + (size_t)slot], memory_order_relaxed);
	return (sum);
}

void
cm_metrics_write(struct evbuffer *out)
{
	static const char *const type_names[] = { "counter", "gauge" };
	char	*done;
	int	 i, j;

	if ((done = calloc((size_t)cm_metric_count + 1, 1)) == NULL)
		return;
	/* Families are printed whole, in first-registration order. */
	for (i = 0; i < cm_metric_count; i++) {
		if (done[i])
			continue;
		evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n",
		    cm_metric_defs[i].family, cm_metric_defs[i].help,
		    cm_metric_defs[i].family,
		    type_names[cm_metric_defs[i].type]);
		for (j = i; j < cm_metric_count; j++) {
			if (done[j] || strcmp(cm_metric_defs[j].family,
			    cm_metric_defs[i].family) != 0)
				continue;
			done[j] = 1;
			if (cm_metric_defs[j].labels[0] != '\0')
				evbuffer_add_printf(out, "%s{%s} %lld\n",
				    cm_metric_defs[j].family,
				    cm_metric_defs[j].labels,
				    (long long)cm_metric_sum(j));
			else
				evbuffer_add_printf(out, "%s %lld\n",
				    cm_metric_defs[j].family,
				    (long long)cm_metric_sum(j));
		}
	}
	free(done);
}

void
cm_metric_set(int slot, int64_t value)
{
	if (slot < 0 || cm_metric_slots == NULL)
		return;
	atomic_store_explicit(&cm_metric_slots[(size_t)(cm_metric_rows - 1) *
	    CM_MAX_METRICS + (size_t)slot], value, memory_order_relaxed);
}
