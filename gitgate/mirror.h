/*
 * Mirrors (spec/gitgate.md §4): STATE_DIR/git/NAME.git, created on first
 * use, refreshed from upstream before every ref list, with per-repo
 * locks and shared refreshes.  Everything that touches libgit2 runs on
 * the job pool; gg_mirror_prepare() is the worker's entry point.
 */
#ifndef GG_MIRROR_H
#define GG_MIRROR_H

#include <stdatomic.h>
#include <stddef.h>

#include <git2.h>

struct cm_snap;
struct cm_worker;
struct gg_cfg;
struct gg_repo;

struct gg_ref {
	char		*name;
	git_oid		 oid;
	git_oid		 peeled;	/* annotated tags: the target */
	int		 has_peeled;
};

/* A ref list at one moment; immutable and shared once made. */
struct gg_refs {
	atomic_int	 refcnt;
	struct gg_ref	*v;		/* bytewise order */
	size_t		 n;
	char		*head;		/* HEAD's target, or NULL */
	git_oid		 head_oid;
	int		 head_ok;	/* HEAD resolves */
};

struct gg_refs	*gg_refs_ref(struct gg_refs *r);
void		 gg_refs_unref(struct gg_refs *r);
const struct gg_ref *gg_refs_find(const struct gg_refs *r, const char *name);
/* 1 if oid is a tip or a peeled tip of r. */
int		 gg_refs_has_oid(const struct gg_refs *r, const git_oid *oid);

/*
 * The worker's side: cb(arg, refs, err, refresh) runs later on w with a
 * reference to refs (NULL and err on failure).  refresh is "ok",
 * "failed", "shared" or "skipped" (§13).  With do_refresh 0 only the
 * current refs are listed (HTTP POSTs, §4.3).
 */
typedef void	(*gg_mirror_cb)(void *arg, struct gg_refs *refs,
		    const char *err, const char *refresh);
int		 gg_mirror_prepare(struct cm_worker *w, struct cm_snap *snap,
		    const struct gg_repo *repo, int do_refresh, gg_mirror_cb cb,
		    void *arg);

/* ---- job threads ---- */

/* STATE_DIR/git/NAME.git into buf. */
void		 gg_mirror_path(const struct gg_cfg *cfg,
		    const struct gg_repo *repo, char *buf, size_t size);
/*
 * Opens the mirror, creating it (or recreating it after a url change or
 * when it cannot be opened, §4.1).  0, or -1 with err.
 */
int		 gg_mirror_open(const struct gg_cfg *cfg,
		    const struct gg_repo *repo, git_repository **out, char *err,
		    size_t errlen);
/* The heads, tags and HEAD of repo; NULL with err. */
struct gg_refs	*gg_mirror_refs(git_repository *repo, char *err,
		    size_t errlen);

/* Per-repo locks (§4.4), made on first use and kept for the process. */
struct gg_mstate;
struct gg_mstate *gg_mirror_state(const char *name);
void		 gg_mirror_upstream_lock(struct gg_mstate *st);
void		 gg_mirror_upstream_unlock(struct gg_mstate *st);
void		 gg_mirror_objects_rdlock(struct gg_mstate *st);
void		 gg_mirror_objects_wrlock(struct gg_mstate *st);
/* The exclusive lock within secs seconds: 0, or -1 when not free. */
int		 gg_mirror_objects_wrlock_timed(struct gg_mstate *st,
		    int secs);
void		 gg_mirror_objects_unlock(struct gg_mstate *st);

/* The number of packs in repo's objects/pack. */
size_t		 gg_mirror_npacks(git_repository *repo);
/* Startup: deletes each bb-incoming dir left by a previous run (§4.1). */
void		 gg_mirror_sweep_incoming(const struct gg_cfg *cfg);
/* rm -rf of a directory the gate made; 0 or -1. */
int		 gg_mirror_rmtree(const char *path);

#endif /* GG_MIRROR_H */
