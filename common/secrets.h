/*
 * The known-secret set (DESIGN.md "Runtime model" / Secrets).
 *
 * Before any thread starts, cm_secrets_capture_env() copies every
 * EGRESS_TOKEN_* variable and every variable whose name starts with one
 * of BOT_BOTTLE_SENSITIVE_PREFIXES (comma- or space-separated) into
 * memory excluded from core dumps, then overwrites the bytes in the
 * environment block and unsets them.  Loaders add the names routes'
 * token_env fields give with cm_secrets_capture_name().  A snapshot's
 * set (cm_secrets_build) is those plus the files under secrets/.
 * Secret bytes are never logged: cm_log_secret() prints "[redacted]".
 */
#ifndef CM_SECRETS_H
#define CM_SECRETS_H

#include <stddef.h>

#include "common/log.h"

struct cm_cfg_ctx;
struct cm_secrets;

/* Startup, single-threaded. Returns the number captured. */
size_t			 cm_secrets_capture_env(void);
/*
 * Captures one more variable by name if it is in the environment (and
 * not already captured).  Main thread only.  1 captured, 0 absent.
 */
int			 cm_secrets_capture_name(const char *name);
/*
 * The env-captured secrets plus CONFIG_DIR/secrets/<name> files (a
 * trailing newline is dropped).  Errors to cx; NULL on failure.
 */
struct cm_secrets	*cm_secrets_build(const char *config_dir,
			    struct cm_cfg_ctx *cx);
struct cm_secrets	*cm_secrets_ref(struct cm_secrets *s);
void			 cm_secrets_unref(struct cm_secrets *s);
size_t			 cm_secrets_count(const struct cm_secrets *s);
const struct cm_secret	*cm_secrets_get(const struct cm_secrets *s, size_t i);
/* By env or file name, or NULL. */
const struct cm_secret	*cm_secrets_find(const struct cm_secrets *s,
			    const char *name);
/* Drops the process's dumpable flag (after capture). */
void			 cm_secrets_harden(void);

#endif /* CM_SECRETS_H */
