/* bb-sidecar: wires the services together; see cli.c for subcommands. */
#include "config.h"

#include "common/cli.h"

int
main(int argc, char **argv)
{
	return (cm_cli_main(argc, argv));
}
