/*
 * The egress service: its config (routes.yaml, ca.pem, the upstream
 * trust), its process-wide state (leaf key, cert cache, bump context),
 * and its per-worker state (connections, resolver, pool).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/ssl.h>

#include "common/bounds.h"
#include "common/ca.h"
#include "common/certcache.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/routes.h"
#include "common/secrets.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "common/yaml.h"
#include "common/queue.h"
#include "common/scan.h"
#include "egress/conn.h"
#include "egress/dlp.h"
#include "egress/hold.h"
#include "egress/egress.h"
#include "egress/emetrics.h"
#include "egress/service.h"
#include "egress/upstream.h"

static struct eg_global	 eg_global_state;
const struct eg_global	*eg_g = &eg_global_state;

const struct eg_cfg *
eg_cfg_of(const struct cm_snap *snap)
{
	return (snap != NULL ? snap->svc[CM_SVC_EGRESS] : NULL);
}

struct eg_worker *
eg_worker_of(struct cm_worker *w)
{
	return (cm_worker_svc(w, CM_SVC_EGRESS));
}

static int
eg_default_on(const char *config_dir)
{
	char		 path[PATH_MAX];
	struct stat	 sb;

	if (getenv("EGRESS_ROUTES") != NULL)
		return (1);
	(void)snprintf(path, sizeof(path), "%s/routes.yaml", config_dir);
	return (stat(path, &sb) == 0);
}

static void
eg_cfg_free(void *arg)
{
	struct eg_cfg	*cfg = arg;

	if (cfg == NULL)
		return;
	cm_routes_free(cfg->routes);
	cm_ca_unref(cfg->ca);
	cm_scanset_unref(cfg->scan);
	free(cfg->state_dir);
	if (cfg->up_ctx != NULL)
		SSL_CTX_free(cfg->up_ctx);
	free(cfg->routes_path);
	free(cfg);
}

static void *
eg_load(const struct cm_load_env *env)
{
	struct cm_cfg_ctx	*rx = env->ctx(env->arg, "routes.yaml");
	struct cm_cfg_ctx	*cx = env->ctx(env->arg, "ca.pem");
	struct cm_cfg_ctx	*sx = env->ctx(env->arg, "sidecar.yaml");
	struct eg_cfg		*cfg;
	const char		*why, *env_routes = getenv("EGRESS_ROUTES");
	char			 path[PATH_MAX], err[512];
	size_t			 i;
	int			 rc;

	if ((cfg = calloc(1, sizeof(*cfg))) == NULL)
		return (NULL);
	cfg->loaded_at = time(NULL);
	/* DESIGN "Holds": the one rule, in the queue module. */
	cfg->hold_timeout_s = cm_queue_hold_timeout_s(
	    "EGRESS_TOKEN_ALLOW_TIMEOUT_SECONDS");
	if ((cfg->state_dir = strdup(env->state_dir)) == NULL) {
		free(cfg);
		return (NULL);
	}
	/* routes.yaml: EGRESS_ROUTES is used as given (§5). */
	if (env_routes != NULL && env_routes[0] != '\0') {
		cm_strlcpy(path, env_routes, sizeof(path));
		rc = 0;
	} else
		rc = cm_snap_config_path(env->config_dir, "routes.yaml", path,
		    sizeof(path), &why);
	if (rc == 1)
		cm_cfg_error(rx, NULL, NULL, "missing: egress needs routes.yaml "
		    "in %s (or EGRESS_ROUTES)", env->config_dir);
	else if (rc == -1)
		cm_cfg_error(rx, NULL, NULL, "%s", why);
	else if ((cfg->routes = cm_routes_load(rx, path)) != NULL) {
		cfg->routes_path = strdup(path);
		/* Every variable a route names is a known secret (DESIGN). */
		for (i = 0; i < cm_routes_count(cfg->routes); i++) {
			const char *te = cm_route_token_env(
			    cm_routes_at(cfg->routes, i));

			if (te != NULL)
				(void)cm_secrets_capture_name(te);
		}
	}
	/* ca.pem: required when egress runs; never created here. */
	rc = cm_snap_config_path(env->config_dir, "ca.pem", path, sizeof(path),
	    &why);
	if (rc == 1)
		cm_cfg_error(cx, NULL, NULL, "missing: egress needs the bottle CA "
		    "(bb-sidecar ca init %s)", env->config_dir);
	else if (rc == -1)
		cm_cfg_error(cx, NULL, NULL, "%s", why);
	else if (cm_ca_load(path, &cfg->ca, err, sizeof(err)) == -1)
		cm_cfg_error(cx, NULL, NULL, "%s", err);
	/* The origin trust: system store plus upstream_ca_file. */
	if (env->settings->upstream_ca_file != NULL) {
		rc = cm_snap_config_path(env->config_dir,
		    env->settings->upstream_ca_file, path, sizeof(path), &why);
		if (rc != 0)
			cm_cfg_error(sx, NULL, "egress.upstream_ca_file", "%s",
			    rc == 1 ? "no such file" : why);
	}
	if (env->settings->upstream_ca_file == NULL || rc == 0) {
		cfg->up_ctx = eg_upstream_ctx_new(
		    env->settings->upstream_ca_file != NULL ? path : NULL, err,
		    sizeof(err));
		if (cfg->up_ctx == NULL)
			cm_cfg_error(sx, NULL, "egress.upstream_ca_file", "%s",
			    err);
	}
	if (cfg->routes == NULL || cfg->ca == NULL || cfg->up_ctx == NULL) {
		eg_cfg_free(cfg);
		return (NULL);
	}
	return (cfg);
}

/* The scan set needs the known secrets, built after every loader. */
static int
eg_load_finish(struct cm_snap *snap, const struct cm_load_env *env)
{
	struct eg_cfg	*cfg = snap->svc[CM_SVC_EGRESS];
	char		 err[256];

	if (eg_dlp_compile(cfg, snap, err, sizeof(err)) == -1) {
		cm_cfg_error(env->ctx(env->arg, "routes.yaml"), NULL, NULL, "%s",
		    err);
		return (-1);
	}
	return (0);
}

static const char *const eg_log_names[] = { "off", "blocks", "full" };

static void
eg_boot_log(const struct cm_snap *snap)
{
	const struct eg_cfg	*cfg = eg_cfg_of(snap);
	const struct cm_settings *s = snap->settings;
	json_t			*warn = json_array(), *lis = json_array();
	char			 msg[1024], buf[96];
	size_t			 i, n = cm_routes_count(cfg->routes), o;

	o = (size_t)snprintf(msg, sizeof(msg), "egress: loaded %zu route(s): ",
	    n);
	for (i = 0; i < n && o < sizeof(msg); i++) {
		const struct cm_route *rt = cm_routes_at(cfg->routes, i);
		const char *te = cm_route_token_env(rt);

		o += (size_t)snprintf(msg + o, sizeof(msg) - o, "%s%s",
		    i > 0 ? ", " : "", cm_route_host(rt));
		if (te != NULL && cm_secrets_find(snap->secrets, te) == NULL) {
			char w[256];

			(void)snprintf(w, sizeof(w), "route %s: credential %s "
			    "is not configured (503 token_unavailable)",
			    cm_route_host(rt), te);
			json_array_append_new(warn, json_string(w));
		}
	}
	if (o < sizeof(msg))
		(void)snprintf(msg + o, sizeof(msg) - o, " [log=%s]",
		    eg_log_names[cm_routes_log(cfg->routes)]);
	for (i = 0; i < s->nresolve; i++) {
		char w[320];
		size_t j;

		for (j = 0; j < i; j++)
			if (strcmp(s->resolve[j].host, s->resolve[i].host) == 0)
				break;
		if (j < i)
			continue;	/* host:443 and host:80: one warning */
		(void)snprintf(w, sizeof(w), "egress.resolve overrides %s: its "
		    "addresses skip the private-address guard",
		    s->resolve[i].host);
		json_array_append_new(warn, json_string(w));
	}
	/* Known secrets: too short to match, or tokens no route uses. */
	for (i = 0; i < cm_secrets_count(snap->secrets); i++) {
		const struct cm_secret *sec = cm_secrets_get(snap->secrets, i);
		char	 w[320];
		size_t	 j;

		if (sec->len < CM_SECRET_MIN_BYTES) {
			(void)snprintf(w, sizeof(w), "known secret %s is shorter "
			    "than %d bytes: the scanners skip it", sec->name,
			    CM_SECRET_MIN_BYTES);
			json_array_append_new(warn, json_string(w));
		}
		if (strncmp(sec->name, "EGRESS_TOKEN_", 13) != 0)
			continue;
		for (j = 0; j < n; j++) {
			const char *te = cm_route_token_env(
			    cm_routes_at(cfg->routes, j));

			if (te != NULL && strcmp(te, sec->name) == 0)
				break;
		}
		if (j == n) {
			(void)snprintf(w, sizeof(w), "%s is not used by any route "
			    "(wiped from the environment all the same)",
			    sec->name);
			json_array_append_new(warn, json_string(w));
		}
	}
	if (cm_ca_readable_by_others(cfg->ca))
		json_array_append_new(warn, json_string("ca.pem is readable by "
		    "group or others"));
	for (i = 0; i < s->listen[CM_L_EGRESS].n; i++)
		json_array_append_new(lis, json_string(cm_addr_fmt(
		    &s->listen[CM_L_EGRESS].a[i], buf, sizeof(buf))));
	cm_log(CM_LOG_INFO, "egress", "boot", 0, json_pack("{s:s,s:o,s:s,s:i,"
	    "s:o}", "msg", msg, "listen", lis, "ca_sha256",
	    cm_ca_fingerprint(cfg->ca), "hold_timeout_s", cfg->hold_timeout_s,
	    "warnings", warn));
}

static int
eg_start(const struct cm_snap *snap, char *err, size_t errlen)
{
	eg_metrics_init();
	eg_upstream_metrics_init();
	eg_hold_metrics_init();
	/* Holds go through the one queue (spec/supervise.md §5.6). */
	if (cm_queue_start(snap, eg_cfg_of(snap)->state_dir, err, errlen) == -1)
		return (-1);
	eg_global_state.leaf_key = cm_ca_leaf_key_new(err, errlen);
	if (eg_global_state.leaf_key == NULL)
		return (-1);
	eg_global_state.certs = cm_certcache_new((size_t)snap->settings->
	    v[CM_S_EG_CERT_CACHE_ENTRIES]);
	if (eg_global_state.certs == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	if ((eg_global_state.agent_ctx = eg_bump_ctx_new(err, errlen)) == NULL)
		return (-1);
	cm_metric_set(eg_m.routes,
	    (int64_t)cm_routes_count(eg_cfg_of(snap)->routes));
	cm_metric_set(eg_m.generation, (int64_t)snap->generation);
	eg_boot_log(snap);
	return (0);
}

static void
eg_stop(void)
{
	cm_queue_stop();
	if (eg_global_state.agent_ctx != NULL)
		SSL_CTX_free(eg_global_state.agent_ctx);
	cm_certcache_free(eg_global_state.certs);
	EVP_PKEY_free(eg_global_state.leaf_key);
	memset(&eg_global_state, 0, sizeof(eg_global_state));
}

static int
eg_worker_start(struct cm_worker *w)
{
	struct eg_worker	*ew;

	if ((ew = calloc(1, sizeof(*ew))) == NULL)
		return (-1);
	ew->w = w;
	TAILQ_INIT(&ew->conns);
	if ((ew->scanner = cm_scanner_new()) == NULL) {
		free(ew);
		return (-1);
	}
	if (eg_upstream_worker_init(ew, cm_worker_snap(w)->settings) == -1) {
		free(ew);
		return (-1);
	}
	cm_worker_set_svc(w, CM_SVC_EGRESS, ew);
	return (0);
}

static void
eg_worker_free(struct cm_worker *w)
{
	struct eg_worker	*ew = eg_worker_of(w);

	if (ew == NULL)
		return;
	/* The loop has stopped: free the connections here and now. */
	eg_conn_free_all(ew);
	eg_upstream_worker_free(ew);
	cm_scanner_free(ew->scanner);
	cm_worker_set_svc(w, CM_SVC_EGRESS, NULL);
	free(ew);
}

static void
eg_worker_drain(struct cm_worker *w)
{
	struct eg_worker	*ew = eg_worker_of(w);

	/* Held requests are refused at once (§2.1): the queue stops. */
	cm_queue_shutdown(cm_queue_get());
	eg_pool_close_all(ew);
	eg_conn_drain_worker(ew);
}

static size_t
eg_worker_busy(struct cm_worker *w)
{
	return (eg_worker_of(w)->nconns);
}

static void
eg_worker_kill(struct cm_worker *w)
{
	eg_conn_kill_worker(eg_worker_of(w));
}

static void
eg_worker_reload(struct cm_worker *w, const struct cm_snap *old,
    const struct cm_snap *cur)
{
	struct eg_worker	*ew = eg_worker_of(w);
	const struct eg_cfg	*cfg = eg_cfg_of(cur);

	if (ew == NULL || cfg == NULL)
		return;
	eg_pool_prune(ew, cfg);
	eg_conn_reload(ew, cfg);
	if (cm_worker_id(w) == 0) {
		cm_metric_set(eg_m.routes,
		    (int64_t)cm_routes_count(cfg->routes));
		cm_metric_set(eg_m.generation, (int64_t)cur->generation);
		cm_metric_add(NULL, eg_m.reload_ok, 1);
	}
}

/* The live routes for supervise (common/service.h .routes). */
static const struct cm_routes *
eg_routes_of(const void *cfg)
{
	return (((const struct eg_cfg *)cfg)->routes);
}

const struct cm_service eg_service = {
	.name = "egress",
	.id = CM_SVC_EGRESS,
	.default_on = eg_default_on,
	.listeners = { CM_L_EGRESS, -1, -1 },
	.accept = eg_conn_accept,
	.load = eg_load,
	.cfg_free = eg_cfg_free,
	.load_finish = eg_load_finish,
	.start = eg_start,
	.worker_start = eg_worker_start,
	.worker_free = eg_worker_free,
	.worker_drain = eg_worker_drain,
	.worker_busy = eg_worker_busy,
	.worker_kill = eg_worker_kill,
	.worker_reload = eg_worker_reload,
	.stop = eg_stop,
	.routes = eg_routes_of,
};
