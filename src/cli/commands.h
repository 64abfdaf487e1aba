/* Subcommands of the mlambda binary. Each handler gets argv starting at the
 * subcommand name and returns the process exit code (0 ok, 1 failure,
 * 2 usage error). */
#ifndef MLAMBDA_CLI_COMMANDS_H
#define MLAMBDA_CLI_COMMANDS_H

typedef int (*ml_command_fn)(int argc, char **argv);

typedef struct ml_command {
    const char *name;
    const char *summary; /* one line for `mlambda --help` */
    ml_command_fn run;
} ml_command;

/* The table, terminated by a NULL name. */
extern const ml_command ml_commands[];

/* Name the binary was invoked as ("mlambda" or "hs"), for help texts. */
extern const char *ml_program_name;

#endif
