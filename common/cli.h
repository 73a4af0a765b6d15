/*
 * The command line (bundle.md §3): run, check-config, ca init, health,
 * version, supervise.  main.c passes what is built into the binary.
 */
#ifndef CM_CLI_H
#define CM_CLI_H

#include "common/service.h"

struct cm_cli_builtins {
	/* NULL for a service this binary does not have yet. */
	const struct cm_service	*svcs[CM_SVC_COUNT];
	/* The operator's `supervise` command, or NULL. */
	int			(*supervise)(int argc, char **argv);
};

int	 cm_cli_main(int argc, char **argv, const struct cm_cli_builtins *b);

#endif /* CM_CLI_H */
