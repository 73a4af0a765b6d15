#ifndef CM_CLI_H
#define CM_CLI_H
/* Dispatches argv to a subcommand; returns the process exit code. */
int	 cm_cli_main(int argc, char **argv);
#endif
