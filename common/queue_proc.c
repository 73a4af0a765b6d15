/*
 * The process's queue (cm_queue_start/stop: the first service that can
 * submit starts it, the last one stops it), the bottle slug, the hold
 * deadline rule of DESIGN "Holds", and the queue's metric series.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/queue_int.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/util.h"

/* The process's queue (cm_queue_start/stop); guarded by the mutex. */
static pthread_mutex_t	 cm_queue_glock = PTHREAD_MUTEX_INITIALIZER;
static struct cm_queue	*cm_queue_global;
static int		 cm_queue_users;

/* ---- metrics --------------------------------------------------------- */

static const char *const cm_queue_hist_help =
    "Seconds from a proposal's creation to its applied decision.";

void
cm_queue_metrics_init(struct cm_queue *q)
{
	static const int64_t bounds[] = { CM_QUEUE_DECISION_BUCKETS_MS };
	char	 labels[128];
	int	 k, s;

	for (k = 0; k < CM_QK_COUNT; k++) {
		(void)snprintf(labels, sizeof(labels), "kind=\"%s\"",
		    cm_qfile_kind_name(k));
		q->m_created[k] = cm_metric_register(
		    "bb_supervise_proposals_created_total", labels,
		    CM_METRIC_COUNTER, "Proposals written to the queue.");
		q->m_pending[k] = cm_metric_register("bb_supervise_pending",
		    labels, CM_METRIC_GAUGE, "Proposals pending, by kind.");
		for (s = 0; s < CM_QS_COUNT; s++) {
			(void)snprintf(labels, sizeof(labels),
			    "kind=\"%s\",status=\"%s\"", cm_qfile_kind_name(k),
			    cm_qfile_status_name(s));
			q->m_decided[k][s] = cm_metric_register(
			    "bb_supervise_proposals_decided_total", labels,
			    CM_METRIC_COUNTER,
			    "Proposals finished, by kind and status.");
		}
	}
	q->m_err_malformed = cm_metric_register(
	    "bb_supervise_queue_errors_total", "reason=\"malformed\"",
	    CM_METRIC_COUNTER, "Queue files refused or failed operations.");
	q->m_err_io = cm_metric_register("bb_supervise_queue_errors_total",
	    "reason=\"io\"", CM_METRIC_COUNTER,
	    "Queue files refused or failed operations.");
	q->m_waiters = cm_metric_register("bb_supervise_waiters", "",
	    CM_METRIC_GAUGE, "Calls and holds waiting for a decision.");
	q->m_decision_s = cm_metric_register_histogram(
	    "bb_supervise_decision_seconds", cm_queue_hist_help, bounds,
	    sizeof(bounds) / sizeof(bounds[0]));
}

/* Pending gauges from the index (queue thread). */
void
cm_queue_gauges(struct cm_queue *q)
{
	int	 k;

	for (k = 0; k < CM_QK_COUNT; k++)
		cm_metric_set(q->m_pending[k],
		    (int64_t)cm_qscan_count(q, (enum cm_qkind)k, 0));
}


/* ---- the process's queue ----------------------------------------------- */

static const char *
cm_queue_slug(const struct cm_settings *s)
{
	static const char *const envs[] = { "BOT_BOTTLE_SLUG",
	    "SUPERVISE_BOTTLE_SLUG" };
	const char	*v;
	size_t		 i;

	for (i = 0; i < sizeof(envs) / sizeof(envs[0]); i++) {
		if ((v = getenv(envs[i])) == NULL || v[0] == '\0')
			continue;
		if (cm_qfile_slug_valid(v))
			return (v);
		cm_log(CM_LOG_WARN, "supervise", "bad_bottle_slug", 0,
		    json_pack("{s:s,s:o}", "env", envs[i], "value",
		    cm_log_peer(v, strlen(v))));
	}
	if (s != NULL && s->bottle != NULL)
		return (s->bottle);
	return ("local");
}

int
cm_queue_start(const struct cm_snap *snap, const char *state_dir, char *err,
    size_t errlen)
{
	struct cm_queue_config	 cfg;
	const struct cm_settings *s = snap->settings;

	pthread_mutex_lock(&cm_queue_glock);
	if (cm_queue_users++ > 0) {
		pthread_mutex_unlock(&cm_queue_glock);
		return (0);
	}
	memset(&cfg, 0, sizeof(cfg));
	cfg.state_dir = state_dir;
	cfg.bottle = cm_queue_slug(s);
	cfg.poll_ms = (int)s->v[CM_S_SV_POLL_MS];
	cfg.inotify = (int)s->v[CM_S_SV_INOTIFY];
	cfg.max_pending = (int)s->v[CM_S_SV_MAX_PENDING];
	cfg.max_pending_holds = (int)s->v[CM_S_SV_MAX_PENDING_HOLDS];
	cfg.secrets = snap->secrets;
	cm_queue_global = cm_queue_new(&cfg, err, errlen);
	if (cm_queue_global == NULL)
		cm_queue_users = 0;
	else
		cm_log(CM_LOG_INFO, "supervise", "queue_started", 0,
		    json_pack("{s:s,s:s,s:i,s:b}", "path",
		    cm_queue_global->dirs.root_path, "bottle",
		    cm_queue_global->bottle, "poll_ms", cfg.poll_ms,
		    "inotify", cm_queue_global->inotify_fd != -1));
	pthread_mutex_unlock(&cm_queue_glock);
	return (cm_queue_global == NULL ? -1 : 0);
}

void
cm_queue_stop(void)
{
	struct cm_queue	*q = NULL;

	pthread_mutex_lock(&cm_queue_glock);
	if (cm_queue_users > 0 && --cm_queue_users == 0) {
		q = cm_queue_global;
		cm_queue_global = NULL;
	}
	pthread_mutex_unlock(&cm_queue_glock);
	cm_queue_free(q);
}

struct cm_queue *
cm_queue_get(void)
{
	struct cm_queue	*q;

	pthread_mutex_lock(&cm_queue_glock);
	q = cm_queue_global;
	pthread_mutex_unlock(&cm_queue_glock);
	return (q);
}

int
cm_queue_hold_timeout_s(const char *envname)
{
	static pthread_mutex_t	 lock = PTHREAD_MUTEX_INITIALIZER;
	static char		 logged[4][64];
	const char		*v = getenv(envname);
	char			*end;
	long			 n;
	int			 value = CM_DEF_HOLD_TIMEOUT_S;
	size_t			 i;

	if (v != NULL && v[0] != '\0') {
		errno = 0;
		n = strtol(v, &end, 10);
		if (errno == 0 && *end == '\0' && n > 0)
			value = n > CM_MAX_HOLD_TIMEOUT_S ?
			    CM_MAX_HOLD_TIMEOUT_S : (int)n;
		else if (errno == ERANGE && n > 0)
			value = CM_MAX_HOLD_TIMEOUT_S;
	}
	pthread_mutex_lock(&lock);
	for (i = 0; i < 4 && logged[i][0] != '\0'; i++)
		if (strcmp(logged[i], envname) == 0)
			break;
	if (i < 4 && logged[i][0] == '\0') {
		cm_strlcpy(logged[i], envname, sizeof(logged[i]));
		cm_log(CM_LOG_INFO, "sidecar", "hold_timeout", 0,
		    json_pack("{s:s,s:i}", "env", envname, "seconds", value));
	}
	pthread_mutex_unlock(&lock);
	return (value);
}
