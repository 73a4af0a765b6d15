/*
 * upload-pack's object negotiation (spec/gitgate.md §6.2-§6.5) as git
 * 2.39's upload-pack does it, and the pack that follows.  A struct
 * gg_neg is filled by the worker from the client's lines and used by one
 * job at a time (never two at once); jobs write their pkt-lines into
 * n->out, which the worker then sends.
 */
#ifndef GG_NEGOTIATE_H
#define GG_NEGOTIATE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <git2.h>

#include "gitgate/oidset.h"

struct evbuffer;
struct gg_cfg;
struct gg_refs;
struct gg_repo;

/* Client capabilities (the first want line). */
#define GG_CAP_MULTI_ACK_DETAILED	0x0001
#define GG_CAP_MULTI_ACK		0x0002
#define GG_CAP_SIDE_BAND		0x0004
#define GG_CAP_SIDE_BAND_64K		0x0008
#define GG_CAP_OFS_DELTA		0x0010
#define GG_CAP_NO_PROGRESS		0x0020
#define GG_CAP_INCLUDE_TAG		0x0040
#define GG_CAP_THIN_PACK		0x0080
#define GG_CAP_SHALLOW			0x0100
#define GG_CAP_FILTER			0x0200
#define GG_CAP_DEEPEN_RELATIVE		0x0400

/* git's INFINITE_DEPTH: what --unshallow sends. */
#define GG_DEPTH_INFINITE		0x7fffffff

struct gg_neg {
	/* From the client (worker). */
	struct gg_oidvec	 wants;
	struct gg_oidvec	 shallows;	/* the client's shallow lines */
	struct gg_oidvec	 haves;		/* this round's */
	int			 depth;		/* deepen N; 0 none */
	int64_t			 since;		/* deepen-since; 0 none */
	struct gg_strvec	 nots;		/* deepen-not refs */
	int			 relative;	/* deepen-relative */
	unsigned		 caps;
	int			 done;		/* this round ended in done */
	int			 stateless;
	struct gg_refs		*refs;		/* referenced */
	const struct gg_cfg	*cfg;
	const struct gg_repo	*repo;
	long long		 max_objects;	/* max_packbuild_objects */
	long long		 max_builds;	/* max_concurrent_packbuilds */
	long long		 queue_timeout_s; /* job_queue_timeout_s */
	atomic_int		 cancel;
	/* Kept across rounds (jobs). */
	struct gg_oidset	 they_have;
	struct gg_oidvec	 common;	/* git's have_obj */
	git_oid			 last;		/* last common have */
	int			 got_common;
	int			 got_other;
	int			 ready;		/* every want reaches a have */
	size_t			 ready_checked;	/* they_have.n at last "no" */
	int64_t			 oldest_have;
	/* Shallow state (deepen). */
	struct gg_oidvec	 extra_wants;	/* parents of unshallowed */
	struct gg_oidset	 registered;	/* treated as parentless */
	struct gg_oidset	 edges_extra; /* unshallowed client shallows */
	int			 deepened;
	/* Output of the last job. */
	struct evbuffer		*out;		/* owned */
	char			 err[512]; /* after a failed job: the ERR */
	/* The pack (pack.c). */
	int			 pack_fd;	/* -1 */
	uint64_t		 pack_size;
	int			 fast;
	size_t			 pack_objects;
	size_t			 ncommits;
	/*
	 * Progress of a pack build (§6.5), written by the job and read by
	 * the worker's tick.  out_ready: n->out is complete (the final
	 * ACK/NAK or v2 sections up to "packfile"), the job will not touch
	 * it again, so the worker may send it and start the sideband.
	 */
	atomic_int		 out_ready;
	atomic_int		 stage;		/* enum gg_pack_stage */
	atomic_size_t		 done_n;
	atomic_size_t		 total_n;
};

enum gg_pack_stage {
	GG_PS_NONE,
	GG_PS_SLOT,		/* waiting for a packbuilder slot */
	GG_PS_COUNT,		/* done_n objects found */
	GG_PS_DELTA,		/* done_n of total_n deltified */
	GG_PS_WRITE,		/* done_n bytes written */
};

struct gg_neg	*gg_neg_new(const struct gg_cfg *cfg,
		    const struct gg_repo *repo, struct gg_refs *refs,
		    int stateless);
void		 gg_neg_free(struct gg_neg *n);

/* A deepen, deepen-since or deepen-not was asked for. */
#define gg_neg_deepening(n)	((n)->depth > 0 || (n)->since > 0 || \
				    (n)->nots.n > 0)

/* Job threads.  Each returns 0, or -1 with n->err set. */
/* The commit behind oid (tags peeled), or NULL for other objects. */
git_commit	*gg_neg_commit_of(git_repository *repo, const git_oid *oid);
/* §6.2: every want is advertised (or, stateless, reachable). */
int		 gg_neg_check_wants(struct gg_neg *n, git_repository *repo);
/* §6.4: the shallow/unshallow lines (no flush) into n->out. */
int		 gg_neg_deepen(struct gg_neg *n, git_repository *repo);
/* §6.3: this round's haves, then its flush or done, into n->out. */
int		 gg_neg_haves(struct gg_neg *n, git_repository *repo);
/*
 * §6.6: a v2 fetch: wants, the acknowledgments section, shallow-info
 * and the "packfile" line into n->out; the pack when one follows
 * (n->done is then set).
 */
int		 gg_neg_v2_fetch(struct gg_neg *n, git_repository *repo,
		    const char *tmpdir);
/* §6.5: builds the pack (n->pack_fd, n->pack_size). */
int		 gg_pack_build(struct gg_neg *n, git_repository *repo,
		    const char *tmpdir);

#endif /* GG_NEGOTIATE_H */
