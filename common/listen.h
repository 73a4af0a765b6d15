/* Listening sockets for the workers (SO_REUSEPORT) and the control port. */
#ifndef CM_LISTEN_H
#define CM_LISTEN_H

#include <stddef.h>

#include "common/settings.h"

/*
 * Checks that a is free (bind without SO_REUSEPORT, so another process
 * cannot silently share it) and, for port 0, picks the port into a.
 * 0, 1 if the family is unsupported (IPv6 off: skip with a warning), or
 * -1 with the reason in err.
 */
int	 cm_listen_probe(struct cm_addr *a, char *err, size_t errlen);
/* A bound, listening, non-blocking socket; reuseport for workers. */
int	 cm_listen_socket(const struct cm_addr *a, int reuseport, char *err,
	    size_t errlen);

#endif /* CM_LISTEN_H */
