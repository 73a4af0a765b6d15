/*
 * The pack an upload-pack answer carries (spec/gitgate.md §6.5).  A
 * clone with nothing in common is served from the mirror's one pack as
 * stored (the fast path: libgit2's packbuilder recomputes every delta
 * and is ten times slower than git).  Otherwise the commits to send are
 * walked here, objects the client has are left out by walking the trees
 * of the boundary commits, and git_packbuilder writes the pack to an
 * unlinked temp file that the worker streams.  Job threads only.
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

#include "common/util.h"
#include "gitgate/mirror.h"
#include "gitgate/negotiate.h"

/* Packbuilder jobs at once (§6.5); guarded by gg_pack_lock. */
static pthread_mutex_t	 gg_pack_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t	 gg_pack_cond = PTHREAD_COND_INITIALIZER;
static long long	 gg_pack_running;

/* A packbuilder slot within timeout_s; 0, or -1 (busy). */
static int
gg_pack_slot_take(long long limit, long long timeout_s)
{
	struct timespec	 ts;
	int		 rc = 0;

	(void)clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_s;
	pthread_mutex_lock(&gg_pack_lock);
	while (gg_pack_running >= limit && rc == 0)
		rc = pthread_cond_timedwait(&gg_pack_cond, &gg_pack_lock, &ts);
	if (gg_pack_running < limit) {
		gg_pack_running++;
		rc = 0;
	} else
		rc = -1;
	pthread_mutex_unlock(&gg_pack_lock);
	return (rc);
}

static void
gg_pack_slot_put(void)
{
	pthread_mutex_lock(&gg_pack_lock);
	gg_pack_running--;
	pthread_cond_signal(&gg_pack_cond);
	pthread_mutex_unlock(&gg_pack_lock);
}

struct gg_pack_ctx {
	struct gg_neg		*n;
	git_repository		*repo;
	git_packbuilder		*pb;
	struct gg_oidset	 sent_commits;
	struct gg_oidset	 inserted;
	struct gg_oidset	 exclude;
	struct gg_oidvec	 commits;	/* in walk order */
	struct gg_oidvec	 edges;
	int			 fd;
};

/* The one pack of the mirror, opened; -1 when there are several. */
static int
gg_pack_single(git_repository *repo, uint64_t *size)
{
	char		 dir[PATH_MAX], path[PATH_MAX * 2], one[NAME_MAX + 1];
	DIR		*d;
	struct dirent	*de;
	struct stat	 sb;
	size_t		 l;
	int		 n = 0, fd;

	(void)snprintf(dir, sizeof(dir), "%sobjects/pack",
	    git_repository_path(repo));
	if ((d = opendir(dir)) == NULL)
		return (-1);
	while ((de = readdir(d)) != NULL) {
		l = strlen(de->d_name);
		if (l > 5 && strcmp(de->d_name + l - 5, ".pack") == 0) {
			cm_strlcpy(one, de->d_name, sizeof(one));
			n++;
		}
	}
	(void)closedir(d);
	if (n != 1)
		return (-1);
	(void)snprintf(path, sizeof(path), "%s/%s", dir, one);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (-1);
	if (fstat(fd, &sb) == -1 || sb.st_size < 32) {
		(void)close(fd);
		return (-1);
	}
	*size = (uint64_t)sb.st_size;
	return (fd);
}

static int
gg_pack_fast(struct gg_neg *n, git_repository *repo)
{
	git_odb		*odb;
	size_t		 i;
	int		 fd, ok = 1;

	if (n->common.n > 0 || n->shallows.n > 0 || gg_neg_deepening(n) ||
	    !(n->caps & GG_CAP_OFS_DELTA))
		return (0);
	if (git_repository_odb(&odb, repo) != 0)
		return (0);
	for (i = 0; i < n->wants.n && ok; i++)
		ok = git_odb_exists(odb, &n->wants.v[i]);
	git_odb_free(odb);
	if (!ok || (fd = gg_pack_single(repo, &n->pack_size)) == -1)
		return (0);
	n->pack_fd = fd;
	n->fast = 1;
	return (1);
}

/* Every object of a tree the client has, into exclude. */
static int
gg_pack_exclude_tree(struct gg_pack_ctx *p, const git_oid *tid)
{
	git_tree		*t;
	const git_tree_entry	*e;
	size_t			 i, cnt;

	if (gg_oidset_add(&p->exclude, tid) != 1)
		return (0);
	if (git_tree_lookup(&t, p->repo, tid) != 0)
		return (0);	/* the client's, not ours: nothing to skip */
	cnt = git_tree_entrycount(t);
	for (i = 0; i < cnt; i++) {
		e = git_tree_entry_byindex(t, i);
		if (git_tree_entry_type(e) == GIT_OBJECT_TREE)
			(void)gg_pack_exclude_tree(p, git_tree_entry_id(e));
		else if (git_tree_entry_type(e) == GIT_OBJECT_BLOB)
			(void)gg_oidset_add(&p->exclude, git_tree_entry_id(e));
	}
	git_tree_free(t);
	return (0);
}

static int
gg_pack_insert_tree(struct gg_pack_ctx *p, const git_oid *tid)
{
	git_tree		*t;
	const git_tree_entry	*e;
	size_t			 i, cnt;
	int			 rc = 0;

	if (gg_oidset_has(&p->exclude, tid) ||
	    gg_oidset_add(&p->inserted, tid) != 1)
		return (0);
	if (git_packbuilder_insert(p->pb, tid, NULL) != 0 ||
	    git_tree_lookup(&t, p->repo, tid) != 0)
		return (-1);
	cnt = git_tree_entrycount(t);
	for (i = 0; i < cnt && rc == 0; i++) {
		e = git_tree_entry_byindex(t, i);
		switch (git_tree_entry_type(e)) {
		case GIT_OBJECT_TREE:
			rc = gg_pack_insert_tree(p, git_tree_entry_id(e));
			break;
		case GIT_OBJECT_BLOB:
			if (gg_oidset_has(&p->exclude, git_tree_entry_id(e)) ||
			    gg_oidset_add(&p->inserted, git_tree_entry_id(e))
			    != 1)
				break;
			/* The name steers libgit2's delta search. */
			rc = git_packbuilder_insert(p->pb,
			    git_tree_entry_id(e), git_tree_entry_name(e));
			break;
		default:
			break;	/* gitlinks */
		}
	}
	git_tree_free(t);
	return (rc);
}

/* Commits to send without shallow rules: a revwalk does the hiding. */
static int
gg_pack_walk(struct gg_pack_ctx *p)
{
	struct gg_neg	*n = p->n;
	git_revwalk	*rw = NULL;
	git_commit	*c;
	git_oid		 oid;
	size_t		 i;
	unsigned	 k;
	int		 rc = -1, pushed = 0;

	if (git_revwalk_new(&rw, p->repo) != 0)
		return (-1);
	git_revwalk_sorting(rw, GIT_SORT_TOPOLOGICAL | GIT_SORT_TIME);
	for (i = 0; i < n->wants.n; i++) {
		if ((c = gg_neg_commit_of(p->repo, &n->wants.v[i])) == NULL)
			continue;
		if (git_revwalk_push(rw, git_commit_id(c)) == 0)
			pushed = 1;
		git_commit_free(c);
	}
	for (i = 0; i < n->common.n; i++) {
		if ((c = gg_neg_commit_of(p->repo, &n->common.v[i])) == NULL)
			continue;
		(void)git_revwalk_hide(rw, git_commit_id(c));
		git_commit_free(c);
	}
	if (!pushed) {
		rc = 0;
		goto out;
	}
	while ((rc = git_revwalk_next(&oid, rw)) == 0) {
		if (atomic_load(&n->cancel))
			goto out;
		if (gg_oidvec_push(&p->commits, &oid) == -1 ||
		    gg_oidset_add(&p->sent_commits, &oid) == -1)
			goto out;
	}
	if (rc != GIT_ITEROVER)
		goto out;
	/* Parents not sent are what the client has: the boundary. */
	for (i = 0; i < p->commits.n; i++) {
		if (git_commit_lookup(&c, p->repo, &p->commits.v[i]) != 0)
			continue;
		for (k = 0; k < git_commit_parentcount(c); k++)
			if (!gg_oidset_has(&p->sent_commits,
			    git_commit_parent_id(c, k)))
				(void)gg_oidvec_push(&p->edges,
				    git_commit_parent_id(c, k));
		git_commit_free(c);
	}
	rc = 0;
out:
	git_revwalk_free(rw);
	return (rc);
}

/*
 * With shallow commits (the client's and the new boundary) treated as
 * parentless, as git's rev-list --shallow-file does: what the client
 * has is the closure of its haves, what it gets is the closure of the
 * wants minus that.
 */
static int
gg_pack_walk_shallow(struct gg_pack_ctx *p)
{
	struct gg_neg		*n = p->n;
	struct gg_oidset	 have;
	struct gg_oidvec	 stack = { 0 };
	git_commit		*c;
	git_oid			 cur;
	size_t			 i, nw;
	unsigned		 k;
	int			 rc = -1;

	gg_oidset_init(&have, 0);
	for (i = 0; i < n->common.n; i++)
		if ((c = gg_neg_commit_of(p->repo, &n->common.v[i])) != NULL) {
			if (gg_oidset_add(&have, git_commit_id(c)) == 1)
				(void)gg_oidvec_push(&stack, git_commit_id(c));
			git_commit_free(c);
		}
	while (stack.n > 0) {
		git_oid_cpy(&cur, &stack.v[--stack.n]);
		if (atomic_load(&n->cancel))
			goto out;
		if (gg_oidset_has(&n->registered, &cur) ||
		    git_commit_lookup(&c, p->repo, &cur) != 0)
			continue;
		for (k = 0; k < git_commit_parentcount(c); k++)
			if (gg_oidset_add(&have, git_commit_parent_id(c, k))
			    == 1)
				(void)gg_oidvec_push(&stack,
				    git_commit_parent_id(c, k));
		git_commit_free(c);
	}
	nw = n->wants.n + n->extra_wants.n;
	for (i = 0; i < nw; i++) {
		const git_oid *w = i < n->wants.n ? &n->wants.v[i] :
		    &n->extra_wants.v[i - n->wants.n];

		if ((c = gg_neg_commit_of(p->repo, w)) == NULL)
			continue;
		if (!gg_oidset_has(&have, git_commit_id(c)) &&
		    gg_oidset_add(&p->sent_commits, git_commit_id(c)) == 1)
			(void)gg_oidvec_push(&stack, git_commit_id(c));
		git_commit_free(c);
	}
	while (stack.n > 0) {
		git_oid_cpy(&cur, &stack.v[--stack.n]);
		if (atomic_load(&n->cancel))
			goto out;
		if (gg_oidvec_push(&p->commits, &cur) == -1)
			goto out;
		if (gg_oidset_has(&n->registered, &cur) ||
		    git_commit_lookup(&c, p->repo, &cur) != 0)
			continue;
		for (k = 0; k < git_commit_parentcount(c); k++) {
			const git_oid *po = git_commit_parent_id(c, k);

			if (gg_oidset_has(&have, po))
				(void)gg_oidvec_push(&p->edges, po);
			else if (gg_oidset_add(&p->sent_commits, po) == 1)
				(void)gg_oidvec_push(&stack, po);
		}
		git_commit_free(c);
	}
	/* Unshallowed commits: the client has their trees. */
	for (i = 0; i < n->shallows.n; i++)
		if (gg_oidset_has(&n->edges_extra, &n->shallows.v[i]))
			(void)gg_oidvec_push(&p->edges, &n->shallows.v[i]);
	rc = 0;
out:
	gg_oidvec_free(&stack);
	gg_oidset_free(&have);
	return (rc);
}

/* Tag objects: wanted ones, and (include-tag) those on sent commits. */
static int
gg_pack_tags(struct gg_pack_ctx *p)
{
	struct gg_neg	*n = p->n;
	git_object	*o, *t;
	size_t		 i;
	int		 want;

	for (i = 0; i < n->refs->n; i++) {
		const struct gg_ref *r = &n->refs->v[i];
		size_t j;

		if (!r->has_peeled || strncmp(r->name, "refs/tags/", 10) != 0)
			continue;
		want = 0;
		for (j = 0; j < n->wants.n && !want; j++)
			want = git_oid_equal(&n->wants.v[j], &r->oid);
		if (!want && !((n->caps & GG_CAP_INCLUDE_TAG) &&
		    gg_oidset_has(&p->sent_commits, &r->peeled)))
			continue;
		/* The chain of tag objects down to the target. */
		if (git_object_lookup(&o, p->repo, &r->oid, GIT_OBJECT_TAG)
		    != 0)
			continue;
		while (o != NULL && git_object_type(o) == GIT_OBJECT_TAG) {
			if (gg_oidset_add(&p->inserted, git_object_id(o)) ==
			    1 && git_packbuilder_insert(p->pb,
			    git_object_id(o), NULL) != 0) {
				git_object_free(o);
				return (-1);
			}
			t = NULL;
			(void)git_tag_target(&t, (git_tag *)o);
			git_object_free(o);
			o = t;
		}
		git_object_free(o);
	}
	return (0);
}

static int
gg_pack_write_cb(void *buf, size_t size, void *payload)
{
	struct gg_pack_ctx	*p = payload;

	if (atomic_load(&p->n->cancel))
		return (-1);
	if (atomic_load(&p->n->stage) != GG_PS_WRITE) {
		atomic_store(&p->n->done_n, 0);
		atomic_store(&p->n->stage, GG_PS_WRITE);
	}
	atomic_fetch_add(&p->n->done_n, size);
	return (cm_write_all(p->fd, buf, size) == 0 ? 0 : -1);
}

/* libgit2's packbuilder progress: counting, then deltas (§6.5). */
static int
gg_pack_progress_cb(int stage, uint32_t current, uint32_t total,
    void *payload)
{
	struct gg_neg	*n = payload;

	if (atomic_load(&n->cancel))
		return (-1);
	atomic_store(&n->done_n, current);
	atomic_store(&n->total_n, total);
	atomic_store(&n->stage, stage == GIT_PACKBUILDER_ADDING_OBJECTS ?
	    GG_PS_COUNT : GG_PS_DELTA);
	return (0);
}

int
gg_pack_build(struct gg_neg *n, git_repository *repo, const char *tmpdir)
{
	struct gg_pack_ctx	 p;
	git_commit		*c;
	char			 path[PATH_MAX];
	size_t			 i, cnt;
	int			 rc = -1;

	/* What precedes the pack is final: the worker may send it now. */
	atomic_store(&n->out_ready, 1);
	if (gg_pack_fast(n, repo))
		return (0);
	atomic_store(&n->stage, GG_PS_SLOT);
	if (gg_pack_slot_take(n->max_builds, n->queue_timeout_s) == -1) {
		(void)snprintf(n->err, sizeof(n->err), "bb-sidecar: gate busy, "
		    "retry");
		return (-1);
	}
	memset(&p, 0, sizeof(p));
	p.n = n;
	p.repo = repo;
	p.fd = -1;
	gg_oidset_init(&p.sent_commits, 0);
	gg_oidset_init(&p.inserted, 0);
	gg_oidset_init(&p.exclude, 0);
	if (git_packbuilder_new(&p.pb, repo) != 0)
		goto fail;
	git_packbuilder_set_threads(p.pb, 2);
	atomic_store(&n->stage, GG_PS_COUNT);
	(void)git_packbuilder_set_callbacks(p.pb, gg_pack_progress_cb, n);
	if ((n->registered.n > 0 ? gg_pack_walk_shallow(&p) :
	    gg_pack_walk(&p)) == -1)
		goto fail;
	for (i = 0; i < p.edges.n; i++)
		if (git_commit_lookup(&c, repo, &p.edges.v[i]) == 0) {
			(void)gg_pack_exclude_tree(&p, git_commit_tree_id(c));
			git_commit_free(c);
		}
	for (i = 0; i < p.commits.n; i++) {
		if (atomic_load(&n->cancel))
			goto fail;
		if (git_commit_lookup(&c, repo, &p.commits.v[i]) != 0)
			goto fail;
		rc = git_packbuilder_insert(p.pb, &p.commits.v[i], NULL);
		if (rc == 0)
			rc = gg_pack_insert_tree(&p, git_commit_tree_id(c));
		git_commit_free(c);
		if (rc != 0)
			goto fail;
		if ((long long)git_packbuilder_object_count(p.pb) >
		    n->max_objects)
			break;
	}
	rc = -1;
	/* Wanted trees and blobs (rare, but allowed). */
	for (i = 0; i < n->wants.n; i++) {
		git_object_t	 type;
		git_odb		*odb;
		size_t		 len;

		if (git_repository_odb(&odb, repo) != 0)
			goto fail;
		if (git_odb_read_header(&len, &type, odb, &n->wants.v[i]) ==
		    0) {
			if (type == GIT_OBJECT_TREE)
				(void)gg_pack_insert_tree(&p, &n->wants.v[i]);
			else if (type == GIT_OBJECT_BLOB &&
			    gg_oidset_add(&p.inserted, &n->wants.v[i]) == 1)
				(void)git_packbuilder_insert(p.pb,
				    &n->wants.v[i], NULL);
		}
		git_odb_free(odb);
	}
	if (gg_pack_tags(&p) == -1)
		goto fail;
	cnt = git_packbuilder_object_count(p.pb);
	if ((long long)cnt > n->max_objects) {
		(void)snprintf(n->err, sizeof(n->err), "bb-sidecar: request "
		    "needs more than %zu objects (limit %lld); fetch without "
		    "--depth or in smaller steps", cnt, n->max_objects);
		goto out;
	}
	(void)snprintf(path, sizeof(path), "%s/.pack-XXXXXX", tmpdir);
	if ((p.fd = mkstemp(path)) == -1)
		goto fail;
	(void)unlink(path);
	if (git_packbuilder_foreach(p.pb, gg_pack_write_cb, &p) != 0)
		goto fail;
	if (lseek(p.fd, 0, SEEK_SET) == -1)
		goto fail;
	n->pack_size = (uint64_t)lseek(p.fd, 0, SEEK_END);
	(void)lseek(p.fd, 0, SEEK_SET);
	n->pack_fd = p.fd;
	p.fd = -1;
	n->pack_objects = cnt;
	n->ncommits = p.commits.n;
	rc = 0;
	goto out;
fail:
	if (n->err[0] == '\0')
		(void)snprintf(n->err, sizeof(n->err), "bb-sidecar: cannot "
		    "build the pack: %s", atomic_load(&n->cancel) ? "cancelled"
		    : git_error_last() != NULL ? git_error_last()->message :
		    strerror(errno));
out:
	if (p.fd != -1)
		(void)close(p.fd);
	git_packbuilder_free(p.pb);
	gg_oidset_free(&p.sent_commits);
	gg_oidset_free(&p.inserted);
	gg_oidset_free(&p.exclude);
	gg_oidvec_free(&p.commits);
	gg_oidvec_free(&p.edges);
	gg_pack_slot_put();
	return (rc);
}
