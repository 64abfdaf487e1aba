/* Specs users write: serving.yaml (kind: Model) inside an uploaded folder and
 * application specs (kind: Application), both as already-parsed JSON (see
 * yaml_json.h). Also name and "name:version" reference validation. */
#ifndef MLAMBDA_REGISTRY_SPEC_H
#define MLAMBDA_REGISTRY_SPEC_H

#include <jansson.h>
#include <stdbool.h>

#include "core/status.h"
#include "registry/contract.h"

#define ML_NAME_MAX 128
#define ML_MAX_STAGES 16
#define ML_MAX_VARIANTS 16

/* [A-Za-z0-9][A-Za-z0-9._-]{0,127} */
bool ml_name_valid(const char *name);
/* "name:version" or "name" (version 0 = latest). name must hold ML_NAME_MAX+1. */
ml_status ml_model_ref_parse(const char *ref, char *name, int *version);

typedef struct ml_model_spec {
    char *name;            /* NULL when absent */
    char *runtime;         /* default "mlambda-onnx" */
    char *model_file;      /* NULL: the only *.onnx in the folder */
    ml_contract *contract; /* NULL: derive from the graph */
    json_t *metadata;      /* object, never NULL */
    json_t *options;       /* {"batching": {...}} when given, else {} */
} ml_model_spec;

ml_status ml_model_spec_parse(const json_t *j, ml_model_spec **out);
void ml_model_spec_free(ml_model_spec *s);

typedef struct ml_variant {
    char model[ML_NAME_MAX + 1];
    int version; /* 0 until resolved to the latest */
    int weight;  /* 1..100; weights of a stage sum to 100 */
} ml_variant;

typedef struct ml_stage {
    ml_variant variants[ML_MAX_VARIANTS];
    int n_variants;
} ml_stage;

typedef struct ml_app_spec {
    char name[ML_NAME_MAX + 1];
    ml_stage stages[ML_MAX_STAGES];
    int n_stages;
} ml_app_spec;

/* Parses an ApplicationSpec (singular or pipeline, or the normalised
 * "stages" form answered by the API). name_hint, when non-NULL, is used if
 * the spec has no name and must equal it otherwise. */
ml_status ml_app_spec_parse(const json_t *j, const char *name_hint, ml_app_spec *out);
/* [{"variants": [{"model": "a:1", "weight": 100}]}], new reference. */
json_t *ml_app_stages_json(const ml_app_spec *s);

#endif
