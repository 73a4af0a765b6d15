/*
 * Pushed pack intake (spec/gitgate.md §7.3): a quarantine repository
 * NAME.git/bb-incoming/ID whose objects/info/alternates names the
 * mirror's objects, and libgit2's indexer fed in pieces by short jobs
 * (no job ever waits for the network).  Job threads only, one at a time.
 */
#ifndef GG_INTAKE_H
#define GG_INTAKE_H

#include <limits.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <git2.h>

#include "gitgate/packscan.h"

struct gg_cfg;
struct gg_repo;

struct gg_intake {
	char			 qpath[PATH_MAX];	/* the quarantine */
	git_odb			*odb;	/* the quarantine's (+ mirror) */
	git_indexer		*idx;
	git_indexer_progress	 stats;
	struct gg_packscan	 ps;
	uint64_t		 bytes;
	uint64_t		 max_bytes;
	int			 discarding;	/* after an error */
	int			 complete;	/* trailer seen, indexed */
	int			 failed;
	int			 limit;		/* the failure was a limit */
	char			 err[256];	/* "unpack <err>" */
	char			 packname[64];	/* pack-HASH once committed */
	atomic_int		*cancel;	/* the push's flag */
};

/*
 * Creates the quarantine (bare, alternates to the mirror) at
 * mirror/bb-incoming/<id>.  0, or -1 with err.
 */
int	 gg_intake_quarantine(const struct gg_cfg *cfg,
	    const struct gg_repo *repo, char *path, size_t size, char *err,
	    size_t errlen);
/* Starts indexing into the quarantine at path.  NULL with err. */
struct gg_intake *gg_intake_new(const char *qpath, uint64_t max_bytes,
	    uint64_t max_objects, uint64_t max_object_bytes, char *err,
	    size_t errlen);
/*
 * Feeds pack bytes.  Returns how many were part of the pack; sets
 * complete once the pack is whole and indexed, or failed with err (the
 * rest of the pack is then only walked, to find its end).  *extra is set
 * when bytes follow the pack.
 */
size_t	 gg_intake_feed(struct gg_intake *in, const unsigned char *buf,
	    size_t len, int *extra);
/* The stream ended before the pack did. */
void	 gg_intake_truncated(struct gg_intake *in);
void	 gg_intake_free(struct gg_intake *in);

#endif /* GG_INTAKE_H */
