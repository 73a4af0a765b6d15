/* Merging a mirror's packs into one (spec/gitgate.md §4.5). */
#ifndef GG_MERGE_H
#define GG_MERGE_H

struct cm_snap;
struct cm_worker;
struct gg_repo;
struct gg_worker;

/*
 * On a worker, after a refresh or an apply added a pack: a merge job
 * runs 5 s later (on the pool, one per process at a time).
 */
void	 gg_merge_schedule(struct cm_worker *w, struct cm_snap *snap,
	    const struct gg_repo *repo);

/* The worker ends: pending merges are dropped. */
void	 gg_merge_worker_free(struct gg_worker *gw);

#endif /* GG_MERGE_H */
