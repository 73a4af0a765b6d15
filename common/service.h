/*
 * What a service (egress, gitgate, supervise) gives the runtime.  The
 * runtime owns threads, listeners, snapshots and signals; a service
 * owns its connections.  common/ calls services only through this table
 * (STYLE.md 3.3).
 */
#ifndef CM_SERVICE_H
#define CM_SERVICE_H

#include <stddef.h>
#include <stdio.h>
#include <sys/socket.h>

#include "common/settings.h"

struct cm_cfg_ctx;
struct cm_routes;
struct cm_snap;
struct cm_worker;
struct evbuffer;

enum cm_svc_id {
	CM_SVC_EGRESS,
	CM_SVC_GITGATE,
	CM_SVC_SUPERVISE,
	CM_SVC_COUNT
};

/* Where a service's config files are found, and what else it may use. */
struct cm_load_env {
	const char		*config_dir;
	const char		*state_dir;
	const struct cm_settings *settings;	/* of the snapshot being built */
	/* One context per file a loader reads; cm_load_ctx() hands them out. */
	struct cm_cfg_ctx	*(*ctx)(void *arg, const char *name);
	void			*arg;
};

/* Called on a worker for each accepted connection; owns fd. */
typedef void	(*cm_accept_fn)(struct cm_worker *w, int fd,
		    const struct sockaddr *sa, socklen_t salen, int listener);

struct cm_service {
	const char	*name;
	enum cm_svc_id	 id;
	/* Runs without --services when this returns 1 (file present...). */
	int		(*default_on)(const char *config_dir);
	/* Listeners this service needs (CM_L_* ids), -1 terminated. */
	int		 listeners[3];
	cm_accept_fn	 accept;
	/*
	 * Builds the service's part of a new snapshot (its own files).
	 * Errors go to the contexts of env; returns the object or NULL.
	 */
	void		*(*load)(const struct cm_load_env *env);
	void		 (*cfg_free)(void *cfg);
	/*
	 * After every service loaded and the known-secret set was built
	 * (snap->secrets): work that needs both, such as compiling the
	 * scan rules with the secrets.  0, or -1 after recording errors.
	 */
	int		 (*load_finish)(struct cm_snap *snap,
			    const struct cm_load_env *env);
	/* Once, after the first snapshot, before any worker runs; 0/-1. */
	int		 (*start)(const struct cm_snap *snap, char *err,
			    size_t errlen);
	/* On each worker thread at start / after the loop ends. */
	int		 (*worker_start)(struct cm_worker *w);
	void		 (*worker_free)(struct cm_worker *w);
	/* Drain began on this worker: stop new work, close idle conns. */
	void		 (*worker_drain)(struct cm_worker *w);
	/* Connections still open on this worker. */
	size_t		 (*worker_busy)(struct cm_worker *w);
	/* Deadline passed: close everything now. */
	void		 (*worker_kill)(struct cm_worker *w);
	/* A snapshot was published (on each worker, after it swapped). */
	void		 (*worker_reload)(struct cm_worker *w,
			    const struct cm_snap *old, const struct cm_snap *cur);
	/* Extra lines for the reload log ("hosts added"), may be NULL. */
	void		 (*stop)(void);
	/*
	 * egress only: the route table of its part of a snapshot (cfg is
	 * snap->svc[id]), so supervise can read the live routes through
	 * cm_snap_routes() without including egress.  May be NULL.
	 */
	const struct cm_routes *(*routes)(const void *cfg);
	/*
	 * check-config: prints the service's parsed config (cfg is
	 * snap->svc[id]) to fp after a successful load.  May be NULL.
	 */
	void		 (*check_report)(const void *cfg, FILE *fp);
};

#endif /* CM_SERVICE_H */
