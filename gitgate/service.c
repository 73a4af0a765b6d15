/*
 * The gitgate service (spec/gitgate.md): its config (gitgate.yaml, the
 * scan rules with the known secrets and the gate's own keys), the
 * libgit2 process settings, and its per-worker state.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <git2.h>
#include <openssl/crypto.h>

#include "common/bounds.h"
#include "common/log.h"
#include "common/queue.h"
#include "common/scan.h"
#include "common/secrets.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "common/yaml.h"
#include "gitgate/conf.h"
#include "gitgate/conn.h"
#include "gitgate/gg.h"
#include "gitgate/merge.h"
#include "gitgate/mirror.h"
#include "gitgate/service.h"

static atomic_int	 gg_pushes;

const struct gg_cfg *
gg_cfg_of(const struct cm_snap *snap)
{
	return (snap != NULL ? snap->svc[CM_SVC_GITGATE] : NULL);
}

struct gg_worker *
gg_worker_of(struct cm_worker *w)
{
	return (cm_worker_svc(w, CM_SVC_GITGATE));
}

const char *
gg_agent(void)
{
	return (PACKAGE_VERSION);
}

int
gg_push_slot_take(long long limit)
{
	if (atomic_fetch_add(&gg_pushes, 1) >= limit) {
		atomic_fetch_sub(&gg_pushes, 1);
		return (-1);
	}
	return (0);
}

void
gg_push_slot_put(void)
{
	atomic_fetch_sub(&gg_pushes, 1);
}

static int
gg_default_on(const char *config_dir)
{
	char		 path[PATH_MAX];
	struct stat	 sb;

	(void)snprintf(path, sizeof(path), "%s/gitgate.yaml", config_dir);
	return (stat(path, &sb) == 0);
}

static void
gg_cfg_free(void *arg)
{
	struct gg_cfg	*cfg = arg;

	if (cfg == NULL)
		return;
	cm_scanset_unref(cfg->scanset);
	gg_conf_free(cfg);
}

static void *
gg_load(const struct cm_load_env *env)
{
	struct cm_cfg_ctx	*cx = env->ctx(env->arg, "gitgate.yaml");
	struct gg_cfg		*cfg;
	char			 path[PATH_MAX];
	const char		*why;
	int			 rc;

	rc = cm_snap_config_path(env->config_dir, "gitgate.yaml", path,
	    sizeof(path), &why);
	if (rc == 1) {
		cm_cfg_error(cx, NULL, NULL, "missing: gitgate needs "
		    "gitgate.yaml in %s", env->config_dir);
		return (NULL);
	}
	if (rc == -1) {
		cm_cfg_error(cx, NULL, NULL, "%s", why);
		return (NULL);
	}
	cfg = gg_conf_load(cx, path, env->config_dir, env->state_dir);
	if (cfg != NULL)
		cfg->hold_timeout_s =
		    cm_queue_hold_timeout_s("GITGATE_ALLOW_TIMEOUT_SECONDS");
	return (cfg);
}

/* The gate's own key files are known secrets too (§8.2). */
static int
gg_load_finish(struct cm_snap *snap, const struct cm_load_env *env)
{
	struct gg_cfg		*cfg = snap->svc[CM_SVC_GITGATE];
	struct cm_cfg_ctx	*cx = env->ctx(env->arg, "gitgate.yaml");
	struct cm_secret	*sv;
	struct cm_scan_config	 sc;
	size_t			 ns = cm_secrets_count(snap->secrets), i, n = 0;
	unsigned char		*keys[64];
	char			 names[64][GG_MAX_NAME_BYTES + 16];
	const char		*why = NULL;
	ssize_t			 r;
	int			 fd, rc = 0;

	if ((sv = calloc(ns + 64, sizeof(*sv))) == NULL)
		return (-1);
	for (i = 0; i < ns; i++)
		sv[n++] = *cm_secrets_get(snap->secrets, i);
	memset(keys, 0, sizeof(keys));
	for (i = 0; i < cfg->nrepos && i < 64; i++) {
		if ((keys[i] = malloc(CM_MAX_SECRET_BYTES)) == NULL ||
		    (fd = open(cfg->repos[i].key_path, O_RDONLY | O_CLOEXEC))
		    == -1)
			continue;
		r = read(fd, keys[i], CM_MAX_SECRET_BYTES);
		(void)close(fd);
		if (r < CM_SECRET_MIN_BYTES)
			continue;
		(void)snprintf(names[i], sizeof(names[i]), "gitgate-key:%s",
		    cfg->repos[i].name);
		sv[n].name = names[i];
		sv[n].bytes = keys[i];
		sv[n].len = (size_t)r;
		n++;
	}
	memset(&sc, 0, sizeof(sc));
	cfg->scanset = cm_scanset_new(&sc, sv, n, &why);
	if (cfg->scanset == NULL) {
		cm_cfg_error(cx, NULL, NULL, "cannot compile the push scan "
		    "rules: %s", why != NULL ? why : "?");
		rc = -1;
	}
	for (i = 0; i < 64; i++)
		if (keys[i] != NULL) {
			OPENSSL_cleanse(keys[i], CM_MAX_SECRET_BYTES);
			free(keys[i]);
		}
	free(sv);
	return (rc);
}

static void
gg_write_known_hosts(const struct gg_cfg *cfg)
{
	char	 dir[PATH_MAX];
	char	*kh = gg_conf_known_hosts(cfg);

	(void)snprintf(dir, sizeof(dir), "%s/.home/.ssh", cfg->git_dir);
	if (cm_write_file_atomic(dir, "known_hosts", kh != NULL ? kh : "",
	    kh != NULL ? strlen(kh) : 0, 0600) == -1)
		cm_log(CM_LOG_WARN, "gitgate", "known_hosts", 0, json_pack(
		    "{s:s,s:s}", "path", dir, "error", strerror(errno)));
	free(kh);
}

static int
gg_mkdirs(const char *path)
{
	char	 p[PATH_MAX], *s;

	cm_strlcpy(p, path, sizeof(p));
	for (s = p + 1; *s != '\0'; s++)
		if (*s == '/') {
			*s = '\0';
			if (mkdir(p, 0700) == -1 && errno != EEXIST)
				return (-1);
			*s = '/';
		}
	return (mkdir(p, 0700) == -1 && errno != EEXIST ? -1 : 0);
}

/* §4.2: once, before any thread runs libgit2. */
static int
gg_libgit2_setup(const struct gg_cfg *cfg, const struct cm_settings *s,
    char *err, size_t errlen)
{
	static const int	 levels[] = { GIT_CONFIG_LEVEL_SYSTEM,
				    GIT_CONFIG_LEVEL_XDG,
				    GIT_CONFIG_LEVEL_GLOBAL,
				    GIT_CONFIG_LEVEL_PROGRAMDATA };
	char			 home[PATH_MAX], ssh[PATH_MAX + 8];
	size_t			 i;

	(void)snprintf(home, sizeof(home), "%s/.home", cfg->git_dir);
	(void)snprintf(ssh, sizeof(ssh), "%s/.ssh", home);
	if (gg_mkdirs(ssh) == -1) {
		(void)snprintf(err, errlen, "gitgate: %s: %s", ssh,
		    strerror(errno));
		return (-1);
	}
	/* libgit2 1.5's SSH transport needs HOME and reads known_hosts. */
	if (setenv("HOME", home, 1) == -1 || git_libgit2_init() < 0) {
		(void)snprintf(err, errlen, "gitgate: cannot start libgit2");
		return (-1);
	}
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		(void)git_libgit2_opts(GIT_OPT_SET_SEARCH_PATH, levels[i], "");
	(void)git_libgit2_opts(GIT_OPT_SET_OWNER_VALIDATION, 0);
	(void)git_libgit2_opts(GIT_OPT_ENABLE_FSYNC_GITDIR, 1);
	(void)git_libgit2_opts(GIT_OPT_ENABLE_STRICT_OBJECT_CREATION, 1);
	(void)git_libgit2_opts(GIT_OPT_ENABLE_STRICT_HASH_VERIFICATION, 1);
	(void)git_libgit2_opts(GIT_OPT_SET_PACK_MAX_OBJECT_SIZE,
	    (size_t)s->v[CM_S_GG_MAX_OBJECT_BYTES]);
	(void)git_libgit2_opts(GIT_OPT_SET_USER_AGENT, "bb-sidecar/"
	    PACKAGE_VERSION);
	/* One bound for every repository's object cache (default 256 MiB). */
	(void)git_libgit2_opts(GIT_OPT_SET_CACHE_MAX_SIZE,
	    (ssize_t)GG_OBJECT_CACHE_BYTES);
	return (0);
}

static int
gg_start(const struct cm_snap *snap, char *err, size_t errlen)
{
	const struct gg_cfg	*cfg = gg_cfg_of(snap);
	json_t			*repos = json_array(), *lis = json_array();
	char			 buf[96];
	size_t			 i, l;

	gg_metrics_init();
	if (gg_libgit2_setup(cfg, snap->settings, err, errlen) == -1)
		return (-1);
	gg_write_known_hosts(cfg);
	gg_mirror_sweep_incoming(cfg);
	if (cm_queue_start(snap, cfg->state_dir, err, errlen) == -1)
		return (-1);
	for (i = 0; i < cfg->nrepos; i++) {
		json_array_append_new(repos, json_string(cfg->repos[i].name));
		gg_metrics_repo_init(cfg->repos[i].name);
	}
	for (l = CM_L_GITGATE_GIT; l <= CM_L_GITGATE_HTTP; l++)
		for (i = 0; i < snap->settings->listen[l].n; i++)
			json_array_append_new(lis, json_string(cm_addr_fmt(
			    &snap->settings->listen[l].a[i], buf,
			    sizeof(buf))));
	cm_log(CM_LOG_INFO, "gitgate", "boot", 0, json_pack("{s:o,s:o,s:i,"
	    "s:s,s:b}", "repos", repos, "listen", lis, "hold_timeout_s",
	    cfg->hold_timeout_s, "libgit2", LIBGIT2_VERSION, "protocol_v2",
	    (int)snap->settings->v[CM_S_GG_PROTOCOL_V2]));
	return (0);
}

static void
gg_stop(void)
{
	cm_queue_stop();
	/* The job threads are joined by now: libgit2 can let go. */
	(void)git_libgit2_shutdown();
}

static int
gg_worker_start(struct cm_worker *w)
{
	struct gg_worker	*gw;

	if ((gw = calloc(1, sizeof(*gw))) == NULL)
		return (-1);
	gw->w = w;
	TAILQ_INIT(&gw->conns);
	TAILQ_INIT(&gw->merges);
	cm_worker_set_svc(w, CM_SVC_GITGATE, gw);
	return (0);
}

static void
gg_worker_free(struct cm_worker *w)
{
	struct gg_worker	*gw = gg_worker_of(w);

	if (gw == NULL)
		return;
	gg_conn_free_all(gw);
	gg_merge_worker_free(gw);
	cm_worker_set_svc(w, CM_SVC_GITGATE, NULL);
	free(gw);
}

static void
gg_worker_drain(struct cm_worker *w)
{
	/* §11: held pushes are answered "gate shutting down" now. */
	cm_queue_shutdown(cm_queue_get());
	gg_conn_drain_worker(gg_worker_of(w));
}

static size_t
gg_worker_busy(struct cm_worker *w)
{
	return (gg_worker_of(w)->nconns);
}

static void
gg_worker_kill(struct cm_worker *w)
{
	gg_conn_kill_worker(gg_worker_of(w));
}

static void
gg_worker_reload(struct cm_worker *w, const struct cm_snap *old,
    const struct cm_snap *cur)
{
	const struct gg_cfg	*cfg = gg_cfg_of(cur);

	size_t			 i;

	/* §3.4: the preference file follows every reload. */
	if (cfg != NULL && cm_worker_id(w) == 0) {
		gg_write_known_hosts(cfg);
		/* §14: a repo the reload added gets its series now. */
		for (i = 0; i < cfg->nrepos; i++)
			gg_metrics_repo_init(cfg->repos[i].name);
	}
}

const struct cm_service gg_service = {
	.name = "gitgate",
	.id = CM_SVC_GITGATE,
	.default_on = gg_default_on,
	.listeners = { CM_L_GITGATE_GIT, CM_L_GITGATE_HTTP, -1 },
	.accept = gg_conn_accept,
	.load = gg_load,
	.cfg_free = gg_cfg_free,
	.load_finish = gg_load_finish,
	.start = gg_start,
	.worker_start = gg_worker_start,
	.worker_free = gg_worker_free,
	.worker_drain = gg_worker_drain,
	.worker_busy = gg_worker_busy,
	.worker_kill = gg_worker_kill,
	.worker_reload = gg_worker_reload,
	.stop = gg_stop,
	.check_report = gg_conf_report,
};
