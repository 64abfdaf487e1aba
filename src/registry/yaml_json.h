/* YAML -> JSON (jansson) for serving.yaml and application specs, so one set
 * of spec parsers handles both formats. Plain scalars become integers,
 * reals, booleans or null when they look like one; quoted scalars stay
 * strings. Anchors/aliases are refused (billion-laughs), depth is bounded. */
#ifndef MLAMBDA_REGISTRY_YAML_JSON_H
#define MLAMBDA_REGISTRY_YAML_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "core/status.h"

/* Parses the first document of text[0..len). Caller owns *out. */
ml_status ml_yaml_to_json(const char *text, size_t len, json_t **out);

/* Parses JSON or YAML (JSON is tried first when the text starts with '{').
 * Caller owns *out. */
ml_status ml_parse_json_or_yaml(const char *text, size_t len, json_t **out);

#endif
