/*
 * gitgate's shared internals: the per-worker state, the process-wide
 * state and the metric slots.  Only gitgate/ includes this.
 */
#ifndef GG_GG_H
#define GG_GG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

struct cm_snap;
struct cm_worker;
struct gg_cfg;
struct gg_conn;

/* Per worker: its connections (front_*.c, conn.c). */
struct gg_merge;

struct gg_worker {
	struct cm_worker		*w;
	TAILQ_HEAD(, gg_conn)		 conns;
	TAILQ_HEAD(, gg_merge)		 merges;	/* merge.c */
	size_t				 nconns;
	uint64_t			 next_id;
};

/* Metric slots (gmetrics.c), registered at start. */
struct gg_metrics {
	int	 conns_git;
	int	 conns_http;
	int	 fetch_ok;
	int	 fetch_failed;
	int	 fetch_fast;
	int	 push_accepted;
	int	 push_rejected;
	int	 push_partial;
	int	 refresh_ok;
	int	 refresh_failed;
	int	 refresh_shared;
	int	 scan_bytes;
	int	 scan_skip_binary;
	int	 scan_skip_size;
	int	 findings;
	int	 findings_suppressed;
	int	 bytes_in;
	int	 bytes_out;
	int	 approvals[5];		/* approved rejected timeout
					   unavailable withdrawn */
	int	 held;
	int	 requests;
	int	 refusals;
};

extern struct gg_metrics	 gg_m;

const struct gg_cfg	*gg_cfg_of(const struct cm_snap *snap);
struct gg_worker	*gg_worker_of(struct cm_worker *w);
/* The version string in agent=bb-sidecar/<version>. */
const char		*gg_agent(void);
/* Pushes in progress process-wide (max_concurrent_pushes). */
int			 gg_push_slot_take(long long limit);
void			 gg_push_slot_put(void);

/* gmetrics.c */
void			 gg_metrics_init(void);

#endif /* GG_GG_H */
