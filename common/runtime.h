/*
 * The daemon: start-up order, listeners, workers, reload, drain.  Runs
 * on the main thread, which is also the control thread (port 9101,
 * signals, the config poll), so no worker can starve a probe.
 */
#ifndef CM_RUNTIME_H
#define CM_RUNTIME_H

#include <jansson.h>

#include "common/service.h"
#include "common/snapshot.h"
#include "common/worker.h"

struct cm_run_opts {
	const char		*config_dir;
	const char		*state_dir;
	const char		*routes_path;	/* EGRESS_ROUTES, or NULL */
	const struct cm_service	*svcs[CM_SVC_COUNT];	/* NULL = not run */
	struct cm_overrides	 ov;
};

/* Runs until SIGTERM/SIGINT; returns the exit code (bundle.md §2.2). */
int		 cm_runtime_run(const struct cm_run_opts *opts);

/*
 * Any thread: reload every config file now (as SIGHUP does), then run
 * done(w, arg) on worker w, which by then serves the new snapshot (or
 * the old one if the reload failed).  0, or -1 when the daemon's loop
 * is not running (done is not called).
 */
int		 cm_runtime_reload_async(struct cm_worker *w, cm_worker_fn done,
		    void *arg);

/* ---- for the control port (main thread only) ---- */
enum cm_rt_state { CM_RT_STARTING, CM_RT_READY, CM_RT_DRAINING };
enum cm_rt_state cm_runtime_state(void);
/* 1 when every worker loop ticked within CM_HEALTH_STALE_MS. */
int		 cm_runtime_healthy(void);
/* The health JSON of bundle.md §3 (new reference). */
json_t		*cm_runtime_status(void);
/* Registers the runtime's own metric series (startup). */
void		 cm_runtime_metrics_init(void);
/* Refreshes gauges computed at scrape time. */
void		 cm_runtime_metrics_refresh(void);

#endif /* CM_RUNTIME_H */
