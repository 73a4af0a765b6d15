/*
 * One push through the gate (spec/gitgate.md §7-§10): its commands, the
 * quarantine, the scan's findings and the forward's results.  The
 * worker owns a struct gg_push; at most one job works on it at a time
 * (precheck, intake pieces, check and scan, forward and apply, discard).
 */
#ifndef GG_PUSH_H
#define GG_PUSH_H

#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <git2.h>

#include "common/bounds.h"

struct cm_scanset;
struct cm_settings;
struct evbuffer;
struct gg_cfg;
struct gg_intake;
struct gg_repo;
struct gg_up;

enum gg_cmd_state {
	GG_CMD_PENDING,		/* still going */
	GG_CMD_NG,		/* refused; reason says why */
	GG_CMD_OK,		/* upstream took it */
};

struct gg_cmd {
	char			*ref;
	git_oid			 old;
	git_oid			 new;
	int			 create;	/* old is zero */
	int			 del;		/* new is zero */
	int			 force;		/* a permitted force update */
	enum gg_cmd_state	 state;
	const char		*token;		/* §7.5 reason token */
	char			 reason[320];	/* the ng text */
	int			 leased_out;	/* lease mismatch: left out */
};

enum gg_finding_kind {
	GG_FIND_PATTERN,
	GG_FIND_KNOWN,
};

struct gg_finding {
	const char		*ref;		/* a command's ref */
	git_oid			 commit;
	char			 file[256];	/* or "(commit message)"... */
	size_t			 line;
	char			 rule[128];
	enum gg_finding_kind	 kind;
	int			 suppressible;
	int			 suppressed;
	char			 context[GG_CONTEXT_BYTES * 2 + 64];
	char			 source[128];	/* known: the secret's name */
};

struct gg_push {
	const struct gg_cfg	*cfg;		/* the session's snap */
	const struct gg_repo	*repo;
	const struct cm_settings *settings;
	struct cm_scanset	*scanset;	/* borrowed from cfg */
	struct gg_cmd		*cmds;
	size_t			 ncmds;
	int			 need_pack;
	char			 qpath[PATH_MAX];	/* "" until made */
	struct gg_intake	*in;
	atomic_int		 cancel;
	/* The scan (pushscan.c). */
	struct gg_finding	*findings;
	size_t			 nfindings;
	size_t			 nlost;		/* past GG_MAX_FINDINGS_KEPT */
	size_t			 nunsuppressed;
	size_t			 nsuppressed;
	size_t			 commits_scanned;
	size_t			 finding_commits;
	uint64_t		 bytes_scanned;
	size_t			 files_skipped;
	char			 skip_example[256];
	/* The forward (forward.c). */
	struct gg_up		*up;
	char			 upstream[64];	/* ok/partial/rejected/... */
	struct evbuffer		*msgs;		/* band-2 lines from jobs */
	size_t			 upstream_lines;
	char			 sideband_part[512];
	size_t			 sideband_len;
	size_t			 up_bytes;	/* pack bytes sent upstream */
	char			 up_err[GG_MSG_BYTES + 1];
	int			 apply_failed;
	char			 apply_err[256];
	char			 job_err[512];	/* a job that failed outright */
};

/* The §7.5 refusal on one command. */
void	 gg_push_ng(struct gg_cmd *c, const char *token, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* Commands still going. */
size_t	 gg_push_pending(const struct gg_push *p);

/* pushscan.c (job): §7.2 (old values, names), §7.4 and §8. 0 or -1. */
int	 gg_push_precheck(struct gg_push *p);
int	 gg_push_check(struct gg_push *p);
/* forward.c (job): §10 forward, lease, apply; always cleans up. */
void	 gg_push_forward(struct gg_push *p);
/* Deletes the quarantine (job). */
void	 gg_push_discard(struct gg_push *p);

#endif /* GG_PUSH_H */
