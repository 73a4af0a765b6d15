/*
 * gitgate.yaml (spec/gitgate.md §3): the declared repos, each with its
 * upstream URL, key file and pinned host keys.  A struct gg_cfg is part
 * of a config snapshot: immutable once loaded, shared by every thread.
 */
#ifndef GG_CONF_H
#define GG_CONF_H

#include <sys/types.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "common/bounds.h"

struct cm_cfg_ctx;
struct cm_scanset;
struct cm_ynode;

/* One pinned host key: the raw SSH public key blob (§5.2). */
struct gg_hostkey {
	char		 type[32];	/* "ssh-ed25519", ... */
	unsigned char	*blob;		/* owned */
	size_t		 len;
};

struct gg_repo {
	char		*name;
	char		*url;		/* as configured */
	char		*user;
	char		*host;		/* without brackets */
	int		 port;
	char		*path;		/* "/abs/up.git" */
	char		*shown;		/* ssh://USER@HOST:PORT/PATH */
	char		*key_path;	/* resolved inside CONFIG_DIR */
	char		*key_rel;	/* as configured (check-config) */
	struct gg_hostkey keys[GG_MAX_HOST_KEYS];
	size_t		 nkeys;
	int		 allow_force_push;
	int		 allow_delete;
	int		 fetch_refresh;
};

struct gg_cfg {
	char		*config_dir;
	char		*state_dir;
	char		*git_dir;	/* STATE_DIR/git */
	char		*user_name;	/* NULL when absent */
	char		*user_email;
	struct gg_repo	*repos;		/* owned, in file order */
	size_t		 nrepos;
	struct cm_scanset *scanset;	/* a reference; set by load_finish */
	int		 hold_timeout_s;
	time_t		 loaded_at;
};

/*
 * Loads path (CONFIG_DIR/gitgate.yaml) into a new config; errors go to
 * cx as file:line:col: key.path: reason.  NULL on any error.
 */
struct gg_cfg		*gg_conf_load(struct cm_cfg_ctx *cx, const char *path,
			    const char *config_dir, const char *state_dir);
void			 gg_conf_free(struct gg_cfg *cfg);
/* The declared repo called name (exact, case-sensitive), or NULL. */
const struct gg_repo	*gg_conf_repo(const struct gg_cfg *cfg,
			    const char *name);
/*
 * check-config (§3.1): the parsed file as YAML on fp, user included;
 * key files by their configured path, never their contents, host keys
 * by type and SHA256 fingerprint.  cfg is a struct gg_cfg.
 */
void			 gg_conf_report(const void *cfg, FILE *fp);
/*
 * The known_hosts text that steers libgit2's host-key algorithm choice
 * (§5.2): every pinned key in config order.  malloc'd; NULL if none.
 */
char			*gg_conf_known_hosts(const struct gg_cfg *cfg);

/* hostkey.c: one host_key entry (§3.2.6). */
/*
 * Parses "TYPE BASE64 [COMMENT]" or "HOSTS TYPE BASE64 [COMMENT]" for
 * a repo on host:port.  0 with *out filled (blob malloc'd), or -1 with
 * a reason in why; *warn is set to a warning text (static) or NULL.
 */
int			 gg_hostkey_parse(const char *line, const char *host,
			    int port, struct gg_hostkey *out, char *why,
			    size_t whylen, const char **warn);
/* "SHA256:base64" of a blob, as ssh-keygen -l prints it. */
void			 gg_hostkey_fingerprint(const unsigned char *blob,
			    size_t len, char *out, size_t outlen);
/* The key type named inside a blob ("ssh-ed25519"), or "" if bad. */
void			 gg_hostkey_blob_type(const unsigned char *blob,
			    size_t len, char *out, size_t outlen);
/* Base64 (standard, padded or not) into out; the length or -1. */
ssize_t			 gg_hostkey_b64(const char *in, size_t inlen,
			    unsigned char *out, size_t outlen);

#endif /* GG_CONF_H */
