/*
 * Mirror repositories on disk (spec/gitgate.md §4.1, §4.4): creation,
 * recreation, ref lists and the per-repo locks.  Job threads only.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/util.h"
#include "gitgate/conf.h"
#include "gitgate/mirror.h"

struct gg_mstate {
	struct gg_mstate	*next;
	char			*name;
	pthread_mutex_t		 upstream;
	pthread_rwlock_t	 objects;
};

static pthread_mutex_t	 gg_mirror_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gg_mstate	*gg_mirror_reg;

struct gg_mstate *
gg_mirror_state(const char *name)
{
	struct gg_mstate	*st;

	pthread_mutex_lock(&gg_mirror_reg_lock);
	for (st = gg_mirror_reg; st != NULL; st = st->next)
		if (strcmp(st->name, name) == 0)
			break;
	if (st == NULL && (st = calloc(1, sizeof(*st))) != NULL) {
		if ((st->name = strdup(name)) == NULL) {
			free(st);
			st = NULL;
		} else {
			pthread_mutex_init(&st->upstream, NULL);
			pthread_rwlock_init(&st->objects, NULL);
			st->next = gg_mirror_reg;
			gg_mirror_reg = st;
		}
	}
	pthread_mutex_unlock(&gg_mirror_reg_lock);
	return (st);
}

void
gg_mirror_upstream_lock(struct gg_mstate *st)
{
	pthread_mutex_lock(&st->upstream);
}

void
gg_mirror_upstream_unlock(struct gg_mstate *st)
{
	pthread_mutex_unlock(&st->upstream);
}

void
gg_mirror_objects_rdlock(struct gg_mstate *st)
{
	pthread_rwlock_rdlock(&st->objects);
}

void
gg_mirror_objects_wrlock(struct gg_mstate *st)
{
	pthread_rwlock_wrlock(&st->objects);
}

int
gg_mirror_objects_wrlock_timed(struct gg_mstate *st, int secs)
{
	struct timespec	 ts;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += secs;
	return (pthread_rwlock_timedwrlock(&st->objects, &ts) == 0 ? 0 : -1);
}

void
gg_mirror_objects_unlock(struct gg_mstate *st)
{
	pthread_rwlock_unlock(&st->objects);
}

/* ---- ref lists ---- */

struct gg_refs *
gg_refs_ref(struct gg_refs *r)
{
	if (r != NULL)
		atomic_fetch_add(&r->refcnt, 1);
	return (r);
}

void
gg_refs_unref(struct gg_refs *r)
{
	size_t	 i;

	if (r == NULL || atomic_fetch_sub(&r->refcnt, 1) != 1)
		return;
	for (i = 0; i < r->n; i++)
		free(r->v[i].name);
	free(r->v);
	free(r->head);
	free(r);
}

const struct gg_ref *
gg_refs_find(const struct gg_refs *r, const char *name)
{
	size_t	 lo = 0, hi = r->n, mid;
	int	 c;

	while (lo < hi) {
		mid = (lo + hi) / 2;
		c = strcmp(r->v[mid].name, name);
		if (c == 0)
			return (&r->v[mid]);
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return (NULL);
}

int
gg_refs_has_oid(const struct gg_refs *r, const git_oid *oid)
{
	size_t	 i;

	for (i = 0; i < r->n; i++)
		if (git_oid_equal(&r->v[i].oid, oid) || (r->v[i].has_peeled &&
		    git_oid_equal(&r->v[i].peeled, oid)))
			return (1);
	return (0);
}

static int
gg_refs_cmp(const void *a, const void *b)
{
	return (strcmp(((const struct gg_ref *)a)->name,
	    ((const struct gg_ref *)b)->name));
}

static int
gg_refs_add(git_repository *repo, struct gg_refs *r, size_t *cap,
    git_reference *ref)
{
	git_reference	*res = NULL;
	git_object	*peeled = NULL;
	struct gg_ref	*e;

	if (git_reference_resolve(&res, ref) != 0)
		return (0);	/* dangling symref: not advertised */
	if (r->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		struct gg_ref *nv = reallocarray(r->v, nc, sizeof(*nv));

		if (nv == NULL) {
			git_reference_free(res);
			return (-1);
		}
		r->v = nv;
		*cap = nc;
	}
	e = &r->v[r->n];
	memset(e, 0, sizeof(*e));
	if ((e->name = strdup(git_reference_name(ref))) == NULL) {
		git_reference_free(res);
		return (-1);
	}
	git_oid_cpy(&e->oid, git_reference_target(res));
	if (git_reference_peel(&peeled, res, GIT_OBJECT_ANY) == 0) {
		if (!git_oid_equal(git_object_id(peeled), &e->oid)) {
			git_oid_cpy(&e->peeled, git_object_id(peeled));
			e->has_peeled = 1;
		}
		git_object_free(peeled);
	}
	git_reference_free(res);
	r->n++;
	return (0);
}

struct gg_refs *
gg_mirror_refs(git_repository *repo, char *err, size_t errlen)
{
	static const char *const globs[] = { "refs/heads/*", "refs/tags/*" };
	git_reference_iterator	*it;
	git_reference		*ref, *head;
	struct gg_refs		*r;
	size_t			 cap = 0, g;
	int			 rc;

	if ((r = calloc(1, sizeof(*r))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	atomic_init(&r->refcnt, 1);
	for (g = 0; g < 2; g++) {
		if (git_reference_iterator_glob_new(&it, repo, globs[g]) != 0)
			goto fail;
		while ((rc = git_reference_next(&ref, it)) == 0) {
			rc = gg_refs_add(repo, r, &cap, ref);
			git_reference_free(ref);
			if (rc == -1) {
				git_reference_iterator_free(it);
				goto fail;
			}
		}
		git_reference_iterator_free(it);
		if (rc != GIT_ITEROVER)
			goto fail;
	}
	if (r->n > 0)
		qsort(r->v, r->n, sizeof(*r->v), gg_refs_cmp);
	if (git_reference_lookup(&head, repo, "HEAD") == 0) {
		if (git_reference_type(head) == GIT_REFERENCE_SYMBOLIC) {
			r->head = strdup(git_reference_symbolic_target(head));
			if (r->head != NULL) {
				const struct gg_ref *t;

				if ((t = gg_refs_find(r, r->head)) != NULL) {
					git_oid_cpy(&r->head_oid, &t->oid);
					r->head_ok = 1;
				}
			}
		}
		git_reference_free(head);
	}
	return (r);
fail:
	(void)snprintf(err, errlen, "cannot list the mirror's refs: %s",
	    git_error_last() != NULL ? git_error_last()->message : "?");
	gg_refs_unref(r);
	return (NULL);
}

/* ---- on disk ---- */

void
gg_mirror_path(const struct gg_cfg *cfg, const struct gg_repo *repo,
    char *buf, size_t size)
{
	(void)snprintf(buf, size, "%s/%s.git", cfg->git_dir, repo->name);
}

int
gg_mirror_rmtree(const char *path)
{
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	char		 p[PATH_MAX];
	int		 rc = 0;

	if (lstat(path, &sb) == -1)
		return (errno == ENOENT ? 0 : -1);
	if (!S_ISDIR(sb.st_mode))
		return (unlink(path));
	if ((d = opendir(path)) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		(void)snprintf(p, sizeof(p), "%s/%s", path, de->d_name);
		if (gg_mirror_rmtree(p) == -1)
			rc = -1;
	}
	(void)closedir(d);
	if (rmdir(path) == -1)
		rc = -1;
	return (rc);
}

static int
gg_mirror_create(const struct gg_repo *repo, const char *path,
    git_repository **out, char *err, size_t errlen)
{
	git_repository_init_options	 io;
	git_config			*cfg = NULL;

	(void)git_repository_init_options_init(&io,
	    GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	io.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH |
	    GIT_REPOSITORY_INIT_NO_REINIT;
	io.mode = GIT_REPOSITORY_INIT_SHARED_UMASK;
	if (git_repository_init_ext(out, path, &io) != 0)
		goto fail;
	if (git_repository_config(&cfg, *out) != 0 ||
	    git_config_set_string(cfg, "bbsidecar.upstream", repo->url) != 0 ||
	    git_config_set_bool(cfg, "core.logAllRefUpdates", 0) != 0) {
		git_config_free(cfg);
		git_repository_free(*out);
		*out = NULL;
		goto fail;
	}
	git_config_free(cfg);
	cm_log(CM_LOG_INFO, "gitgate", "mirror_created", 0, json_pack(
	    "{s:s}", "repo", repo->name));
	return (0);
fail:
	(void)snprintf(err, errlen, "cannot create the mirror: %s",
	    git_error_last() != NULL ? git_error_last()->message : "?");
	return (-1);
}

/* The mirror's bbsidecar.upstream, or "" when unreadable. */
static void
gg_mirror_upstream_of(git_repository *r, char *buf, size_t size)
{
	git_config	*cfg = NULL, *snap = NULL;
	const char	*v;

	buf[0] = '\0';
	if (git_repository_config(&cfg, r) == 0 &&
	    git_config_snapshot(&snap, cfg) == 0 &&
	    git_config_get_string(&v, snap, "bbsidecar.upstream") == 0)
		cm_strlcpy(buf, v, size);
	git_config_free(snap);
	git_config_free(cfg);
}

int
gg_mirror_open(const struct gg_cfg *cfg, const struct gg_repo *repo,
    git_repository **out, char *err, size_t errlen)
{
	struct gg_mstate	*st = gg_mirror_state(repo->name);
	char			 path[PATH_MAX], aside[PATH_MAX + 64];
	char			 up[4096];
	struct stat		 sb;
	int			 rc;

	*out = NULL;
	err[0] = '\0';
	if (st == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (-1);
	}
	gg_mirror_path(cfg, repo, path, sizeof(path));
	if (stat(path, &sb) == -1) {
		gg_mirror_objects_wrlock(st);
		rc = stat(path, &sb) == -1 ?
		    gg_mirror_create(repo, path, out, err, errlen) :
		    git_repository_open_bare(out, path);
		gg_mirror_objects_unlock(st);
		if (rc != 0 && *out == NULL && err[0] == '\0')
			(void)snprintf(err, errlen, "cannot open the mirror");
		return (rc == 0 ? 0 : -1);
	}
	if (git_repository_open_bare(out, path) == 0) {
		gg_mirror_upstream_of(*out, up, sizeof(up));
		if (strcmp(up, repo->url) == 0)
			return (0);
		git_repository_free(*out);
		*out = NULL;
		/* §4.1: another upstream now; this mirror is not its copy. */
		(void)snprintf(aside, sizeof(aside), "%s.old-%lld-%d", path,
		    (long long)time(NULL), (int)getpid());
		gg_mirror_objects_wrlock(st);
		rc = rename(path, aside);
		if (rc == 0)
			rc = gg_mirror_create(repo, path, out, err, errlen);
		else
			(void)snprintf(err, errlen, "cannot move the old "
			    "mirror aside: %s", strerror(errno));
		gg_mirror_objects_unlock(st);
		if (rc == 0) {
			cm_log(CM_LOG_INFO, "gitgate", "mirror_recreated", 0,
			    json_pack("{s:s,s:s}", "repo", repo->name, "why",
			    "upstream url changed"));
			(void)gg_mirror_rmtree(aside);
		}
		return (rc == 0 ? 0 : -1);
	}
	/* Cannot be opened: keep it for the operator, start afresh. */
	(void)snprintf(aside, sizeof(aside), "%s.broken-%lld", path,
	    (long long)time(NULL));
	cm_log(CM_LOG_ERROR, "gitgate", "mirror_broken", 0, json_pack(
	    "{s:s,s:s,s:s}", "repo", repo->name, "error",
	    git_error_last() != NULL ? git_error_last()->message : "?",
	    "moved_to", aside));
	gg_mirror_objects_wrlock(st);
	rc = rename(path, aside);
	if (rc == 0)
		rc = gg_mirror_create(repo, path, out, err, errlen);
	else
		(void)snprintf(err, errlen, "the mirror cannot be opened or "
		    "moved: %s", strerror(errno));
	gg_mirror_objects_unlock(st);
	return (rc == 0 ? 0 : -1);
}

size_t
gg_mirror_npacks(git_repository *repo)
{
	DIR		*d;
	struct dirent	*de;
	char		 dir[PATH_MAX];
	size_t		 n = 0, l;

	(void)snprintf(dir, sizeof(dir), "%sobjects/pack",
	    git_repository_path(repo));
	if ((d = opendir(dir)) == NULL)
		return (0);
	while ((de = readdir(d)) != NULL)
		if ((l = strlen(de->d_name)) > 5 &&
		    strcmp(de->d_name + l - 5, ".pack") == 0)
			n++;
	(void)closedir(d);
	return (n);
}

void
gg_mirror_sweep_incoming(const struct gg_cfg *cfg)
{
	char		 p[PATH_MAX];
	size_t		 i;

	for (i = 0; i < cfg->nrepos; i++) {
		(void)snprintf(p, sizeof(p), "%s/%s.git/bb-incoming",
		    cfg->git_dir, cfg->repos[i].name);
		if (access(p, F_OK) == 0) {
			(void)gg_mirror_rmtree(p);
			cm_log(CM_LOG_INFO, "gitgate", "incoming_swept", 0,
			    json_pack("{s:s}", "repo", cfg->repos[i].name));
		}
	}
}
