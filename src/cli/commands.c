#include "cli/commands.h"

#include <stdio.h>

/* The server subsystem's command (src/cli/cmd_serve.c). */
int ml_cmd_serve(int argc, char **argv);

const ml_command ml_commands[] = {
    {"serve", "start the model server (REST, gRPC and the web UI)", ml_cmd_serve},
    {"cluster", "manage server connections: add, use, list, rm", ml_cmd_cluster},
    {"upload", "package a model folder and upload it as a new version", ml_cmd_upload},
    {"apply", "create or update models and applications from YAML", ml_cmd_apply},
    {"model", "list, show or delete models and versions", ml_cmd_model},
    {"app", "list, show or delete applications", ml_cmd_app},
    {"predict", "call an application or model over REST or gRPC", ml_cmd_predict},
    {"version", "print the mlambda version", NULL},
    {NULL, NULL, NULL},
};
