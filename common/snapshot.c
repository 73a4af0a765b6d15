/*
 * Building config snapshots.  Every file gets its own error context so
 * each error names its own file; nothing is published unless all of
 * them loaded cleanly (a failed reload leaves the old snapshot).
 */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "common/secrets.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/yaml.h"

#define CM_SNAP_MAX_FILES	16

struct cm_snap_ctxs {
	struct cm_cfg_ctx	*cx[CM_SNAP_MAX_FILES];
	char			 names[CM_SNAP_MAX_FILES][64];
	size_t			 n;
};

struct cm_snap *
cm_snap_ref(struct cm_snap *s)
{
	if (s != NULL)
		atomic_fetch_add(&s->refs, 1);
	return (s);
}

/* Set by the runtime: who frees each service's part. */
static const struct cm_service *const *cm_snap_svcs;

const struct cm_routes *
cm_snap_routes(const struct cm_snap *s)
{
	const struct cm_service	*eg;

	if (s == NULL || cm_snap_svcs == NULL ||
	    (eg = cm_snap_svcs[CM_SVC_EGRESS]) == NULL || eg->routes == NULL ||
	    s->svc[CM_SVC_EGRESS] == NULL)
		return (NULL);
	return (eg->routes(s->svc[CM_SVC_EGRESS]));
}

static void
cm_snap_destroy(struct cm_snap *s)
{
	size_t	 i;

	for (i = 0; i < CM_SVC_COUNT; i++)
		if (s->svc[i] != NULL && cm_snap_svcs != NULL &&
		    cm_snap_svcs[i] != NULL && cm_snap_svcs[i]->cfg_free != NULL)
			cm_snap_svcs[i]->cfg_free(s->svc[i]);
	cm_settings_free(s->settings);
	cm_secrets_unref(s->secrets);
	free(s);
}

void
cm_snap_unref(struct cm_snap *s)
{
	if (s != NULL && atomic_fetch_sub(&s->refs, 1) == 1)
		cm_snap_destroy(s);
}

static struct cm_cfg_ctx *
cm_snap_ctx(void *arg, const char *name)
{
	struct cm_snap_ctxs	*c = arg;
	size_t			 i;

	for (i = 0; i < c->n; i++)
		if (strcmp(c->names[i], name) == 0)
			return (c->cx[i]);
	if (c->n == CM_SNAP_MAX_FILES)
		return (c->cx[c->n - 1]);
	if ((c->cx[c->n] = calloc(1, sizeof(*c->cx[0]))) == NULL)
		return (c->n > 0 ? c->cx[0] : NULL);
	cm_strlcpy(c->names[c->n], name, sizeof(c->names[0]));
	c->cx[c->n]->path = c->names[c->n];
	return (c->cx[c->n++]);
}

int
cm_snap_config_path(const char *config_dir, const char *name, char *out,
    size_t size, const char **why)
{
	char	 joined[PATH_MAX], real[PATH_MAX], dir[PATH_MAX];
	size_t	 dl;

	if (name[0] == '/')
		cm_strlcpy(joined, name, sizeof(joined));
	else
		(void)snprintf(joined, sizeof(joined), "%s/%s", config_dir,
		    name);
	if (realpath(joined, real) == NULL) {
		if (errno == ENOENT) {
			cm_strlcpy(out, joined, size);
			return (1);
		}
		*why = "cannot resolve the path";
		return (-1);
	}
	if (realpath(config_dir, dir) == NULL) {
		*why = "cannot resolve the config dir";
		return (-1);
	}
	dl = strlen(dir);
	if (strncmp(real, dir, dl) != 0 || (real[dl] != '/' &&
	    !(dl == 1 && dir[0] == '/'))) {
		*why = "resolves to a path outside the config dir";
		return (-1);
	}
	if (cm_strlcpy(out, real, size) >= size) {
		*why = "path too long";
		return (-1);
	}
	return (0);
}

static void
cm_snap_report(struct cm_snap_ctxs *c, FILE *fp, struct cm_load_result *res)
{
	size_t	 i, j, kept;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < c->n; i++) {
		struct cm_cfg_ctx *cx = c->cx[i];

		if (cx->nerrors == 0)
			continue;
		if (res->nerrors == 0) {
			cm_strlcpy(res->file, c->names[i], sizeof(res->file));
			cm_strlcpy(res->error, cx->errors[0],
			    sizeof(res->error));
			res->line = cx->first_line;
			res->col = cx->first_col;
		}
		res->nerrors += cx->nerrors;
		kept = cx->nerrors < CM_MAX_CFG_ERRORS ? cx->nerrors :
		    CM_MAX_CFG_ERRORS;
		for (j = 0; fp != NULL && j < kept; j++)
			fprintf(fp, "%s\n", cx->errors[j]);
		if (fp != NULL && cx->nerrors > kept)
			fprintf(fp, "%s: %zu more errors not shown\n",
			    c->names[i], cx->nerrors - kept);
	}
}

struct cm_snap *
cm_snap_load(const char *config_dir, const char *state_dir,
    const struct cm_service *const *svcs, const struct cm_overrides *ov,
    uint64_t generation, FILE *fp, struct cm_load_result *res)
{
	struct cm_snap_ctxs	 c;
	struct cm_load_env	 env;
	struct cm_snap		*s;
	char			 path[PATH_MAX];
	const char		*why;
	size_t			 i;
	int			 rc, failed = 0;

	cm_snap_svcs = svcs;
	memset(&c, 0, sizeof(c));
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return (NULL);
	atomic_init(&s->refs, 1);
	s->generation = generation;

	rc = cm_snap_config_path(config_dir, "sidecar.yaml", path,
	    sizeof(path), &why);
	if (rc == -1) {
		cm_cfg_error(cm_snap_ctx(&c, "sidecar.yaml"), NULL, "(file)",
		    "%s", why);
	} else {
		s->settings = cm_settings_load(cm_snap_ctx(&c, "sidecar.yaml"),
		    rc == 0 ? path : NULL);
	}
	if (s->settings != NULL && ov != NULL) {
		if (ov->workers >= 0)
			s->settings->v[CM_S_WORKERS] = ov->workers;
		if (ov->log_level >= 0)
			s->settings->log_level = (enum cm_log_level)ov->log_level;
		for (i = 0; i < CM_L_COUNT; i++)
			if (ov->listen[i] != NULL &&
			    cm_settings_listen_flag(s->settings, (int)i,
			    ov->listen[i], &why) == -1)
				cm_cfg_error(cm_snap_ctx(&c, "command line"),
				    NULL, cm_listen_key((int)i), "%s", why);
	}
	if (s->settings != NULL) {
		env.config_dir = config_dir;
		env.state_dir = state_dir;
		env.settings = s->settings;
		env.ctx = cm_snap_ctx;
		env.arg = &c;
		for (i = 0; i < CM_SVC_COUNT; i++) {
			if (svcs[i] == NULL || svcs[i]->load == NULL)
				continue;
			s->svc[i] = svcs[i]->load(&env);
			if (s->svc[i] == NULL)
				failed = 1;
		}
	} else
		failed = 1;
	/* After the loaders: they capture the token_env names they use. */
	s->secrets = cm_secrets_build(config_dir, cm_snap_ctx(&c, "secrets"));
	if (s->secrets == NULL)
		failed = 1;
	for (i = 0; !failed && i < CM_SVC_COUNT; i++)
		if (svcs[i] != NULL && svcs[i]->load_finish != NULL &&
		    s->svc[i] != NULL && svcs[i]->load_finish(s, &env) == -1)
			failed = 1;
	cm_snap_report(&c, fp, res);
	for (i = 0; i < c.n; i++) {
		if (c.cx[i]->nerrors > 0)
			failed = 1;
		free(c.cx[i]);
	}
	if (failed) {
		if (res->nerrors == 0) {
			cm_strlcpy(res->error, "out of memory",
			    sizeof(res->error));
			res->nerrors = 1;
			if (fp != NULL)
				fprintf(fp, "out of memory loading config\n");
		}
		cm_snap_destroy(s);
		return (NULL);
	}
	return (s);
}
