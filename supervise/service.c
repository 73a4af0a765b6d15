/*
 * The supervise service table: its part of a snapshot (the supervise:
 * keys of sidecar.yaml; it has no file of its own), start and stop of
 * the queue and the session table, per-worker state and the drain.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/bounds.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/queue.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/worker.h"
#include "supervise/service.h"
#include "supervise/sv.h"

static const char *const sv_rev_names[SV_REV_COUNT] = {
	[SV_REV_2024_11_05] = "2024-11-05",
	[SV_REV_2025_03_26] = "2025-03-26",
	[SV_REV_2025_06_18] = "2025-06-18",
	[SV_REV_2025_11_25] = "2025-11-25",
};

static const char *const sv_default_origins[] = {
	"http://localhost", "http://127.0.0.1", "http://[::1]",
};

static const char *const sv_tools[] = {
	"list-egress-routes", "egress-block", "capability-block",
	"check-proposal",
};
#define SV_NTOOLS	(sizeof(sv_tools) / sizeof(sv_tools[0]))

static const char *const sv_outcomes[] = {
	"approved", "modified", "rejected", "pending", "listed", "status",
	"invalid", "limited", "error", "cancelled", "disconnected",
};
#define SV_NOUTCOMES	(sizeof(sv_outcomes) / sizeof(sv_outcomes[0]))

static int	 sv_m_tool[SV_NTOOLS][SV_NOUTCOMES];
static int	 sv_m_sessions = -1;
/* SUPERVISE_WAIT_SECONDS, read once at the first load; -1 = unset. */
static int	 sv_env_wait_s = -2;

const char *
sv_rev_name(enum sv_rev rev)
{
	return (rev < SV_REV_COUNT ? sv_rev_names[rev] : "unknown");
}

int
sv_rev_parse(const char *s, enum sv_rev *rev)
{
	int	 i;

	for (i = 0; i < SV_REV_COUNT; i++)
		if (strcmp(s, sv_rev_names[i]) == 0) {
			*rev = (enum sv_rev)i;
			return (0);
		}
	return (-1);
}

const struct sv_cfg *
sv_cfg_of(const struct cm_snap *snap)
{
	return (snap != NULL ? snap->svc[CM_SVC_SUPERVISE] : NULL);
}

struct sv_worker *
sv_worker_of(struct cm_worker *w)
{
	return (cm_worker_svc(w, CM_SVC_SUPERVISE));
}

void
sv_metric_tool(struct cm_worker *w, const char *tool, const char *outcome)
{
	size_t	 t, o;

	for (t = 0; t < SV_NTOOLS; t++)
		if (strcmp(tool, sv_tools[t]) == 0)
			break;
	for (o = 0; o < SV_NOUTCOMES; o++)
		if (strcmp(outcome, sv_outcomes[o]) == 0)
			break;
	if (t < SV_NTOOLS && o < SV_NOUTCOMES)
		cm_metric_add(w, sv_m_tool[t][o], 1);
}

void
sv_metric_sessions(int64_t n)
{
	cm_metric_set(sv_m_sessions, n);
}

static void
sv_metrics_init(void)
{
	char	 labels[128];
	size_t	 t, o;

	for (t = 0; t < SV_NTOOLS; t++)
		for (o = 0; o < SV_NOUTCOMES; o++) {
			(void)snprintf(labels, sizeof(labels),
			    "tool=\"%s\",outcome=\"%s\"", sv_tools[t],
			    sv_outcomes[o]);
			sv_m_tool[t][o] = cm_metric_register(
			    "bb_supervise_tool_calls_total", labels,
			    CM_METRIC_COUNTER, "MCP tool calls by outcome.");
		}
	sv_m_sessions = cm_metric_register("bb_supervise_open_session_count",
	    "", CM_METRIC_GAUGE, "Open MCP sessions.");
}

/*
 * §2: an out-of-range value is clamped, a non-numeric one falls back to
 * the key; both warn.  Read once: a running sidecar keeps its env.
 */
static int
sv_env_wait(void)
{
	const char	*v;
	char		*end;
	long		 n;

	if (sv_env_wait_s != -2)
		return (sv_env_wait_s);
	sv_env_wait_s = -1;
	if ((v = getenv("SUPERVISE_WAIT_SECONDS")) == NULL || v[0] == '\0')
		return (-1);
	errno = 0;
	n = strtol(v, &end, 10);
	if (errno != 0 || *end != '\0') {
		cm_log(CM_LOG_WARN, "supervise", "bad_env", 0,
		    json_pack("{s:s,s:s}", "env", "SUPERVISE_WAIT_SECONDS",
		    "reason", "not a number; using supervise.wait_s"));
		return (-1);
	}
	if (n < 1 || n > 600) {
		sv_env_wait_s = n < 1 ? 1 : 600;
		cm_log(CM_LOG_WARN, "supervise", "bad_env", 0,
		    json_pack("{s:s,s:s,s:i}", "env", "SUPERVISE_WAIT_SECONDS",
		    "reason", "out of range 1..600; clamped", "value",
		    sv_env_wait_s));
		return (sv_env_wait_s);
	}
	sv_env_wait_s = (int)n;
	return (sv_env_wait_s);
}

static void
sv_cfg_free(void *arg)
{
	struct sv_cfg	*cfg = arg;
	size_t		 i;

	if (cfg == NULL)
		return;
	for (i = 0; i < cfg->norigins; i++)
		free(cfg->origins[i]);
	free(cfg->origins);
	free(cfg->state_dir);
	free(cfg->config_dir);
	free(cfg);
}

static void *
sv_load(const struct cm_load_env *env)
{
	const struct cm_settings *s = env->settings;
	struct sv_cfg		*cfg;
	const char *const	*src;
	size_t			 i, n;
	int			 ew;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return (NULL);
	cfg->state_dir = strdup(env->state_dir);
	cfg->config_dir = strdup(env->config_dir);
	ew = sv_env_wait();
	cfg->wait_s = ew > 0 ? ew : (int)s->v[CM_S_SV_WAIT_S];
	cfg->progress_s = (int)s->v[CM_S_SV_PROGRESS_S];
	cfg->max_body = (size_t)s->v[CM_S_SV_MAX_BODY_BYTES];
	cfg->session_limit = (int)s->v[CM_S_SV_SESSION_LIMIT];
	cfg->session_idle_s = (int)s->v[CM_S_SV_SESSION_IDLE_S];
	cfg->request_head_s = (int)s->v[CM_S_SV_REQUEST_HEAD_S];
	cfg->client_idle_s = (int)s->v[CM_S_SV_CLIENT_IDLE_S];
	cfg->lim.request_line_bytes = (size_t)s->v[CM_S_SV_REQUEST_LINE_BYTES];
	cfg->lim.header_bytes = (size_t)s->v[CM_S_SV_HEADER_BYTES];
	cfg->lim.header_count = (size_t)s->v[CM_S_SV_HEADER_COUNT];
	if (s->allowed_origins_set) {
		src = (const char *const *)s->allowed_origins;
		n = s->nallowed_origins;
	} else {
		src = sv_default_origins;
		n = sizeof(sv_default_origins) / sizeof(sv_default_origins[0]);
	}
	if ((cfg->origins = calloc(n + 1, sizeof(*cfg->origins))) == NULL ||
	    cfg->state_dir == NULL || cfg->config_dir == NULL) {
		sv_cfg_free(cfg);
		return (NULL);
	}
	for (i = 0; i < n; i++) {
		if ((cfg->origins[i] = strdup(src[i])) == NULL) {
			sv_cfg_free(cfg);
			return (NULL);
		}
		cfg->norigins++;
	}
	return (cfg);
}

static int
sv_default_on(const char *config_dir)
{
	return (1);	/* DESIGN "Layout": supervise always runs */
}

static int
sv_start(const struct cm_snap *snap, char *err, size_t errlen)
{
	const struct sv_cfg	*cfg = sv_cfg_of(snap);

	sv_metrics_init();
	if (sv_session_init() == -1) {
		(void)snprintf(err, errlen, "supervise: out of memory");
		return (-1);
	}
	if (cm_queue_start(snap, cfg->state_dir, err, errlen) == -1)
		return (-1);
	cm_log(CM_LOG_INFO, "supervise", "config", 0,
	    json_pack("{s:i,s:i,s:I,s:i}", "wait_s", cfg->wait_s, "progress_s",
	    cfg->progress_s, "max_body_bytes", (json_int_t)cfg->max_body,
	    "session_limit", cfg->session_limit));
	return (0);
}

static void
sv_stop(void)
{
	sv_session_shutdown();
	cm_queue_stop();
}

static int
sv_worker_start(struct cm_worker *w)
{
	struct sv_worker	*sw;

	if ((sw = calloc(1, sizeof(*sw))) == NULL)
		return (-1);
	sw->w = w;
	TAILQ_INIT(&sw->conns);
	TAILQ_INIT(&sw->calls);
	cm_worker_set_svc(w, CM_SVC_SUPERVISE, sw);
	return (0);
}

static void
sv_worker_kill(struct cm_worker *w)
{
	struct sv_worker	*sw = sv_worker_of(w);
	struct sv_conn		*c, *next;

	if (sw == NULL)
		return;
	for (c = TAILQ_FIRST(&sw->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		sv_conn_close(c, "shutdown");
	}
}

static void
sv_worker_free(struct cm_worker *w)
{
	struct sv_worker	*sw = sv_worker_of(w);

	if (sw == NULL)
		return;
	sv_worker_kill(w);
	/* The reap events ran in the worker's last loop turn, or now. */
	cm_worker_set_svc(w, CM_SVC_SUPERVISE, NULL);
	free(sw);
}

static void
sv_worker_drain(struct cm_worker *w)
{
	struct sv_worker	*sw = sv_worker_of(w);
	struct sv_conn		*c, *next;

	sw->draining = 1;
	/* Holds are refused now; agent calls answer pending (§3.5). */
	cm_queue_shutdown(cm_queue_get());
	sv_call_drain(sw);
	for (c = TAILQ_FIRST(&sw->conns); c != NULL; c = next) {
		next = TAILQ_NEXT(c, link);
		if (c->state == SV_CONN_IDLE)
			sv_conn_close(c, "draining");
		else
			c->keep_alive = 0;
	}
}

static size_t
sv_worker_busy(struct cm_worker *w)
{
	struct sv_worker	*sw = sv_worker_of(w);
	struct sv_conn		*c;
	size_t			 n = 0;

	if (sw == NULL)
		return (0);
	TAILQ_FOREACH(c, &sw->conns, link)
		if (c->state != SV_CONN_IDLE && !c->dead)
			n++;
	return (n);
}

static void
sv_worker_reload(struct cm_worker *w, const struct cm_snap *old,
    const struct cm_snap *cur)
{
	struct cm_queue	*q;

	/* The queue keys apply to new calls; one worker tells the queue. */
	if (cm_worker_id(w) == 0 && (q = cm_queue_get()) != NULL)
		cm_queue_configure(q, cur->settings);
}

const struct cm_service sv_service = {
	.name = "supervise",
	.id = CM_SVC_SUPERVISE,
	.default_on = sv_default_on,
	.listeners = { CM_L_SUPERVISE, -1, -1 },
	.accept = sv_conn_accept,
	.load = sv_load,
	.cfg_free = sv_cfg_free,
	.start = sv_start,
	.worker_start = sv_worker_start,
	.worker_free = sv_worker_free,
	.worker_drain = sv_worker_drain,
	.worker_busy = sv_worker_busy,
	.worker_kill = sv_worker_kill,
	.worker_reload = sv_worker_reload,
	.stop = sv_stop,
};
