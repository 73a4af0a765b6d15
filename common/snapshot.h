/*
 * Config snapshots (DESIGN.md "Runtime model").  A snapshot holds
 * everything loaded from the config dir at one moment: settings, each
 * running service's config, the known-secret set.  It is immutable once
 * published and reference-counted; a request keeps the one it started
 * with.  Workers each cache the current snapshot and are handed the new
 * one through their inbox, so taking a snapshot on the data path is a
 * pointer read plus an atomic increment, never a lock.
 */
#ifndef CM_SNAPSHOT_H
#define CM_SNAPSHOT_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/service.h"
#include "common/settings.h"

struct cm_secrets;

struct cm_snap {
	atomic_int		 refs;
	uint64_t		 generation;	/* 1 for the first */
	struct cm_settings	*settings;	/* owned */
	void			*svc[CM_SVC_COUNT];	/* owned by each service */
	struct cm_secrets	*secrets;	/* a reference */
};

/* Errors of one load, across files. */
struct cm_load_result {
	char		 file[64];	/* first failing file's name */
	size_t		 line, col;
	char		 error[CM_MAX_CFG_ERROR_BYTES];	/* its first error */
	size_t		 nerrors;
};

struct cm_snap	*cm_snap_ref(struct cm_snap *s);
/*
 * The live route table of s: egress's, through its service hook; NULL
 * when egress does not run in this process.  Borrowed from s.
 */
const struct cm_routes *cm_snap_routes(const struct cm_snap *s);
void		 cm_snap_unref(struct cm_snap *s);

/* Command-line replacements of sidecar.yaml keys. */
struct cm_overrides {
	int		 workers;		/* -1 = from the file */
	int		 log_level;		/* -1 = from the file */
	const char	*listen[CM_L_COUNT];	/* NULL = from the file */
};

/*
 * Loads every file for the services in svcs (NULL entries are not
 * running) into a new snapshot with the given generation.  Every error
 * is printed to fp (may be NULL) as file:line:col: key.path: reason;
 * res gets the first.  Returns NULL if there was any error.
 */
struct cm_snap	*cm_snap_load(const char *config_dir, const char *state_dir,
		    const struct cm_service *const *svcs,
		    const struct cm_overrides *ov, uint64_t generation,
		    FILE *fp, struct cm_load_result *res);
/*
 * Resolves name inside config_dir following symlinks, refusing a
 * result outside it (DESIGN: Kubernetes symlink trees).  0 with the
 * path in out; -1 with *why, or 1 if the file does not exist.
 */
int		 cm_snap_config_path(const char *config_dir, const char *name,
		    char *out, size_t size, const char **why);

#endif /* CM_SNAPSHOT_H */
