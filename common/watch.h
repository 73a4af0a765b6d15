/*
 * Polling the config dir (DESIGN.md "Runtime model"): a change is
 * reported only once the files' size, mtime, inode and content hash are
 * unchanged across one more poll, so a half-written file is never
 * loaded, and a touch that leaves the content alone is no change.
 */
#ifndef CM_WATCH_H
#define CM_WATCH_H

struct cm_watch;

/* Watches config_dir, its secrets/ and extra (may be NULL). */
struct cm_watch	*cm_watch_new(const char *config_dir, const char *extra);
void		 cm_watch_free(struct cm_watch *w);
/* Call every poll; 1 when a settled change should be loaded. */
int		 cm_watch_poll(struct cm_watch *w);
/* The state seen by the last poll is what is now loaded. */
void		 cm_watch_loaded(struct cm_watch *w);
/* Rescans now (before a SIGHUP load, then cm_watch_loaded()). */
void		 cm_watch_resync(struct cm_watch *w);

#endif /* CM_WATCH_H */
