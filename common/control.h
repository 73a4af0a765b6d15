/*
 * The control port (bundle.md §3): /healthz, /readyz, /metrics on
 * 127.0.0.1:9101 by default, served on the main thread's loop.
 */
#ifndef CM_CONTROL_H
#define CM_CONTROL_H

#include <stddef.h>

#include "common/settings.h"

struct event_base;

/* Binds every address of l (nothing is left open on failure). 0/-1. */
int	 cm_control_start(struct event_base *base, struct cm_listen *l,
	    char *err, size_t errlen);
void	 cm_control_stop(void);

#endif /* CM_CONTROL_H */
