/*
 * The daemon's main thread: start-up in the order bundle.md §2.2 asks
 * (signals before listeners, secrets before threads), then the control
 * port, signals and the config poll on one loop until drained.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "common/bounds.h"
#include "common/control.h"
#include "common/job.h"
#include "common/listen.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/runtime.h"
#include "common/secrets.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/watch.h"
#include "common/worker.h"

#define CM_RT_MAX_LISTENERS	(CM_MAX_LISTEN_ADDRS * CM_L_COUNT)

struct cm_rt_listener {
	const struct cm_service	*svc;		/* borrowed */
	int			 id;		/* CM_L_* */
	struct cm_addr		 addr;		/* port resolved */
};

/* All of this is touched by the main thread only. */
static struct {
	const struct cm_run_opts *opts;
	enum cm_rt_state	 state;
	struct event_base	*base;
	struct cm_snap		*snap;		/* current, a reference */
	uint64_t		 generation;
	char			 last_reload[CM_MAX_CFG_ERROR_BYTES];
	time_t			 started;
	struct cm_worker	**workers;
	int			 nworkers;
	struct cm_rt_listener	 lis[CM_RT_MAX_LISTENERS];
	size_t			 nlis;
	struct cm_watch		*watch;
	struct event		*drain_check;	/* owned, once draining */
	uint64_t		 drain_deadline_ms;
	int			 m_ready, m_generation, m_reload_ok, m_reload_err;
} cm_rt;

/*
 * Forced reloads other threads ask for (spec/supervise.md §5.5 step 4:
 * an approved egress-block was merged into routes.yaml).  Guarded by
 * the lock: the list and the event, which exists while the loop runs.
 */
struct cm_rt_reload_req {
	struct cm_worker	*w;
	cm_worker_fn		 done;
	void			*arg;
	struct cm_rt_reload_req	*next;
};
static pthread_mutex_t		 cm_rt_reload_lock = PTHREAD_MUTEX_INITIALIZER;
static struct cm_rt_reload_req	*cm_rt_reload_reqs;
static struct event		*cm_rt_reload_ev;

static void	cm_runtime_reload(const char *);

int
cm_runtime_reload_async(struct cm_worker *w, cm_worker_fn done, void *arg)
{
	struct cm_rt_reload_req	*r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		return (-1);
	r->w = w;
	r->done = done;
	r->arg = arg;
	pthread_mutex_lock(&cm_rt_reload_lock);
	if (cm_rt_reload_ev == NULL) {
		pthread_mutex_unlock(&cm_rt_reload_lock);
		free(r);
		return (-1);
	}
	r->next = cm_rt_reload_reqs;
	cm_rt_reload_reqs = r;
	event_active(cm_rt_reload_ev, EV_READ, 0);
	pthread_mutex_unlock(&cm_rt_reload_lock);
	return (0);
}

/* One reload for every request queued; then each asker hears back. */
static void
cm_runtime_reload_req_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cm_rt_reload_req	*r, *next;

	pthread_mutex_lock(&cm_rt_reload_lock);
	r = cm_rt_reload_reqs;
	cm_rt_reload_reqs = NULL;
	pthread_mutex_unlock(&cm_rt_reload_lock);
	if (r == NULL)
		return;
	if (cm_rt.state == CM_RT_READY) {
		if (cm_rt.watch != NULL)
			cm_watch_resync(cm_rt.watch);
		cm_runtime_reload("forced");
	}
	/* Posted after the publish, so the worker has the new snapshot. */
	for (; r != NULL; r = next) {
		next = r->next;
		(void)cm_worker_post(r->w, r->done, r->arg);
		free(r);
	}
}

enum cm_rt_state
cm_runtime_state(void)
{
	return (cm_rt.state);
}

int
cm_runtime_healthy(void)
{
	uint64_t	 now = cm_now_ms();
	int		 i;

	if (cm_rt.nworkers == 0)
		return (0);
	for (i = 0; i < cm_rt.nworkers; i++)
		if (now - cm_worker_last_tick(cm_rt.workers[i]) >
		    CM_HEALTH_STALE_MS)
			return (0);
	return (1);
}

json_t *
cm_runtime_status(void)
{
	static const char *const names[] = { "starting", "ready", "draining" };
	json_t	*o, *svcs, *lis;
	char	 buf[96];
	size_t	 i;

	o = json_object();
	svcs = json_object();
	lis = json_array();
	json_object_set_new(o, "status", json_string(names[cm_rt.state]));
	json_object_set_new(o, "version", json_string(PACKAGE_VERSION));
	json_object_set_new(o, "config_generation",
	    json_integer((json_int_t)cm_rt.generation));
	json_object_set_new(o, "last_reload", json_string(cm_rt.last_reload));
	for (i = 0; i < CM_SVC_COUNT; i++)
		if (cm_rt.opts != NULL && cm_rt.opts->svcs[i] != NULL)
			json_object_set_new(svcs, cm_rt.opts->svcs[i]->name,
			    json_string(cm_rt.state == CM_RT_READY ? "up" :
			    "down"));
	json_object_set_new(o, "services", svcs);
	for (i = 0; i < cm_rt.nlis; i++)
		json_array_append_new(lis, json_pack("{s:s,s:s}", "service",
		    cm_rt.lis[i].svc->name, "addr",
		    cm_addr_fmt(&cm_rt.lis[i].addr, buf, sizeof(buf))));
	json_object_set_new(o, "listeners", lis);
	json_object_set_new(o, "uptime_s",
	    json_integer((json_int_t)(time(NULL) - cm_rt.started)));
	return (o);
}

void
cm_runtime_metrics_init(void)
{
	char	 labels[160];

	(void)snprintf(labels, sizeof(labels),
	    "version=\"%s\",revision=\"%s\"", PACKAGE_VERSION, BB_REVISION);
	cm_metric_set(cm_metric_register("bb_sidecar_build_info", labels,
	    CM_METRIC_GAUGE, "Build of this binary."), 1);
	cm_rt.m_ready = cm_metric_register("bb_sidecar_ready", "",
	    CM_METRIC_GAUGE, "1 when config is loaded and listeners are up.");
	cm_rt.m_generation = cm_metric_register("bb_sidecar_config_generation",
	    "", CM_METRIC_GAUGE, "Generation of the config snapshot serving.");
	cm_rt.m_reload_ok = cm_metric_register(
	    "bb_sidecar_config_reloads_total", "result=\"ok\"",
	    CM_METRIC_COUNTER, "Config reloads by result.");
	cm_rt.m_reload_err = cm_metric_register(
	    "bb_sidecar_config_reloads_total", "result=\"error\"",
	    CM_METRIC_COUNTER, "Config reloads by result.");
}

void
cm_runtime_metrics_refresh(void)
{
	cm_metric_set(cm_rt.m_ready, cm_rt.state == CM_RT_READY);
	cm_metric_set(cm_rt.m_generation, (int64_t)cm_rt.generation);
}

static void
cm_runtime_raise_nofile(void)
{
	struct rlimit	 rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int
cm_runtime_state_dir(const char *dir, char *err, size_t errlen)
{
	struct stat	 sb;

	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		(void)snprintf(err, errlen, "state dir %s: %s", dir,
		    strerror(errno));
		return (-1);
	}
	if (stat(dir, &sb) == -1 || !S_ISDIR(sb.st_mode) ||
	    access(dir, W_OK | X_OK) == -1) {
		(void)snprintf(err, errlen, "state dir %s is not a writable "
		    "directory", dir);
		return (-1);
	}
	return (0);
}

/* Publishes a fresh snapshot to every worker; takes over snap's ref. */
static void
cm_runtime_publish(struct cm_snap *snap)
{
	int	 i;

	for (i = 0; i < cm_rt.nworkers; i++)
		(void)cm_worker_publish(cm_rt.workers[i], snap);
	cm_snap_unref(cm_rt.snap);
	cm_rt.snap = snap;
	cm_rt.generation = snap->generation;
}

static void
cm_runtime_reload(const char *trigger)
{
	struct cm_load_result	 res;
	struct cm_snap		*snap;
	const char		*restart;

	snap = cm_snap_load(cm_rt.opts->config_dir, cm_rt.opts->state_dir,
	    cm_rt.opts->svcs, &cm_rt.opts->ov, cm_rt.generation + 1, NULL,
	    &res);
	if (cm_rt.watch != NULL)
		cm_watch_loaded(cm_rt.watch);
	if (snap == NULL) {
		/* The old snapshot keeps serving (DESIGN.md "Runtime model"). */
		cm_strlcpy(cm_rt.last_reload, res.error,
		    sizeof(cm_rt.last_reload));
		cm_metric_add(NULL, cm_rt.m_reload_err, 1);
		cm_log(CM_LOG_ERROR, "sidecar", "reload", 0,
		    json_pack("{s:s,s:s,s:s,s:I,s:I,s:s,s:I}", "result",
		    "error", "trigger", trigger, "file", res.file, "line",
		    (json_int_t)res.line, "col", (json_int_t)res.col, "error",
		    res.error, "errors", (json_int_t)res.nerrors));
		return;
	}
	restart = cm_settings_restart_diff(cm_rt.snap->settings,
	    snap->settings);
	cm_log_set_level(snap->settings->log_level);
	cm_runtime_publish(snap);
	cm_strlcpy(cm_rt.last_reload, "ok", sizeof(cm_rt.last_reload));
	cm_metric_add(NULL, cm_rt.m_reload_ok, 1);
	cm_log(CM_LOG_INFO, "sidecar", "reload", 0,
	    json_pack("{s:s,s:s,s:I,s:s?}", "result", "ok", "trigger",
	    trigger, "generation", (json_int_t)cm_rt.generation,
	    "needs_restart", restart));
}

static void
cm_runtime_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	if (cm_rt.state == CM_RT_READY && cm_watch_poll(cm_rt.watch))
		cm_runtime_reload("poll");
}

static void
cm_runtime_drain_check_cb(evutil_socket_t fd, short what, void *arg)
{
	/* Workers leave their loops when idle or out of time. */
	if (cm_workers_running() == 0 ||
	    cm_now_ms() > cm_rt.drain_deadline_ms + 2000)
		event_base_loopexit(cm_rt.base, NULL);
}

static void
cm_runtime_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct timeval		 tv = { 0, 20 * 1000 };
	int			 i;

	if (sig == SIGHUP) {
		if (cm_rt.state == CM_RT_READY) {
			if (cm_rt.watch != NULL)
				cm_watch_resync(cm_rt.watch);
			cm_runtime_reload("sighup");
		}
		return;
	}
	if (cm_rt.state == CM_RT_DRAINING)
		return;
	cm_log(CM_LOG_INFO, "sidecar", "drain", 0, json_pack("{s:s,s:i}",
	    "signal", sig == SIGTERM ? "SIGTERM" : "SIGINT", "deadline_ms",
	    CM_DRAIN_MS));
	cm_rt.state = CM_RT_DRAINING;
	cm_rt.drain_deadline_ms = cm_now_ms() + CM_DRAIN_MS;
	for (i = 0; i < cm_rt.nworkers; i++)
		(void)cm_worker_drain(cm_rt.workers[i], cm_rt.drain_deadline_ms);
	cm_rt.drain_check = event_new(cm_rt.base, -1, EV_PERSIST,
	    cm_runtime_drain_check_cb, NULL);
	if (cm_rt.drain_check == NULL ||
	    event_add(cm_rt.drain_check, &tv) == -1)
		event_base_loopexit(cm_rt.base, NULL);
}

/* Probes every address of every running service; nothing stays open. */
static int
cm_runtime_plan_listeners(const struct cm_snap *snap, char *err,
    size_t errlen)
{
	const struct cm_service	*svc;
	size_t			 i, j, k;
	int			 rc;

	cm_rt.nlis = 0;
	for (i = 0; i < CM_SVC_COUNT; i++) {
		if ((svc = cm_rt.opts->svcs[i]) == NULL)
			continue;
		for (j = 0; j < 3 && svc->listeners[j] >= 0; j++) {
			const struct cm_listen *l =
			    &snap->settings->listen[svc->listeners[j]];

			for (k = 0; k < l->n; k++) {
				struct cm_rt_listener *rl =
				    &cm_rt.lis[cm_rt.nlis];

				rl->svc = svc;
				rl->id = svc->listeners[j];
				rl->addr = l->a[k];
				rc = cm_listen_probe(&rl->addr, err, errlen);
				if (rc == -1)
					return (-1);
				if (rc == 1) {
					cm_log(CM_LOG_WARN, "sidecar",
					    "ipv6_unavailable", 0,
					    json_pack("{s:s,s:s}", "service",
					    svc->name, "addr", l->a[k].host));
					continue;
				}
				cm_rt.nlis++;
			}
		}
	}
	return (0);
}

static int
cm_runtime_open_listeners(char *err, size_t errlen)
{
	size_t	 i;
	int	 w, fd;

	for (i = 0; i < cm_rt.nlis; i++) {
		for (w = 0; w < cm_rt.nworkers; w++) {
			fd = cm_listen_socket(&cm_rt.lis[i].addr, 1, err,
			    errlen);
			if (fd == -1 || cm_worker_listen(cm_rt.workers[w], fd,
			    cm_rt.lis[i].svc->accept, cm_rt.lis[i].id) == -1) {
				if (fd != -1)
					(void)snprintf(err, errlen,
					    "cannot listen");
				return (-1);
			}
		}
	}
	return (0);
}

static void
cm_runtime_log_ready(uint64_t t0)
{
	json_t	*svcs = json_array(), *lis = json_array();
	char	 buf[96];
	size_t	 i;

	for (i = 0; i < CM_SVC_COUNT; i++)
		if (cm_rt.opts->svcs[i] != NULL)
			json_array_append_new(svcs,
			    json_string(cm_rt.opts->svcs[i]->name));
	for (i = 0; i < cm_rt.nlis; i++)
		json_array_append_new(lis, json_pack("{s:s,s:s}", "service",
		    cm_rt.lis[i].svc->name, "addr",
		    cm_addr_fmt(&cm_rt.lis[i].addr, buf, sizeof(buf))));
	cm_log(CM_LOG_INFO, "sidecar", "ready", 0,
	    json_pack("{s:s,s:o,s:o,s:i,s:I,s:I}", "version", PACKAGE_VERSION,
	    "services", svcs, "listeners", lis, "workers", cm_rt.nworkers,
	    "generation", (json_int_t)cm_rt.generation, "startup_ms",
	    (json_int_t)(cm_now_ms() - t0)));
}

static int
cm_runtime_fail(const char *event, const char *why)
{
	cm_log(CM_LOG_ERROR, "sidecar", event, 0, json_pack("{s:s}", "error",
	    why));
	fprintf(stderr, "bb-sidecar: %s\n", why);
	return (1);
}

int
cm_runtime_run(const struct cm_run_opts *opts)
{
	struct cm_load_result	 res;
	struct cm_snap		*snap;
	struct event		*sig[3] = { NULL, NULL, NULL }, *poll = NULL;
	struct timeval		 ptv = { CM_CFG_POLL_MS / 1000,
				    (CM_CFG_POLL_MS % 1000) * 1000 };
	char			 err[512];
	uint64_t		 t0 = cm_now_ms();
	long			 ncpu;
	int			 i, rc = 1, nworkers;

	memset(&cm_rt, 0, sizeof(cm_rt));
	cm_rt.opts = opts;
	cm_rt.started = time(NULL);
	cm_strlcpy(cm_rt.last_reload, "ok", sizeof(cm_rt.last_reload));
	umask(077);
	(void)signal(SIGPIPE, SIG_IGN);
	/* Before any thread: copy and wipe the secrets in the environment. */
	(void)cm_secrets_capture_env();
	if (evthread_use_pthreads() == -1)
		return (cm_runtime_fail("start_failed", "libevent threads"));
	if ((cm_rt.base = event_base_new()) == NULL)
		return (cm_runtime_fail("start_failed", "event base"));
	pthread_mutex_lock(&cm_rt_reload_lock);
	cm_rt_reload_ev = event_new(cm_rt.base, -1, EV_PERSIST,
	    cm_runtime_reload_req_cb, NULL);
	if (cm_rt_reload_ev != NULL)
		(void)event_add(cm_rt_reload_ev, NULL);
	pthread_mutex_unlock(&cm_rt_reload_lock);
	/* PID 1 ignores SIGTERM without a handler: install them first. */
	sig[0] = evsignal_new(cm_rt.base, SIGTERM, cm_runtime_signal_cb, NULL);
	sig[1] = evsignal_new(cm_rt.base, SIGINT, cm_runtime_signal_cb, NULL);
	sig[2] = evsignal_new(cm_rt.base, SIGHUP, cm_runtime_signal_cb, NULL);
	for (i = 0; i < 3; i++)
		if (sig[i] == NULL || evsignal_add(sig[i], NULL) == -1)
			return (cm_runtime_fail("start_failed", "signals"));
	if (cm_runtime_state_dir(opts->state_dir, err, sizeof(err)) == -1) {
		rc = cm_runtime_fail("start_failed", err);
		goto out;
	}
	snap = cm_snap_load(opts->config_dir, opts->state_dir, opts->svcs,
	    &opts->ov, 1, stderr, &res);
	if (snap == NULL) {
		rc = cm_runtime_fail("config_error", res.error);
		goto out;
	}
	cm_secrets_harden();
	cm_log_set_level(snap->settings->log_level);
	cm_rt.snap = snap;
	cm_rt.generation = snap->generation;
	cm_runtime_raise_nofile();

	nworkers = (int)snap->settings->v[CM_S_WORKERS];
	if (nworkers == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		nworkers = ncpu > 0 ? (int)ncpu : 1;
		if (nworkers > CM_MAX_WORKERS)
			nworkers = CM_MAX_WORKERS;
	}
	if (cm_metrics_init(nworkers) == -1) {
		rc = cm_runtime_fail("start_failed", "out of memory");
		goto out;
	}
	cm_runtime_metrics_init();
	if (cm_runtime_plan_listeners(snap, err, sizeof(err)) == -1 ||
	    cm_control_start(cm_rt.base, &snap->settings->listen[CM_L_CONTROL],
	    err, sizeof(err)) == -1) {
		rc = cm_runtime_fail("start_failed", err);
		goto out;
	}
	for (i = 0; i < CM_SVC_COUNT; i++)
		if (opts->svcs[i] != NULL && opts->svcs[i]->start != NULL &&
		    opts->svcs[i]->start(snap, err, sizeof(err)) == -1) {
			rc = cm_runtime_fail("start_failed", err);
			goto out;
		}
	if ((cm_rt.workers = calloc((size_t)nworkers,
	    sizeof(*cm_rt.workers))) == NULL) {
		rc = cm_runtime_fail("start_failed", "out of memory");
		goto out;
	}
	for (i = 0; i < nworkers; i++) {
		if ((cm_rt.workers[i] = cm_worker_new(i, snap)) == NULL) {
			rc = cm_runtime_fail("start_failed", "worker");
			goto out;
		}
		cm_rt.nworkers = i + 1;
	}
	if (cm_runtime_open_listeners(err, sizeof(err)) == -1) {
		rc = cm_runtime_fail("start_failed", err);
		goto out;
	}
	if (cm_job_pool_start((int)snap->settings->v[CM_S_JOB_THREADS]) == -1) {
		rc = cm_runtime_fail("start_failed", "job threads");
		goto out;
	}
	for (i = 0; i < cm_rt.nworkers; i++)
		if (cm_worker_start(cm_rt.workers[i], opts->svcs) == -1) {
			rc = cm_runtime_fail("start_failed", "worker thread");
			goto out;
		}
	cm_rt.watch = cm_watch_new(opts->config_dir, opts->routes_path);
	poll = event_new(cm_rt.base, -1, EV_PERSIST, cm_runtime_poll_cb, NULL);
	if (cm_rt.watch == NULL || poll == NULL || event_add(poll, &ptv) == -1) {
		rc = cm_runtime_fail("start_failed", "config poll");
		goto out;
	}
	cm_rt.state = CM_RT_READY;
	cm_runtime_log_ready(t0);
	event_base_dispatch(cm_rt.base);
	rc = 0;
out:
	/* Workers that started are drained by now or are told to stop. */
	if (cm_rt.state != CM_RT_DRAINING)
		for (i = 0; i < cm_rt.nworkers; i++)
			(void)cm_worker_drain(cm_rt.workers[i], cm_now_ms());
	cm_rt.state = CM_RT_DRAINING;
	for (i = 0; i < cm_rt.nworkers; i++)
		cm_worker_join(cm_rt.workers[i]);
	cm_job_pool_stop();
	for (i = 0; i < CM_SVC_COUNT; i++)
		if (opts->svcs[i] != NULL && opts->svcs[i]->stop != NULL)
			opts->svcs[i]->stop();
	cm_control_stop();
	free(cm_rt.workers);
	cm_watch_free(cm_rt.watch);
	if (poll != NULL)
		event_free(poll);
	if (cm_rt.drain_check != NULL)
		event_free(cm_rt.drain_check);
	for (i = 0; i < 3; i++)
		if (sig[i] != NULL)
			event_free(sig[i]);
	pthread_mutex_lock(&cm_rt_reload_lock);
	if (cm_rt_reload_ev != NULL)
		event_free(cm_rt_reload_ev);
	cm_rt_reload_ev = NULL;
	while (cm_rt_reload_reqs != NULL) {
		struct cm_rt_reload_req *r = cm_rt_reload_reqs;

		cm_rt_reload_reqs = r->next;
		free(r);
	}
	pthread_mutex_unlock(&cm_rt_reload_lock);
	cm_snap_unref(cm_rt.snap);
	event_base_free(cm_rt.base);
	if (rc == 0)
		cm_log(CM_LOG_INFO, "sidecar", "stopped", 0, NULL);
	return (rc);
}
