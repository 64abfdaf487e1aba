/* Choosing what to pack from a model folder: serving.yaml and its
 * `payload` globs (default: every file). The result is a sorted list of
 * relative paths, so the archive built from it is deterministic (pack.h). */
#ifndef MLAMBDA_CLI_PAYLOAD_H
#define MLAMBDA_CLI_PAYLOAD_H

#include <jansson.h>
#include <stddef.h>

#include "core/status.h"

#define ML_PACK_MAX_FILES 100000
#define ML_PACK_MAX_DEPTH 32

typedef struct ml_pack_list {
    char **paths; /* owned, relative to the folder, sorted */
    size_t n, cap;
} ml_pack_list;

void ml_pack_list_free(ml_pack_list *l);

/* Reads <dir>/serving.yaml into *doc (a JSON object, caller owns), or sets
 * *doc = NULL when the folder has none. */
ml_status ml_pack_read_serving(const char *dir, json_t **doc);

/* Lists the files to pack: every regular file under dir, filtered by the
 * payload patterns (a JSON array of glob strings or one string; NULL or
 * empty = everything). A pattern matches a file or a directory (which
 * selects everything below it); "**" lets '*' cross '/'. serving.yaml is
 * always included. A pattern that selects nothing is an error. */
ml_status ml_pack_collect(const char *dir, const json_t *payload, ml_pack_list *out);

#endif
