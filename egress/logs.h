/*
 * egress traffic events (spec/egress.md §16): gated by routes.yaml's
 * `log` verbosity (0 none, 1 blocks/warns/holds/errors, 2 every request
 * and response), always with the agent's address.
 */
#ifndef EG_LOGS_H
#define EG_LOGS_H

#include <jansson.h>

#include "common/log.h"

struct eg_conn;
struct cm_snap;

/*
 * Logs event when the snapshot's verbosity is >= verbosity (0 = always);
 * snap NULL means the worker's current one.  Steals fields.
 */
void	 eg_log_event(struct eg_conn *c, int verbosity, enum cm_log_level lvl,
	    const char *event, json_t *fields);
void	 eg_log_event_snap(struct eg_conn *c, const struct cm_snap *snap,
	    int verbosity, enum cm_log_level lvl, const char *event,
	    json_t *fields);

#endif /* EG_LOGS_H */
