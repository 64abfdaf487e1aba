/* Uploading a model folder: select its files, pack them (pack.h) on a
 * thread straight into POST /api/v2/models/upload with a progress bar, and
 * wait until the server reports the new version ready. Shared by `upload`
 * and `apply`. */
#ifndef MLAMBDA_CLI_UPLOAD_H
#define MLAMBDA_CLI_UPLOAD_H

#include <jansson.h>
#include <stdio.h>

#include "cli/http_client.h"
#include "cli/pack.h"
#include "core/status.h"

typedef struct ml_cli_upload_opts {
    const char *dir;         /* model folder */
    const char *name;        /* overrides serving.yaml's name; NULL = serving.yaml or folder name */
    const char *description; /* NULL = none */
    const char *const *labels; /* "key=value" strings */
    int n_labels;
    const json_t *payload;    /* overrides serving.yaml's payload; NULL = use it */
    const char *serving_yaml; /* packed as serving.yaml instead of the folder's; NULL = none */
    size_t serving_yaml_len;
    FILE *progress;   /* NULL = silent */
    int wait_seconds; /* how long to wait for status "ready" */
} ml_cli_upload_opts;

typedef struct ml_prepared {
    char name[160];        /* the model name the upload registers */
    ml_pack_list files;    /* what gets packed */
    uint64_t raw_size;     /* their total size */
    size_t n_files;        /* including a generated serving.yaml */
    char digest[80];       /* archive digest once ml_cli_upload_digest ran, else "" */
    uint64_t archive_size; /* likewise */
} ml_prepared;

/* Resolves the name and selects the files (nothing is packed yet). */
ml_status ml_cli_upload_prepare(const ml_cli_upload_opts *o, ml_prepared *out);
void ml_prepared_free(ml_prepared *p);

/* Packs once without storing anything, to learn the archive's digest and
 * size (`apply` compares the digest with the server's; the upload sends the
 * size as Content-Length so the server can refuse an oversized model up
 * front). Shows a "prepare" progress bar on o->progress. */
ml_status ml_cli_upload_digest(const ml_cli_upload_opts *o, ml_prepared *p);

/* Packs again, streaming the archive into the upload (no temp file, no
 * copy in memory), then waits for the version to be ready; *version (caller
 * owns) is the registered ModelVersion. Runs ml_cli_upload_digest first when
 * it has not run. Fails when what was sent differs from the first pass (the
 * folder changed meanwhile) or from what the server received. */
ml_status ml_cli_upload_send(const ml_http_target *t, const ml_cli_upload_opts *o, ml_prepared *p,
                             json_t **version);

/* Checks "key=value" labels. */
ml_status ml_check_label(const char *label);

#endif
