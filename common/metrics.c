/*
 * Per-worker metric slots.  The registry is mostly written at startup;
 * plain series may also be added later (labelled by a config value such
 * as gitgate's repo) under a lock, each one published by the count once
 * its definition is complete.  Definitions never move or change after
 * that, and the slots are atomics.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "common/metrics.h"
#include "common/worker.h"

/* Parts of a histogram series (CM_METRIC_HISTOGRAM). */
enum cm_metric_part { CM_MP_PLAIN, CM_MP_BUCKET, CM_MP_SUM, CM_MP_COUNT };

struct cm_metric_def {
	const char		*family;
	const char		*labels;
	const char		*help;
	enum cm_metric_type	 type;
	enum cm_metric_part	 part;
	int64_t			 le_ms;		/* CM_MP_BUCKET; -1 = +Inf */
	int			 nparts;	/* first slot: its parts */
};

static struct cm_metric_def	 cm_metric_defs[CM_MAX_METRICS];
/* Defs below it are complete (release on register, acquire to read). */
static _Atomic int		 cm_metric_count;
static pthread_mutex_t		 cm_metric_lock = PTHREAD_MUTEX_INITIALIZER;
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
	struct cm_metric_def	*d;
	int			 i, n;

	pthread_mutex_lock(&cm_metric_lock);
	n = atomic_load_explicit(&cm_metric_count, memory_order_relaxed);
	/* A series registered twice (a reload, a second listener) is one. */
	for (i = 0; i < n; i++)
		if (strcmp(cm_metric_defs[i].family, family) == 0 &&
		    strcmp(cm_metric_defs[i].labels, labels) == 0) {
			pthread_mutex_unlock(&cm_metric_lock);
			return (i);
		}
	if (n == CM_MAX_METRICS) {
		pthread_mutex_unlock(&cm_metric_lock);
		return (-1);
	}
	d = &cm_metric_defs[n];
	d->family = family;
	d->labels = strdup(labels);
	d->help = help;
	d->type = type;
	if (d->labels == NULL) {
		pthread_mutex_unlock(&cm_metric_lock);
		return (-1);
	}
	atomic_store_explicit(&cm_metric_count, n + 1, memory_order_release);
	pthread_mutex_unlock(&cm_metric_lock);
	return (n);
}

/* Series published so far (the writer side holds no lock to read). */
static int
cm_metric_published(void)
{
	return (atomic_load_explicit(&cm_metric_count, memory_order_acquire));
}

int
cm_metric_register_histogram(const char *family, const char *help,
    const int64_t *bounds_ms, size_t nbounds)
{
	char	 labels[64];
	size_t	 i;
	int	 first = -1, slot;

	for (i = 0; i <= nbounds + 2; i++) {
		if (i < nbounds)
			(void)snprintf(labels, sizeof(labels),
			    "le=\"%lld.%03lld\"",
			    (long long)(bounds_ms[i] / 1000),
			    (long long)(bounds_ms[i] % 1000));
		else if (i == nbounds)
			(void)snprintf(labels, sizeof(labels), "le=\"+Inf\"");
		else
			(void)snprintf(labels, sizeof(labels), "%s",
			    i == nbounds + 1 ? "_sum" : "_count");
		if ((slot = cm_metric_register(family, labels,
		    CM_METRIC_HISTOGRAM, help)) == -1)
			return (-1);
		cm_metric_defs[slot].part = i < nbounds + 1 ? CM_MP_BUCKET :
		    i == nbounds + 1 ? CM_MP_SUM : CM_MP_COUNT;
		cm_metric_defs[slot].le_ms = i < nbounds ? bounds_ms[i] : -1;
		if (first == -1)
			first = slot;
	}
	cm_metric_defs[first].nparts = (int)nbounds + 3;
	return (first);
}

void
cm_metric_observe_ms(struct cm_worker *w, int slot, int64_t ms)
{
	int	 i, n;

	if (slot < 0 || slot >= cm_metric_published())
		return;
	n = cm_metric_defs[slot].nparts;
	for (i = slot; i < slot + n && i < cm_metric_published(); i++) {
		const struct cm_metric_def *d = &cm_metric_defs[i];

		if (d->part == CM_MP_BUCKET && (d->le_ms < 0 || ms <= d->le_ms))
			cm_metric_add(w, i, 1);
		else if (d->part == CM_MP_SUM)
			cm_metric_add(w, i, ms);
		else if (d->part == CM_MP_COUNT)
			cm_metric_add(w, i, 1);
	}
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

/* One histogram series: _bucket{le}, _sum (ms as seconds), _count. */
static void
cm_metrics_write_part(struct evbuffer *out, const struct cm_metric_def *d,
    int64_t v)
{
	if (d->part == CM_MP_BUCKET)
		evbuffer_add_printf(out, "%s_bucket{%s} %lld\n", d->family,
		    d->labels, (long long)v);
	else if (d->part == CM_MP_SUM)
		evbuffer_add_printf(out, "%s_sum %lld.%03lld\n", d->family,
		    (long long)(v / 1000), (long long)(v % 1000));
	else
		evbuffer_add_printf(out, "%s_count %lld\n", d->family,
		    (long long)v);
}

#define CM_MAX_SCRAPE_HOOKS	8
static void	(*cm_metric_hooks[CM_MAX_SCRAPE_HOOKS])(void);
static size_t	  cm_metric_nhooks;

int
cm_metrics_on_scrape(void (*fn)(void))
{
	if (cm_metric_nhooks == CM_MAX_SCRAPE_HOOKS)
		return (-1);
	cm_metric_hooks[cm_metric_nhooks++] = fn;
	return (0);
}

void
cm_metrics_write(struct evbuffer *out)
{
	static const char *const type_names[] = { "counter", "gauge",
	    "histogram" };
	char	*done;
	int	 i, j, count;

	for (i = 0; i < (int)cm_metric_nhooks; i++)
		cm_metric_hooks[i]();

	count = cm_metric_published();
	if ((done = calloc((size_t)count + 1, 1)) == NULL)
		return;
	/* Families are printed whole, in first-registration order. */
	for (i = 0; i < count; i++) {
		if (done[i])
			continue;
		evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n",
		    cm_metric_defs[i].family, cm_metric_defs[i].help,
		    cm_metric_defs[i].family,
		    type_names[cm_metric_defs[i].type]);
		for (j = i; j < count; j++) {
			if (done[j] || strcmp(cm_metric_defs[j].family,
			    cm_metric_defs[i].family) != 0)
				continue;
			done[j] = 1;
			if (cm_metric_defs[j].part != CM_MP_PLAIN) {
				cm_metrics_write_part(out, &cm_metric_defs[j],
				    cm_metric_sum(j));
				continue;
			}
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
