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
	int	 scan_bytes;
	int	 scan_skip_binary;
	int	 scan_skip_size;
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
/* Registers a declared repo's series (start and each reload). */
void			 gg_metrics_repo_init(const char *repo);

/* The families labelled by repo (§14), first label repo="NAME". */
enum gg_mfamily {
	GG_MF_FETCHES,		/* result, path="fast|packbuilder" */
	GG_MF_PUSHES,		/* result, reason */
	GG_MF_REFRESH,		/* result="ok|failed" */
	GG_MF_REFRESH_SHARED,
	GG_MF_BYTES,		/* dir */
};

/* bytes_total's dir label, in this order (gg_sess caches the slots). */
enum gg_mdir {
	GG_MD_CLIENT_IN,
	GG_MD_CLIENT_OUT,
	GG_MD_UPSTREAM_IN,
	GG_MD_UPSTREAM_OUT,
	GG_MD_COUNT
};
extern const char *const gg_mdir_names[GG_MD_COUNT];

/*
 * The slot of family f for repo with the further labels fmt (already
 * formatted as k="v",... or NULL), registered on first use from any
 * thread; -1 when the registry is full (cm_metric_add ignores -1).
 */
/* The slot of bb_gitgate_findings_total for rule (registered on first use). */
int			 gg_metric_finding(const char *rule, int suppressed);
int			 gg_metric_repo(enum gg_mfamily f, const char *repo,
			    const char *fmt, ...)
			    __attribute__((format(printf, 3, 4)));

#endif /* GG_GG_H */
