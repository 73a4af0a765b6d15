/*
 * sidecar.yaml: listen addresses, workers, limits, timeouts.  Parsed by
 * the one YAML loader and checked against the one key table
 * (settings_table.h).  A struct cm_settings is immutable once built; it
 * lives in a config snapshot.
 */
#ifndef CM_SETTINGS_H
#define CM_SETTINGS_H

#include <stddef.h>
#include <stdio.h>

#include "common/bounds.h"
#include "common/log.h"
#include "common/settings_table.h"

struct cm_cfg_ctx;

enum cm_setting_id {
#define CM_X(id, key, type, def, min, max, restart, help) CM_S_##id,
	CM_SETTINGS_INT(CM_X)
#undef CM_X
	CM_S_COUNT
};

/* One listen address; host is a literal ("0.0.0.0", "::", "127.0.0.1"). */
struct cm_addr {
	char		 host[64];
	int		 port;		/* 0 = any free port (tests) */
};

struct cm_listen {
	size_t		 n;
	struct cm_addr	 a[CM_MAX_LISTEN_ADDRS];
};

/* egress.resolve: host or host:port -> addresses. */
struct cm_resolve_entry {
	char		*host;		/* owned, lower-case, no trailing dot */
	int		 port;		/* 0 = any port */
	size_t		 naddrs;
	struct cm_addr	*addrs;		/* owned; port 0 = keep the port */
};

enum cm_listen_id {
	CM_L_CONTROL,
	CM_L_EGRESS,
	CM_L_SUPERVISE,
	CM_L_GITGATE_GIT,
	CM_L_GITGATE_HTTP,
	CM_L_COUNT
};

struct cm_settings {
	long long		 v[CM_S_COUNT];	/* the table's scalars */
	enum cm_log_level	 log_level;
	int			 log_level_set;	/* given in the file */
	struct cm_listen	 listen[CM_L_COUNT];
	char			*upstream_ca_file;	/* owned; NULL = none */
	struct cm_resolve_entry	*resolve;	/* owned */
	size_t			 nresolve;
	char			**nameservers;	/* owned */
	size_t			 nnameservers;
	char			*bottle;	/* owned; NULL = not set */
	char			**allowed_origins;	/* owned */
	size_t			 nallowed_origins;
	int			 allowed_origins_set;
};

/* Defaults for everything; returns NULL on allocation failure. */
struct cm_settings	*cm_settings_new(void);
void			 cm_settings_free(struct cm_settings *s);
/*
 * Loads path (absent file = defaults) into a new object.  Errors go to
 * cx; returns NULL if any were recorded.
 */
struct cm_settings	*cm_settings_load(struct cm_cfg_ctx *cx, const char *path);
/* Parses "addr:port", "[v6]:port"; 0 or -1 with *why. */
int			 cm_addr_parse(const char *s, struct cm_addr *out,
			    const char **why);
/* Formats an address as addr:port or [v6]:port. */
const char		*cm_addr_fmt(const struct cm_addr *a, char *buf,
			    size_t size);
/* Listen flag: replaces a listen list from "a:p[,a:p...]". */
int			 cm_settings_listen_flag(struct cm_settings *s,
			    enum cm_listen_id id, const char *arg,
			    const char **why);
const char		*cm_listen_key(enum cm_listen_id id);
/* Keys needing a restart that differ between a and b, or NULL. */
const char		*cm_settings_restart_diff(const struct cm_settings *a,
			    const struct cm_settings *b);
/* Prints the key table (for --help). */
void			 cm_settings_help(FILE *fp);

#endif /* CM_SETTINGS_H */
