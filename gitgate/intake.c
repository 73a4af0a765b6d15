/*
 * The quarantine and the indexer of a push (spec/gitgate.md §7.3).  The
 * stream is walked (packscan.c) before libgit2 sees it, so limits bite
 * at the header and per object, and the end of a git:// push is known.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "common/bounds.h"
#include "common/util.h"
#include "gitgate/conf.h"
#include "gitgate/intake.h"
#include "gitgate/mirror.h"

/*
 * The forward's packbuilder reads its limits from the quarantine's config
 * (git_packbuilder_new): without them it keeps a window of ten whole
 * blobs plus their delta indexes, and up to 256 MiB of cached deltas.
 * libgit2 1.5 takes its big-file threshold (no deltas above it) from
 * pack.deltaCacheSize rather than core.bigFileThreshold, so both are set
 * to the same bound.
 */
static int
gg_intake_pack_limits(git_repository *q)
{
	git_config	*cfg = NULL;
	int		 rc;

	rc = git_repository_config(&cfg, q) != 0 ||
	    git_config_set_int64(cfg, "pack.windowMemory",
	    GG_FWD_WINDOW_BYTES) != 0 ||
	    git_config_set_int64(cfg, "pack.deltaCacheSize",
	    GG_FWD_BIG_FILE_BYTES) != 0 ||
	    git_config_set_int64(cfg, "core.bigFileThreshold",
	    GG_FWD_BIG_FILE_BYTES) != 0 ? -1 : 0;
	git_config_free(cfg);
	return (rc);
}

int
gg_intake_quarantine(const struct gg_cfg *cfg, const struct gg_repo *repo,
    char *path, size_t size, char *err, size_t errlen)
{
	git_repository_init_options	 io;
	git_repository			*q = NULL;
	unsigned char			 rnd[8];
	char				 mirror[PATH_MAX], dir[PATH_MAX + 16];
	char				 alt[PATH_MAX + 64];
	char				 line[PATH_MAX + 16];
	int				 fd, n;

	gg_mirror_path(cfg, repo, mirror, sizeof(mirror));
	(void)snprintf(dir, sizeof(dir), "%s/bb-incoming", mirror);
	if (mkdir(dir, 0700) == -1 && errno != EEXIST) {
		(void)snprintf(err, errlen, "cannot make the quarantine: %s",
		    strerror(errno));
		return (-1);
	}
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		(void)snprintf(err, errlen, "no randomness");
		return (-1);
	}
	(void)snprintf(path, size, "%s/%02x%02x%02x%02x%02x%02x%02x%02x", dir,
	    rnd[0], rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]);
	(void)git_repository_init_options_init(&io,
	    GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	io.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH |
	    GIT_REPOSITORY_INIT_NO_REINIT;
	if (git_repository_init_ext(&q, path, &io) != 0) {
		(void)snprintf(err, errlen, "cannot make the quarantine: %s",
		    git_error_last() != NULL ? git_error_last()->message : "?");
		return (-1);
	}
	if (gg_intake_pack_limits(q) == -1) {
		(void)snprintf(err, errlen, "cannot configure the quarantine: "
		    "%s", git_error_last() != NULL ?
		    git_error_last()->message : "?");
		git_repository_free(q);
		(void)gg_mirror_rmtree(path);
		return (-1);
	}
	git_repository_free(q);
	/* The mirror's objects complete thin packs and back the checks. */
	(void)snprintf(alt, sizeof(alt), "%s/objects/info/alternates", path);
	n = snprintf(line, sizeof(line), "%s/objects\n", mirror);
	if ((fd = open(alt, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600))
	    == -1 || cm_write_all(fd, line, (size_t)n) == -1) {
		(void)snprintf(err, errlen, "cannot write the quarantine's "
		    "alternates: %s", strerror(errno));
		if (fd != -1)
			(void)close(fd);
		(void)gg_mirror_rmtree(path);
		return (-1);
	}
	(void)close(fd);
	return (0);
}

static int
gg_intake_progress_cb(const git_indexer_progress *stats, void *payload)
{
	struct gg_intake	*in = payload;

	return (in->cancel != NULL && atomic_load(in->cancel) ? -1 : 0);
}

struct gg_intake *
gg_intake_new(const char *qpath, uint64_t max_bytes, uint64_t max_objects,
    uint64_t max_object_bytes, char *err, size_t errlen)
{
	struct gg_intake	*in;
	git_repository		*q = NULL;
	git_indexer_options	 opts;
	char			 pack[PATH_MAX + 16];

	if ((in = calloc(1, sizeof(*in))) == NULL) {
		(void)snprintf(err, errlen, "out of memory");
		return (NULL);
	}
	cm_strlcpy(in->qpath, qpath, sizeof(in->qpath));
	in->max_bytes = max_bytes;
	gg_packscan_init(&in->ps, max_objects, max_object_bytes);
	(void)snprintf(pack, sizeof(pack), "%s/objects/pack", qpath);
	(void)git_indexer_options_init(&opts, GIT_INDEXER_OPTIONS_VERSION);
	opts.progress_cb = gg_intake_progress_cb;
	opts.progress_cb_payload = in;
	opts.verify = 1;
	if (git_repository_open_bare(&q, qpath) != 0 ||
	    git_repository_odb(&in->odb, q) != 0 ||
	    git_indexer_new(&in->idx, pack, 0600, in->odb, &opts) != 0) {
		(void)snprintf(err, errlen, "cannot start indexing: %s",
		    git_error_last() != NULL ? git_error_last()->message : "?");
		git_repository_free(q);
		gg_intake_free(in);
		return (NULL);
	}
	git_repository_free(q);
	return (in);
}

static void
gg_intake_fail(struct gg_intake *in, const char *msg)
{
	if (in->failed)
		return;
	in->failed = 1;
	in->discarding = 1;
	cm_strlcpy(in->err, msg, sizeof(in->err));
}

size_t
gg_intake_feed(struct gg_intake *in, const unsigned char *buf, size_t len,
    int *extra)
{
	ssize_t		 n;
	size_t		 take;
	char		 lim[64], msg[128];

	*extra = 0;
	if (in->complete || in->ps.state == GG_PS_DONE) {
		*extra = len > 0;
		return (0);
	}
	if (in->ps.state == GG_PS_FAILED)
		return (len);	/* the end cannot be found: all discarded */
	n = gg_packscan_feed(&in->ps, buf, len);
	if (n == -1) {
		if (!in->failed) {
			in->limit = in->ps.limit;
			gg_intake_fail(in, in->ps.why);
		}
		return (len);
	}
	take = (size_t)n;
	if (take < len)
		*extra = 1;
	in->bytes += take;
	if (!in->discarding && in->bytes > in->max_bytes) {
		if (in->max_bytes % (1024 * 1024) == 0)
			(void)snprintf(lim, sizeof(lim), "%llu MiB",
			    (unsigned long long)(in->max_bytes >> 20));
		else
			(void)snprintf(lim, sizeof(lim), "%llu bytes",
			    (unsigned long long)in->max_bytes);
		(void)snprintf(msg, sizeof(msg), "pack exceeds max_pack_bytes "
		    "(%s)", lim);
		in->limit = 1;
		gg_intake_fail(in, msg);
	}
	/* After a failure the stream is only walked (to answer in time). */
	if (!in->discarding && take > 0 && git_indexer_append(in->idx, buf,
	    take, &in->stats) != 0)
		gg_intake_fail(in, git_error_last() != NULL ?
		    git_error_last()->message : "indexer error");
	if (in->ps.state == GG_PS_DONE && !in->discarding) {
		if (git_indexer_commit(in->idx, &in->stats) != 0)
			gg_intake_fail(in, git_error_last() != NULL ?
			    git_error_last()->message : "indexer error");
		else {
			cm_strlcpy(in->packname, git_indexer_name(in->idx),
			    sizeof(in->packname));
			in->complete = 1;
		}
	}
	return (take);
}

void
gg_intake_truncated(struct gg_intake *in)
{
	if (!in->complete)
		gg_intake_fail(in, in->bytes == 0 ? "no pack data" :
		    "the pack is truncated");
}

void
gg_intake_free(struct gg_intake *in)
{
	if (in == NULL)
		return;
	git_indexer_free(in->idx);
	git_odb_free(in->odb);
	gg_packscan_free(&in->ps);
	free(in);
}
