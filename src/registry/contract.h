/* Model and application contracts: the named, typed, shaped inputs and
 * outputs a request must match. Stored and exchanged as JSON (docs/api.md
 * "Contract"); this header converts and checks them. */
#ifndef MLAMBDA_REGISTRY_CONTRACT_H
#define MLAMBDA_REGISTRY_CONTRACT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"
#include "core/tensor.h"

typedef struct ml_field {
    char *name;
    ml_dtype dtype;
    int rank;                  /* -1: any rank */
    int64_t dims[ML_MAX_RANK]; /* -1: any size */
    char *profile;             /* free text ("text", "image", ...) or NULL */
} ml_field;

typedef struct ml_contract {
    char *signature;
    ml_field *inputs;
    size_t n_inputs;
    ml_field *outputs;
    size_t n_outputs;
} ml_contract;

/* Parses docs/api.md's Contract JSON. Caller owns *out. */
ml_status ml_contract_from_json(const json_t *j, ml_contract **out);
/* Parses serving.yaml's form: {inputs: {name: {shape, type, profile}}, outputs: ...},
 * optionally nested one level under a signature name (Hydrosphere). */
ml_status ml_contract_from_spec(const json_t *j, ml_contract **out);
/* New reference owned by the caller. */
json_t *ml_contract_to_json(const ml_contract *c);
ml_status ml_contract_copy(const ml_contract *c, ml_contract **out);
void ml_contract_free(ml_contract *c);

const ml_field *ml_contract_input(const ml_contract *c, const char *name);
const ml_field *ml_contract_output(const ml_contract *c, const char *name);

/* Checks a tensor against a field; on mismatch returns INVALID_ARGUMENT naming
 * the field with expected vs got. what is "input" or "output". */
ml_status ml_field_check(const ml_field *f, const char *what, ml_dtype dtype, int rank,
                         const int64_t *dims);
/* True when every value `producer` may hold satisfies `consumer`. */
bool ml_field_compatible(const ml_field *producer, const ml_field *consumer);

#endif
