/*
 * bb-sidecar: wires the services into the runtime and the command line.
 * Each service is a table (common/service.h); a service not built yet
 * is NULL here and is refused by --services by name.
 */
#include "config.h"

#include "common/cli.h"
#include "common/service.h"
#include "egress/service.h"
#include "gitgate/service.h"
#include "supervise/service.h"

static const struct cm_cli_builtins bb_builtins = {
	.svcs = {
		[CM_SVC_EGRESS] = &eg_service,
		[CM_SVC_GITGATE] = &gg_service,
		[CM_SVC_SUPERVISE] = &sv_service,
	},
	.supervise = sv_operator_main,
};

int
main(int argc, char **argv)
{
	return (cm_cli_main(argc, argv, &bb_builtins));
}
