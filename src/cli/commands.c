#include "cli/commands.h"

#include <stdio.h>

/* Commands whose subsystem has not landed yet say so plainly. */
static int not_yet(int argc, char **argv) {
    (void)argc;
    fprintf(stderr, "%s %s: not available in this build yet\n", ml_program_name, argv[0]);
    return 1;
}

const ml_command ml_commands[] = {
    {"serve", "start the model server (REST, gRPC and the web UI)", not_yet},
    {"cluster", "manage server connections: add, use, list, rm", not_yet},
    {"upload", "package a model folder and upload it as a new version", not_yet},
    {"apply", "create or update models and applications from YAML", not_yet},
    {"model", "list, show or delete models and versions", not_yet},
    {"app", "list, show or delete applications", not_yet},
    {"predict", "call an application or model over REST or gRPC", not_yet},
    {"version", "print the mlambda version", NULL},
    {NULL, NULL, NULL},
};
