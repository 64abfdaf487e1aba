/* `upload`: pack a model folder and register it as a new version. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cmd_common.h"
#include "cli/commands.h"
#include "cli/progress.h"
#include "cli/upload.h"

static const ml_opt opts[] = {
    {"name", 'n', ML_OPT_VALUE, "NAME",
     "model name (default: serving.yaml's name, else the folder's)"},
    {"dir", 'd', ML_OPT_VALUE, "DIR", "model folder to pack (default: current folder)"},
    {"description", 0, ML_OPT_VALUE, "TEXT", "description stored with the model"},
    {"label", 'l', ML_OPT_MULTI, "KEY=VALUE", "label stored with the model"},
    {"wait", 0, ML_OPT_VALUE, "SECONDS",
     "how long to wait for the version to be ready (default 120)"},
    {"quiet", 'q', ML_OPT_FLAG, NULL, "no progress output"},
    {"dry-run", 0, ML_OPT_FLAG, NULL,
     "list the files that would be packed and the archive's digest; upload nothing"},
    {NULL, 0, 0, NULL, NULL},
};
static const ml_cmd_spec spec = {
    "upload",
    "",
    "Packs a model folder (the files selected by serving.yaml's 'payload', default all) into a "
    "tar.gz, streams it to the server and prints the new NAME:VERSION and its contract.",
    "  cd seq2seq && mlambda upload --name seq2seq --label team=nlp\n"
    "  mlambda upload --dir ./models/seq2seq --description \"first try\"",
    opts,
    0,
    0};

static void print_dry_run(const ml_cli_upload_opts *o, const ml_prepared *p, int json) {
    if (json) {
        json_t *files = json_array();
        for (size_t i = 0; i < p->files.n; i++)
            json_array_append_new(files, json_string(p->files.paths[i]));
        json_t *doc = json_pack("{s:s, s:s, s:o, s:I, s:I}", "name", p->name, "digest", p->digest,
                                "files", files, "bytes", (json_int_t)p->raw_size, "archive_bytes",
                                (json_int_t)p->archive_size);
        ml_print_json(doc);
        json_decref(doc);
        return;
    }
    char raw[32], packed[32];
    ml_format_bytes(p->raw_size, raw, sizeof raw);
    ml_format_bytes(p->archive_size, packed, sizeof packed);
    printf("model %s from %s (dry run, nothing uploaded)\n", p->name, o->dir);
    if (o->serving_yaml) printf("  serving.yaml (generated)\n");
    for (size_t i = 0; i < p->files.n; i++) printf("  %s\n", p->files.paths[i]);
    printf("%zu files, %s, archive %s, %s\n", p->n_files, raw, packed, p->digest);
}

int ml_cmd_upload(int argc, char **argv) {
    ml_args a;
    int rc = ml_args_parse(&spec, argc, argv, &a);
    if (rc >= 0) return rc;
    int n_labels = 0;
    const char **labels = ml_arg_multi(&a, "label", &n_labels);
    const char *wait = ml_arg(&a, "wait");
    char *end = NULL;
    long wait_s = wait ? strtol(wait, &end, 10) : 120;
    if (wait && (*end || wait_s < 0 || wait_s > 86400)) {
        ml_args_free(&a);
        return ml_usage_error(&spec, "--wait needs a number of seconds (0..86400)");
    }
    /* Progress goes to stdout (as the issue asks) unless stdout carries JSON. */
    FILE *progress = ml_arg_count(&a, "quiet") ? NULL : a.json ? stderr : stdout;
    ml_cli_upload_opts o = {
        .dir = ml_arg(&a, "dir") ? ml_arg(&a, "dir") : ".",
        .name = ml_arg(&a, "name"),
        .description = ml_arg(&a, "description"),
        .labels = labels,
        .n_labels = n_labels,
        .progress = progress,
        .wait_seconds = (int)wait_s,
    };
    ml_client c = {0};
    ml_prepared p = {0};
    json_t *version = NULL;
    int dry_run = ml_arg_count(&a, "dry-run") > 0;
    ml_status st = dry_run ? NULL : ml_client_open(&a, &c); /* a dry run needs no server */
    if (!st) st = ml_cli_upload_prepare(&o, &p);
    if (!st && progress && !dry_run) {
        char raw[32];
        ml_format_bytes(p.raw_size, raw, sizeof raw);
        fprintf(progress, "uploading %zu file%s (%s) from %s as model '%s'\n", p.n_files,
                p.n_files == 1 ? "" : "s", raw, o.dir, p.name);
    }
    if (!st && dry_run) {
        st = ml_cli_upload_digest(&o, &p);
        if (!st) print_dry_run(&o, &p, a.json);
        json_decref(version);
        ml_prepared_free(&p);
        ml_client_close(&c);
        ml_args_free(&a);
        return ml_fail("upload", st);
    }
    if (!st) st = ml_cli_upload_send(&c.target, &o, &p, &version);
    if (!st && a.json) {
        ml_print_json(version);
    } else if (!st) {
        printf("uploaded %s:%" JSON_INTEGER_FORMAT " (%s)\n", ml_jstr(version, "name", p.name),
               json_integer_value(json_object_get(version, "version")),
               ml_jstr(version, "digest", "?"));
        ml_print_contract(json_object_get(version, "contract"));
    }
    json_decref(version);
    ml_prepared_free(&p);
    ml_client_close(&c);
    ml_args_free(&a);
    return ml_fail("upload", st);
}
