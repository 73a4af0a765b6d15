#include "config.h"

#include "common/routes.h"
#include "common/snapshot.h"
#include "common/worker.h"
#include "egress/conn.h"
#include "egress/egress.h"
#include "egress/logs.h"

void
eg_log_event_snap(struct eg_conn *c, const struct cm_snap *snap,
    int verbosity, enum cm_log_level lvl, const char *event, json_t *fields)
{
	const struct eg_cfg	*cfg;

	if (snap == NULL)
		snap = cm_worker_snap(c->ew->w);
	cfg = eg_cfg_of(snap);
	if (verbosity > 0 && (cfg == NULL ||
	    cm_routes_log(cfg->routes) < verbosity)) {
		json_decref(fields);
		return;
	}
	if (fields == NULL)
		fields = json_object();
	if (fields != NULL)
		json_object_set_new(fields, "client", json_string(c->client));
	cm_log(lvl, "egress", event, c->id, fields);
}

void
eg_log_event(struct eg_conn *c, int verbosity, enum cm_log_level lvl,
    const char *event, json_t *fields)
{
	eg_log_event_snap(c, NULL, verbosity, lvl, event, fields);
}
