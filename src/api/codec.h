/* JSON <-> tensor codecs for the inference protocols (KServe V2 / Open
 * Inference Protocol, TF-Serving REST, Hydrosphere-style gateway).
 *
 * Decoders treat the body as hostile: element counts, nesting depth and
 * string bytes are bounded by ml_json_limits, and every mismatch is an
 * INVALID_ARGUMENT naming the field with expected vs got. Decoded tensors
 * are owned (they never point into the request body). */
#ifndef MLAMBDA_API_CODEC_H
#define MLAMBDA_API_CODEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "core/status.h"
#include "core/tensor.h"
#include "registry/contract.h"
#include "serving/runtime.h"

typedef struct ml_json_limits {
    size_t max_elements;     /* per tensor */
    int max_depth;           /* nesting of arrays (<= ML_MAX_RANK) */
    size_t max_string_bytes; /* per string element */
} ml_json_limits;

void ml_json_limits_default(ml_json_limits *l);

/* A nested JSON array (or scalar) -> tensor. dtype ML_UNDEFINED infers one:
 * strings -> string, booleans -> bool, integers -> int64, reals -> float.
 * Strings may be given as {"b64": "..."}. field names the input in errors. */
ml_status ml_json_to_tensor(const json_t *v, ml_dtype dtype, const ml_json_limits *lim,
                            const char *field, ml_tensor **out);
/* Nested arrays matching the tensor's shape (a scalar for rank 0). Strings
 * that are not valid UTF-8 become {"b64": "..."}. New reference. */
json_t *ml_tensor_to_json(const ml_tensor *t);
/* The elements as one flat JSON array (KServe "data"). New reference. */
json_t *ml_tensor_to_flat_json(const ml_tensor *t);

/* Base64 (RFC 4648, padding optional on input). Caller frees *out. */
ml_status ml_base64_decode(const char *in, size_t len, char **out, size_t *out_len);
char *ml_base64_encode(const void *data, size_t len);

/* ---- KServe V2 ---- */

typedef struct ml_kserve_request {
    char *id; /* NULL when absent */
    ml_tensor_list inputs;
    char **outputs;       /* requested outputs (NULL when all) */
    bool *outputs_binary; /* per requested output: binary_data */
    size_t n_outputs;
    bool binary_default; /* parameters.binary_data_output */
} ml_kserve_request;

/* body[0..len): a JSON header of header_len bytes (len when there is no
 * Inference-Header-Content-Length) followed by binary tensor data.
 * contract (may be NULL) resolves datatypes... the request's own datatype is
 * authoritative and checked against it later. */
ml_status ml_kserve_decode(const char *body, size_t len, size_t header_len,
                           const ml_json_limits *lim, ml_kserve_request *out);
void ml_kserve_request_clear(ml_kserve_request *r);

/* Encodes a response. *body (malloc'd) receives JSON plus appended binary
 * data for outputs sent as binary; *header_len is the JSON part's length
 * (equal to *len when nothing is binary). */
ml_status ml_kserve_encode(const char *model, int version, const ml_kserve_request *req,
                           const ml_tensor_list *outs, char **body, size_t *len,
                           size_t *header_len);

/* ---- TF-Serving ---- */

typedef struct ml_tf_request {
    ml_tensor_list inputs;
    bool row_format; /* "instances" (answer "predictions") vs "inputs" ("outputs") */
} ml_tf_request;

ml_status ml_tf_decode(const char *body, size_t len, const ml_contract *c,
                       const ml_json_limits *lim, ml_tf_request *out);
/* {"predictions": ...} or {"outputs": ...}. New reference. */
json_t *ml_tf_encode(const ml_tf_request *req, const ml_tensor_list *outs);

/* ---- Gateway: {input_name: nested array} ---- */

ml_status ml_gateway_decode(const char *body, size_t len, const ml_contract *c,
                            const ml_json_limits *lim, ml_tensor_list *out);
json_t *ml_gateway_encode(const ml_tensor_list *outs);

/* Dump flags for a response holding these tensors: float32 values print
 * with 9 significant digits (round-trip exact, without double noise). */
size_t ml_json_dump_flags(const ml_tensor_list *outs);

#endif
