/* Nested JSON arrays <-> KServe V2 tensors (shape + flat data), and ONNX
 * dtype names <-> KServe datatypes, so `predict` can take the friendly
 * {"input": [["a", "b"]]} form for models too. */
#ifndef MLAMBDA_CLI_TENSOR_JSON_H
#define MLAMBDA_CLI_TENSOR_JSON_H

#include <jansson.h>

#include "core/status.h"

#define ML_TENSOR_MAX_RANK 32

/* "float" -> "FP32", "string" -> "BYTES"...; NULL for unknown names. */
const char *ml_kserve_datatype(const char *onnx_dtype);

/* Flattens a rectangular nested array (or a scalar) into *shape and *data
 * (new arrays, caller owns). A ragged array is an INVALID_ARGUMENT naming `what`. */
ml_status ml_tensor_flatten(const json_t *nested, const char *what, json_t **shape, json_t **data);

/* The inverse: nests flat `data` by `shape` (new reference). */
ml_status ml_tensor_nest(const json_t *shape, const json_t *data, json_t **nested);

/* Wraps a single value in as many one-element arrays as the contract
 * shape has dimensions ([-1] -> ["v"], [] -> "v", [1,-1] -> [["v"]]). */
json_t *ml_tensor_wrap(json_t *value, const json_t *contract_shape);

#endif
