/*
 * Counters and gauges for /metrics.  Each worker (and one global slot
 * set for other threads) adds to its own slots with relaxed atomics; a
 * scrape sums them, so the data path takes no lock.
 */
#ifndef CM_METRICS_H
#define CM_METRICS_H

#include <stdint.h>

struct cm_worker;
struct evbuffer;

enum cm_metric_type { CM_METRIC_COUNTER, CM_METRIC_GAUGE,
	CM_METRIC_HISTOGRAM };

#define CM_MAX_METRICS		2048

/*
 * Registers one series: family, its labels already formatted
 * ("service=\"egress\"" or ""), help text (family and help are kept
 * by pointer: static strings).  Returns the slot, or -1 when full.
 * Series of a family share help and type.  Usually at startup; also
 * safe later from any thread, for series labelled by a bounded config
 * value (gitgate's repo names), registered when first used.
 */
int	 cm_metric_register(const char *family, const char *labels,
	    enum cm_metric_type type, const char *help);
/*
 * Registers a histogram (startup only): one cumulative bucket per bound
 * (milliseconds, printed as le in seconds), +Inf, _sum and _count.
 * Returns the first slot for cm_metric_observe_ms(), or -1.
 */
int	 cm_metric_register_histogram(const char *family, const char *help,
	    const int64_t *bounds_ms, size_t nbounds);
/* Counts one observation of ms on w's slots (w NULL: global). */
void	 cm_metric_observe_ms(struct cm_worker *w, int slot, int64_t ms);
/* Adds delta on w's slots (w NULL: the global slots). */
void	 cm_metric_add(struct cm_worker *w, int slot, int64_t delta);
/* Sets the global row of slot (scrape-time gauges, main thread). */
void	 cm_metric_set(int slot, int64_t value);
/* Sum over every worker. */
int64_t	 cm_metric_sum(int slot);
/* Called by the runtime with the worker count before workers start. */
int	 cm_metrics_init(int nworkers);
/*
 * A function run on the control thread just before each scrape, to set
 * gauges that are read rather than counted (cache sizes).  Startup only.
 */
int	 cm_metrics_on_scrape(void (*fn)(void));
/* Prometheus text 0.0.4 of every registered series (hooks run first). */
void	 cm_metrics_write(struct evbuffer *out);

#endif /* CM_METRICS_H */
