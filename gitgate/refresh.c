/*
 * Refreshing a mirror from upstream before a ref list (spec/gitgate.md
 * §4.3).  At most one refresh per repo runs at a time; a request that
 * needs one while one runs joins it as a waiter, holding no thread, and
 * gets its result (success or failure) posted to its own worker.
 */
#include "config.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/job.h"
#include "common/log.h"
#include "common/metrics.h"
#include "common/settings.h"
#include "common/snapshot.h"
#include "common/util.h"
#include "common/worker.h"
#include "gitgate/conf.h"
#include "gitgate/gg.h"
#include "gitgate/merge.h"
#include "gitgate/mirror.h"
#include "gitgate/upstream.h"

struct gg_waiter {
	struct gg_waiter	*next;
	struct cm_worker	*w;
	gg_mirror_cb		 cb;
	void			*arg;
};

/* Refreshes in flight, by repo name; guarded by gg_refresh_lock. */
struct gg_inflight {
	struct gg_inflight	*next;
	char			 name[GG_MAX_NAME_BYTES + 1];
	struct gg_waiter	*waiters;	/* FIFO */
	struct gg_waiter	**tail;
	size_t			 n;
};

static pthread_mutex_t		 gg_refresh_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gg_inflight	*gg_refresh_list;

struct gg_rjob {
	struct cm_snap		*snap;		/* referenced */
	const struct gg_cfg	*cfg;
	const struct gg_repo	*repo;
	int			 fetch;
	struct gg_up		*up;		/* fetch only */
	struct gg_inflight	*inf;		/* fetch only */
	gg_mirror_cb		 cb;		/* list only */
	void			*arg;
	struct gg_refs		*refs;		/* result */
	size_t			 objects;	/* packs after the fetch */
	char			 err[1024];
};

struct gg_delivery {
	gg_mirror_cb		 cb;
	void			*arg;
	struct gg_refs		*refs;		/* referenced */
	char			*err;
	const char		*label;
};

static void
gg_refresh_deliver_cb(struct cm_worker *w, void *arg)
{
	struct gg_delivery	*d = arg;

	d->cb(d->arg, d->refs, d->err, d->label);
	gg_refs_unref(d->refs);
	free(d->err);
	free(d);
}

static int
gg_refresh_fetch(struct gg_rjob *j, git_repository *repo, unsigned *objects,
    size_t *bytes)
{
	static char		*specs[] = { "+refs/heads/*:refs/heads/*",
				    "+refs/tags/*:refs/tags/*" };
	git_strarray		 sa = { specs, 2 };
	git_remote		*remote = NULL;
	git_remote_connect_options co;
	git_fetch_options	 fo;
	git_buf			 def = { 0 };
	git_reference		*head = NULL, *nh = NULL;
	const git_indexer_progress *st;
	char			 path[PATH_MAX];
	int			 rc;

	(void)git_remote_connect_options_init(&co,
	    GIT_REMOTE_CONNECT_OPTIONS_VERSION);
	(void)git_fetch_options_init(&fo, GIT_FETCH_OPTIONS_VERSION);
	gg_up_begin(j->up);
	if ((rc = git_remote_create_anonymous(&remote, repo, j->repo->url))
	    != 0)
		goto out;
	gg_up_callbacks(j->up, &co.callbacks);
	if ((rc = git_remote_connect_ext(remote, GIT_DIRECTION_FETCH, &co))
	    != 0)
		goto out;
	gg_up_connected(j->up);
	fo.callbacks = co.callbacks;
	fo.prune = GIT_FETCH_PRUNE;
	fo.update_fetchhead = 0;
	fo.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
	if ((rc = git_remote_download(remote, &sa, &fo)) != 0 ||
	    (rc = git_remote_update_tips(remote, &co.callbacks, 0,
	    GIT_REMOTE_DOWNLOAD_TAGS_NONE, NULL)) != 0 ||
	    (rc = git_remote_prune(remote, &co.callbacks)) != 0)
		goto out;
	st = git_remote_stats(remote);
	*objects = st->received_objects;
	*bytes = st->received_bytes;
	/* HEAD follows upstream's default branch; unborn upstream: kept. */
	if (git_remote_default_branch(&def, remote) == 0 &&
	    strncmp(def.ptr, "refs/heads/", 11) == 0) {
		if (git_reference_lookup(&head, repo, "HEAD") != 0 ||
		    git_reference_type(head) != GIT_REFERENCE_SYMBOLIC ||
		    strcmp(git_reference_symbolic_target(head), def.ptr) != 0)
			(void)git_reference_symbolic_create(&nh, repo, "HEAD",
			    def.ptr, 1, NULL);
		git_reference_free(head);
		git_reference_free(nh);
	}
	git_buf_dispose(&def);
out:
	if (rc != 0)
		(void)gg_up_error(j->up, rc, j->err, sizeof(j->err));
	if (remote != NULL) {
		(void)git_remote_disconnect(remote);
		git_remote_free(remote);
	}
	gg_up_end(j->up);
	/* §4.1: no FETCH_HEAD in a mirror. */
	(void)snprintf(path, sizeof(path), "%s/FETCH_HEAD",
	    git_repository_path(repo));
	(void)unlink(path);
	return (rc == 0 ? 0 : -1);
}

/*
 * Everyone who waited gets the result, on their own worker; skip
 * leaves out the first waiters (a caller told synchronously).
 */
static void
gg_refresh_deliver_all(struct gg_rjob *j, size_t skip)
{
	struct gg_waiter	*wt, *next;
	struct gg_inflight	**pp;
	struct gg_delivery	*d;
	size_t			 i;

	pthread_mutex_lock(&gg_refresh_lock);
	for (pp = &gg_refresh_list; *pp != NULL; pp = &(*pp)->next)
		if (*pp == j->inf) {
			*pp = j->inf->next;
			break;
		}
	wt = j->inf->waiters;
	pthread_mutex_unlock(&gg_refresh_lock);
	for (i = 0; wt != NULL; wt = next, i++) {
		next = wt->next;
		if (i >= skip && (d = calloc(1, sizeof(*d))) != NULL) {
			d->cb = wt->cb;
			d->arg = wt->arg;
			d->refs = gg_refs_ref(j->refs);
			d->err = j->refs == NULL ? strdup(j->err) : NULL;
			d->label = j->refs == NULL ? "failed" : i == 0 ? "ok" :
			    "shared";
			if (i > 0)
				cm_metric_add(NULL, gg_metric_repo(
				    GG_MF_REFRESH_SHARED, j->repo->name, NULL),
				    1);
			if (cm_worker_post(wt->w, gg_refresh_deliver_cb, d) ==
			    -1) {
				gg_refs_unref(d->refs);
				free(d->err);
				free(d);
			}
		}
		free(wt);
	}
	free(j->inf);
	j->inf = NULL;
}

static void
gg_refresh_run(struct cm_job *job)
{
	struct gg_rjob		*j = cm_job_arg(job);
	struct gg_mstate	*st;
	git_repository		*repo = NULL;
	char			 e[768];
	uint64_t		 t0 = cm_now_ms();
	unsigned		 objects = 0;
	size_t			 bytes = 0, n = 0;
	int			 rc;

	rc = gg_mirror_open(j->cfg, j->repo, &repo, e, sizeof(e));
	if (rc == -1)
		cm_strlcpy(j->err, e, sizeof(j->err));
	if (rc == 0 && j->fetch) {
		if ((st = gg_mirror_state(j->repo->name)) == NULL)
			rc = -1;
		else {
			gg_mirror_upstream_lock(st);
			rc = gg_refresh_fetch(j, repo, &objects, &bytes);
			gg_mirror_upstream_unlock(st);
		}
		if (rc == -1) {
			cm_strlcpy(e, j->err, sizeof(e));
			(void)snprintf(j->err, sizeof(j->err), "bb-sidecar: "
			    "cannot refresh '%s' from %s: %s; refusing to "
			    "serve possibly stale data", j->repo->name,
			    j->repo->shown, e);
		}
		pthread_mutex_lock(&gg_refresh_lock);
		n = j->inf->n;
		pthread_mutex_unlock(&gg_refresh_lock);
		cm_log(rc == 0 ? CM_LOG_INFO : CM_LOG_WARN, "gitgate",
		    "refresh", 0, json_pack("{s:s,s:s,s:I,s:I,s:I,s:s?,s:I}",
		    "repo", j->repo->name, "result", rc == 0 ? "ok" : "failed",
		    "objects", (json_int_t)objects, "bytes", (json_int_t)bytes,
		    "ms", (json_int_t)(cm_now_ms() - t0), "error", rc == 0 ?
		    NULL : e, "waiters", (json_int_t)n));
		cm_metric_add(NULL, gg_metric_repo(GG_MF_REFRESH,
		    j->repo->name, "result=\"%s\"", rc == 0 ? "ok" :
		    "failed"), 1);
		cm_metric_add(NULL, gg_metric_repo(GG_MF_BYTES, j->repo->name,
		    "dir=\"%s\"", gg_mdir_names[GG_MD_UPSTREAM_IN]),
		    (int64_t)bytes);
		j->objects = rc == 0 ? gg_mirror_npacks(repo) : 0;
	} else if (rc == 0 && !j->repo->fetch_refresh)
		cm_log(CM_LOG_DEBUG, "gitgate", "refresh", 0, json_pack(
		    "{s:s,s:s}", "repo", j->repo->name, "result", "skipped"));
	if (rc == 0 && (j->refs = gg_mirror_refs(repo, e, sizeof(e))) == NULL)
		(void)snprintf(j->err, sizeof(j->err), "bb-sidecar: %s", e);
	git_repository_free(repo);
	if (!j->fetch)
		return;
	gg_refresh_deliver_all(j, 0);
}

static void
gg_refresh_done(struct cm_job *job)
{
	struct gg_rjob	*j = cm_job_arg(job);

	if (cm_worker_self() == NULL) {
		/* The worker is gone (shutdown): nothing of it is touched. */
		gg_refs_unref(j->refs);
		free(j);
		return;
	}
	if (!j->fetch)
		j->cb(j->arg, j->refs, j->refs == NULL ? j->err : NULL,
		    j->repo->fetch_refresh ? "none" : "skipped");
	else if (j->objects > 1)	/* §4.5: two packs or more */
		gg_merge_schedule(cm_worker_self(), j->snap, j->repo);
	gg_refs_unref(j->refs);
	gg_up_free(j->up);
	cm_snap_unref(j->snap);
	free(j);
}

int
gg_mirror_prepare(struct cm_worker *w, struct cm_snap *snap,
    const struct gg_repo *repo, int do_refresh, gg_mirror_cb cb, void *arg)
{
	struct gg_rjob		*j;
	struct gg_inflight	*inf;
	struct gg_waiter	*wt = NULL;
	struct cm_job		*job;

	if ((j = calloc(1, sizeof(*j))) == NULL)
		return (-1);
	j->snap = cm_snap_ref(snap);
	j->cfg = gg_cfg_of(snap);
	j->repo = repo;
	j->fetch = do_refresh && repo->fetch_refresh;
	j->cb = cb;
	j->arg = arg;
	if (j->fetch) {
		if ((wt = calloc(1, sizeof(*wt))) == NULL)
			goto fail;
		wt->w = w;
		wt->cb = cb;
		wt->arg = arg;
		pthread_mutex_lock(&gg_refresh_lock);
		for (inf = gg_refresh_list; inf != NULL; inf = inf->next)
			if (strcmp(inf->name, repo->name) == 0)
				break;
		if (inf != NULL) {
			/* One is running: take its result (§4.3). */
			*inf->tail = wt;
			inf->tail = &wt->next;
			inf->n++;
			pthread_mutex_unlock(&gg_refresh_lock);
			cm_snap_unref(j->snap);
			free(j);
			return (0);
		}
		if ((inf = calloc(1, sizeof(*inf))) == NULL) {
			pthread_mutex_unlock(&gg_refresh_lock);
			goto fail;
		}
		cm_strlcpy(inf->name, repo->name, sizeof(inf->name));
		inf->waiters = wt;
		inf->tail = &wt->next;
		inf->n = 1;
		inf->next = gg_refresh_list;
		gg_refresh_list = inf;
		pthread_mutex_unlock(&gg_refresh_lock);
		wt = NULL;
		j->inf = inf;
		j->up = gg_up_new(w, j->cfg, repo, snap->settings,
		    (int)snap->settings->v[CM_S_GG_REFRESH_TIMEOUT_S]);
	}
	job = NULL;
	if ((j->fetch && j->up == NULL) || (job = cm_job_new(w, gg_refresh_run,
	    gg_refresh_done, j)) == NULL || cm_job_submit(job) == -1) {
		/* Never started: waiters that joined meanwhile fail too. */
		if (j->inf != NULL) {
			(void)snprintf(j->err, sizeof(j->err), "bb-sidecar: "
			    "cannot start a refresh (gate busy)");
			gg_refresh_deliver_all(j, 1);
		}
		goto fail;
	}
	return (0);
fail:
	free(wt);
	gg_up_free(j->up);
	cm_snap_unref(j->snap);
	free(j);
	return (-1);
}
