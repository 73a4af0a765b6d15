/*
 * The DLP safelist (spec/egress.md §9.4): (route host, value) pairs an
 * operator approved, in memory for the life of the process, shared by
 * every worker and kept across reloads.  A value is stored as the
 * secret's name (known_secrets: every form of it is then allowed) or as
 * the SHA-256 of the matched bytes, never as the bytes.
 */
#ifndef EG_SAFELIST_H
#define EG_SAFELIST_H

#include <stddef.h>

/* Keys are "s:NAME" or "v:" + hex SHA-256 (eg_dlp builds them). */
int	 eg_safelist_has(const char *host, const char *key);
/* 0, or -1 when out of memory or full (then nothing is allowed). */
int	 eg_safelist_add(const char *host, const char *key);
size_t	 eg_safelist_count(void);

#endif /* EG_SAFELIST_H */
