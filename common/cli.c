#include "config.h"
#include <stdio.h>
#include "common/cli.h"
int
cm_cli_main(int argc, char **argv)
{
	(void)argc; (void)argv;
	printf("{\"version\":\"%s\"}\n", PACKAGE_VERSION);
	return (0);
}
