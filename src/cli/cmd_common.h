/* What every command shares: option parsing with generated --help, the
 * global options (--cluster, --json), connecting to the chosen cluster, and
 * turning a failure into one stderr line plus an exit code.
 *
 * Exit codes: 0 ok, 1 failure, 2 usage error, 3 server unreachable or
 * unavailable, 4 not found. */
#ifndef MLAMBDA_CLI_CMD_COMMON_H
#define MLAMBDA_CLI_CMD_COMMON_H

#include <jansson.h>

#include "cli/config.h"
#include "cli/http_client.h"
#include "core/status.h"

enum {
    ML_EXIT_OK = 0,
    ML_EXIT_FAIL = 1,
    ML_EXIT_USAGE = 2,
    ML_EXIT_UNAVAILABLE = 3,
    ML_EXIT_NOT_FOUND = 4
};

typedef enum { ML_OPT_FLAG, ML_OPT_VALUE, ML_OPT_MULTI } ml_opt_kind;

typedef struct ml_opt {
    const char *name; /* long name without "--"; NULL ends a table */
    char short_name;  /* 0 = none */
    ml_opt_kind kind;
    const char *metavar; /* "NAME" for the help text */
    const char *help;
} ml_opt;

typedef struct ml_cmd_spec {
    const char *name;    /* "model get" */
    const char *args;    /* positional synopsis, "NAME[:VERSION]" or "" */
    const char *summary; /* one sentence */
    const char *example; /* one or more example lines */
    const ml_opt *opts;  /* command options, NULL-terminated; may be NULL */
    int min_pos, max_pos;
} ml_cmd_spec;

#define ML_MAX_OPTS 24
#define ML_MAX_POS 16

typedef struct ml_args {
    const ml_cmd_spec *spec;
    const char *value[ML_MAX_OPTS]; /* last value of each option (borrowed from argv) */
    int count[ML_MAX_OPTS];
    const char **multi[ML_MAX_OPTS]; /* owned arrays of borrowed strings */
    const char *pos[ML_MAX_POS];
    int npos;
    const char *cluster; /* --cluster (or global / MLAMBDA_CLUSTER) */
    int json;            /* --json */
} ml_args;

/* Global options given before the command (`mlambda --cluster prod model list`). */
extern const char *ml_global_cluster;
extern int ml_global_json;

/* Parses argv (argv[0] = the last command word). Returns -1 when the command
 * should run; otherwise the exit code to return right away (0 after --help,
 * 2 after a usage error, which is printed). */
int ml_args_parse(const ml_cmd_spec *spec, int argc, char **argv, ml_args *a);
void ml_args_free(ml_args *a);
const char *ml_arg(const ml_args *a, const char *name);
int ml_arg_count(const ml_args *a, const char *name);
/* Values of a repeatable option; *n gets the count. */
const char **ml_arg_multi(const ml_args *a, const char *name, int *n);

void ml_print_help(const ml_cmd_spec *spec, FILE *out);

/* Prints a usage error and returns ML_EXIT_USAGE. */
int ml_usage_error(const ml_cmd_spec *spec, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* A connection to the selected cluster. */
typedef struct ml_client {
    ml_config cfg;
    ml_http_target target;
    const char *grpc; /* the cluster's gRPC HOST:PORT or NULL (borrowed from cfg) */
} ml_client;

/* Picks --cluster, $MLAMBDA_CLUSTER, the current cluster, or (when no
 * cluster is configured at all) ML_DEFAULT_SERVER. */
ml_status ml_client_open(const ml_args *a, ml_client *c);
void ml_client_close(ml_client *c);

/* Prints "<prog> <cmd>: <message>" on stderr, frees st, returns the exit code. */
int ml_fail(const char *cmd, ml_status st);

/* Splits "name[:version]"; *version = 0 means latest. */
ml_status ml_parse_ref(const char *ref, char *name, size_t cap, long *version);

/* Formats a path with every %s argument percent-escaped (caller frees). */
char *ml_pathf(const char *fmt, ...);

/* Borrowed string member or `dflt`. */
const char *ml_jstr(const json_t *obj, const char *key, const char *dflt);

/* Prints a JSON value (pretty, 2-space indent) with a newline. */
void ml_print_json(const json_t *v);

/* "[-1, 3]" shape text into buf. */
void ml_format_shape(const json_t *shape, char *buf, size_t cap);

/* Prints a contract (inputs/outputs) as a table, prefixed by `indent`. */
void ml_print_contract(const json_t *contract);

#endif
