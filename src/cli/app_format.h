/* Application specs and answers: turning a YAML/JSON ApplicationSpec
 * (singular or pipeline) into the server's normalised "stages" form, so
 * `apply` can compare what is deployed with what is asked, and one-line
 * renderings of stages for tables. */
#ifndef MLAMBDA_CLI_APP_FORMAT_H
#define MLAMBDA_CLI_APP_FORMAT_H

#include <jansson.h>
#include <stddef.h>

#include "core/status.h"

/* Normalises spec (singular/pipeline) or an Application answer (stages) into
 * a new array [[{"model": "m:1", "weight": 100}, ...], ...] (caller owns).
 * Model references are kept as written. */
ml_status ml_app_stages(const json_t *spec_or_app, json_t **stages);

/* "pre:1 -> seq2seq:1 (80%), seq2seq:2 (20%)" into buf. */
void ml_app_stages_text(const json_t *stages, char *buf, size_t cap);

/* 1 when both normalised stage lists are the same. */
int ml_app_stages_equal(const json_t *a, const json_t *b);

#endif
