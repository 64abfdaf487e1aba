/* Conversion of ONNX protobuf messages (TensorProto, SparseTensorProto,
 * TypeProto, and the onnx-data containers SequenceProto / OptionalProto) into
 * mlambda tensors and values. Engine-internal except for the byte-level
 * parsers at the end, which the conformance runner uses for .pb test data. */
#ifndef MLAMBDA_ONNX_PROTO_TENSOR_H
#define MLAMBDA_ONNX_PROTO_TENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "core/value.h"
#include "onnx/session.h"

struct Onnx__TensorProto;
struct Onnx__SparseTensorProto;
struct Onnx__TypeProto;

/* Where tensor bytes may come from and how big one tensor may be. */
typedef struct ml_tensor_source {
    const char *base_dir; /* folder for external data; NULL forbids it */
    uint64_t max_bytes;   /* per tensor */
} ml_tensor_source;

/* New owned tensor from a TensorProto (raw_data, typed *_data fields or
 * external data). Every size is checked against the proto and src->max_bytes. */
ml_status ml_tensor_from_proto(const struct Onnx__TensorProto *tp, const ml_tensor_source *src,
                               ml_tensor **out);
/* Dense owned tensor from a SparseTensorProto (COO indices, either [NNZ, rank]
 * or linearised [NNZ]). */
ml_status ml_tensor_from_sparse(const struct Onnx__SparseTensorProto *sp,
                                const ml_tensor_source *src, ml_tensor **out);
/* Fills info (name not touched) from a TypeProto; symbolic dim names are
 * copied into arena. *optional tells whether the type is optional(...). */
void ml_io_info_from_type(const struct Onnx__TypeProto *tp, ml_arena *arena, ml_io_info *info,
                          bool *optional);

/* ---- test-data files (.pb) ---- */
/* Each parses one serialized message into a new value owned by the caller:
 * TensorProto -> tensor, SequenceProto -> sequence, OptionalProto -> the
 * contained value or NONE. */
ml_status ml_onnx_parse_tensor_pb(const void *bytes, size_t len, ml_value **out);
ml_status ml_onnx_parse_sequence_pb(const void *bytes, size_t len, ml_value **out);
ml_status ml_onnx_parse_optional_pb(const void *bytes, size_t len, ml_value **out);

#endif
