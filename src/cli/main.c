/* Entry point: dispatches `mlambda <command> ...` (also invoked as `hs`). */
#include <stdio.h>
#include <string.h>

#include "cli/cmd_common.h"
#include "cli/commands.h"

#ifndef MLAMBDA_VERSION
#define MLAMBDA_VERSION "0.1.0"
#endif

const char *ml_program_name = "mlambda";

static void print_help(FILE *out) {
    fprintf(out,
            "Usage: %s <command> [options]\n\n"
            "mlambda serves ONNX models over REST and gRPC with a registry of versioned models\n"
            "and applications (single models or weighted pipelines).\n\nCommands:\n",
            ml_program_name);
    for (const ml_command *c = ml_commands; c->name; c++)
        fprintf(out, "  %-10s %s\n", c->name, c->summary);
    fprintf(out, "\nRun '%s <command> --help' for a command's options and an example.\n",
            ml_program_name);
}

int main(int argc, char **argv) {
    const char *slash = argv[0] ? strrchr(argv[0], '/') : NULL;
    const char *base = slash ? slash + 1 : (argv[0] ? argv[0] : "mlambda");
    if (strcmp(base, "hs") == 0) ml_program_name = "hs";

    /* Global options may come before the command: `mlambda --cluster prod model list`. */
    while (argc > 1) {
        if (strcmp(argv[1], "--json") == 0) {
            ml_global_json = 1;
        } else if (strcmp(argv[1], "--cluster") == 0 && argc > 2) {
            ml_global_cluster = argv[2];
            argc--;
            argv++;
        } else if (strncmp(argv[1], "--cluster=", 10) == 0) {
            ml_global_cluster = argv[1] + 10;
        } else {
            break;
        }
        argc--;
        argv++;
    }
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        print_help(stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0) {
        printf("mlambda %s\n", MLAMBDA_VERSION);
        return 0;
    }
    for (const ml_command *c = ml_commands; c->name; c++)
        if (strcmp(argv[1], c->name) == 0 && c->run) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "%s: unknown command '%s'\n\n", ml_program_name, argv[1]);
    print_help(stderr);
    return 2;
}
