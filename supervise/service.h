/*
 * The supervise service (spec/supervise.md): the MCP server on :9100
 * and the operator's `bb-sidecar supervise` command.  main.c wires both
 * in; nothing else of supervise is visible outside supervise/.
 */
#ifndef SV_SERVICE_H
#define SV_SERVICE_H

#include "common/service.h"

extern const struct cm_service	sv_service;

/* `bb-sidecar supervise ...` (§6); argv[0] is "supervise".  Exit code. */
int	sv_operator_main(int argc, char **argv);

#endif /* SV_SERVICE_H */
