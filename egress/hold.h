/*
 * supervise holds (spec/egress.md §9.3): one egress-token-allow proposal
 * per scan step through the shared queue (common/queue.h), the request
 * paused without blocking any thread, resumed only by `approved`.
 */
#ifndef EG_HOLD_H
#define EG_HOLD_H

struct cm_snap;
struct eg_conn;
struct eg_dlp_hits;
struct eg_hold;
struct eg_refusal;

/*
 * Called once on the connection's worker: approved 1 (the values are
 * on the safelist now), or 0 with the refusal to answer.  Not called
 * after eg_hold_cancel().
 */
typedef void	(*eg_hold_cb)(void *owner, int approved,
		    const struct eg_refusal *r);

/*
 * Submits the hold; path is the target with every value already
 * written as [REDACTED rule=RULE len=N].  NULL (and *r) when no hold
 * can be made; the caller refuses then.
 */
struct eg_hold	*eg_hold_start(struct eg_conn *c, const struct cm_snap *snap,
		    const char *host, int port, const char *method,
		    const char *path, const struct eg_dlp_hits *hs,
		    eg_hold_cb cb, void *owner, struct eg_refusal *r);
/* The request went away: drop the wait (the proposal stays pending). */
void		 eg_hold_cancel(struct eg_hold *h);
/* Registers the hold metrics (startup). */
void		 eg_hold_metrics_init(void);

#endif /* EG_HOLD_H */
