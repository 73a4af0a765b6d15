/*
 * JSON-lines logging on stderr (DESIGN.md "Logs").
 *
 * One helper writes every line: ts, level, svc, event, then the fields.
 * Peer strings go through cm_log_peer() so they are capped and valid
 * UTF-8; secrets go through cm_log_secret(), which only ever prints
 * "[redacted]".
 */
#ifndef CM_LOG_H
#define CM_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

enum cm_log_level {
	CM_LOG_DEBUG,
	CM_LOG_INFO,
	CM_LOG_WARN,
	CM_LOG_ERROR,
};

/* A secret value; the logger can only print it as "[redacted]". */
struct cm_secret {
	const char	*name;		/* borrowed: env or file name */
	const unsigned char *bytes;	/* borrowed */
	size_t		 len;
};

void	 cm_log_set_level(enum cm_log_level level);
int	 cm_log_parse_level(const char *s, enum cm_log_level *out);
int	 cm_log_enabled(enum cm_log_level level);
/*
 * Emits one line; steals fields (an object, or NULL).  conn is the
 * connection id, 0 for none.  Thread-safe: one write(2) per line.
 * Preserves errno.
 */
void	 cm_log(enum cm_log_level level, const char *svc, const char *event,
	    uint64_t conn, json_t *fields);
/* A new JSON string from peer bytes: capped, invalid UTF-8 replaced. */
json_t	*cm_log_peer(const char *s, size_t len);
/* Always the JSON string "[redacted]"; the secret is never read. */
json_t	*cm_log_secret(const struct cm_secret *secret);

#endif /* CM_LOG_H */
