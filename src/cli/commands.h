/* Subcommands of the mlambda binary. Each handler gets argv starting at the
 * subcommand name and returns the process exit code (0 ok, 1 failure,
 * 2 usage error, 3 server unreachable, 4 not found). */
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

/* A command group's subcommands (`model list`, `model get`...). A NULL
 * summary hides an alias from the help. */
typedef struct ml_subcommand {
    const char *name;
    const char *summary;
    ml_command_fn run;
} ml_subcommand;

/* Runs argv[1] from `subs`, or prints the group's help. */
int ml_dispatch(const char *group, const char *summary, const char *example,
                const ml_subcommand *subs, int argc, char **argv);

int ml_cmd_cluster(int argc, char **argv);
int ml_cmd_upload(int argc, char **argv);
int ml_cmd_apply(int argc, char **argv);
int ml_cmd_model(int argc, char **argv);
int ml_cmd_app(int argc, char **argv);
int ml_cmd_predict(int argc, char **argv);

#endif
