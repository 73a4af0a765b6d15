/*
 * Upstream SSH connections through libgit2/libssh2 (spec/gitgate.md §5):
 * the key, exact host-key pinning, and the timeouts libgit2 1.5 lacks.
 *
 * A struct gg_up lives for one upstream operation (a refresh or a
 * forward).  It is made and freed on a worker, whose event base runs
 * its watchdog; the job thread runs libgit2 with gg_up_callbacks().
 * The job thread is marked while it runs the operation, so the process's
 * connect(2) (interposed here) connects non-blocking within the
 * deadline and records a duplicate of the socket, which the watchdog
 * shuts down on a stall, a deadline or a cancel so libgit2 returns.
 */
#ifndef GG_UPSTREAM_H
#define GG_UPSTREAM_H

#include <stddef.h>

#include <git2.h>

struct cm_settings;
struct cm_worker;
struct gg_cfg;
struct gg_repo;
struct gg_up;

/* On the worker: total_s bounds the whole operation. */
struct gg_up	*gg_up_new(struct cm_worker *home, const struct gg_cfg *cfg,
		    const struct gg_repo *repo, const struct cm_settings *s,
		    int total_s);
/* On the worker, after the job's run() returned. */
void		 gg_up_free(struct gg_up *u);
/* Any thread: stop the operation (client gone, shutdown). */
void		 gg_up_cancel(struct gg_up *u, const char *why);

/* Job thread: around the libgit2 calls. */
void		 gg_up_begin(struct gg_up *u);
/* Connected and authenticated: the I/O stall clock takes over. */
void		 gg_up_connected(struct gg_up *u);
void		 gg_up_end(struct gg_up *u);
int		 gg_up_cancelled(struct gg_up *u);
/* Credentials, certificate check and progress hooks; payload is u. */
void		 gg_up_callbacks(struct gg_up *u, git_remote_callbacks *cb);
/* The caller's data for its own callbacks (their payload is u). */
void		 gg_up_set_user(struct gg_up *u, void *user);
void		*gg_up_user(struct gg_up *u);
/* Progress seen (the gate's own callbacks call this). */
void		 gg_up_progress(struct gg_up *u);
/*
 * The message for a failed libgit2 call: host key mismatch, timeouts,
 * refused connections and rejected keys in the gate's words, otherwise
 * libgit2's text; sanitised (§5.1) into out.
 */
const char	*gg_up_error(struct gg_up *u, int rc, char *out, size_t outlen);
/* Text from upstream or libgit2 made safe to show (§5.1). */
void		 gg_up_sanitize(const struct gg_cfg *cfg, const char *in,
		    size_t len, char *out, size_t outlen);

#endif /* GG_UPSTREAM_H */
