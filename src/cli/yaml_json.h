/* YAML <-> JSON (jansson) conversion for the CLI: config files, serving.yaml
 * and `apply` documents are read as YAML and handled as JSON values.
 *
 * Reading is bounded (size, nesting depth) and rejects aliases, so hostile
 * files cannot blow up memory. Plain scalars are resolved like YAML 1.2's
 * core schema (null, true/false, integers, floats); quoted scalars stay
 * strings. */
#ifndef MLAMBDA_CLI_YAML_JSON_H
#define MLAMBDA_CLI_YAML_JSON_H

#include <jansson.h>
#include <stdio.h>

#include "core/status.h"

#define ML_YAML_MAX_BYTES (16u << 20)
#define ML_YAML_MAX_DEPTH 64

/* Parses every document of a YAML stream. On success *docs is a new JSON
 * array with one element per document (caller owns). `origin` names the
 * source in error messages ("app.yaml:3:5: ..."). */
ml_status ml_yaml_parse(const char *text, size_t len, const char *origin, json_t **docs);

/* Reads and parses a file ("-" = standard input). */
ml_status ml_yaml_parse_file(const char *path, json_t **docs);

/* Writes `value` as one block-style YAML document. */
ml_status ml_yaml_emit(FILE *out, const json_t *value);

/* Reads a whole file (at most max_bytes; "-" = stdin) into a new
 * NUL-terminated buffer the caller frees. */
ml_status ml_read_file(const char *path, size_t max_bytes, char **data, size_t *len);

#endif
