/* X-macro type lists shared by the elementwise/activation/reduce loop
 * generators: X(NAME, EXPR, C type, suffix, ml_dtype). Typed loops are
 * stamped out once per type so inner loops carry no dtype switch and the
 * compiler can vectorise them. */
#ifndef MLAMBDA_OPS_ELEMENTWISE_TYPES_H
#define MLAMBDA_OPS_ELEMENTWISE_TYPES_H

#include <stdint.h>

#include "core/dtype.h"

#define ELEM_FLOAT_TYPES(X, NAME, EXPR)                                                            \
    X(NAME, EXPR, float, f32, ML_FLOAT) X(NAME, EXPR, double, f64, ML_DOUBLE)
#define ELEM_SINT_TYPES(X, NAME, EXPR)                                                             \
    X(NAME, EXPR, int8_t, i8, ML_INT8)                                                             \
    X(NAME, EXPR, int16_t, i16, ML_INT16)                                                          \
    X(NAME, EXPR, int32_t, i32, ML_INT32) X(NAME, EXPR, int64_t, i64, ML_INT64)
#define ELEM_UINT_TYPES(X, NAME, EXPR)                                                             \
    X(NAME, EXPR, uint8_t, u8, ML_UINT8)                                                           \
    X(NAME, EXPR, uint16_t, u16, ML_UINT16)                                                        \
    X(NAME, EXPR, uint32_t, u32, ML_UINT32) X(NAME, EXPR, uint64_t, u64, ML_UINT64)
#define ELEM_INT_TYPES(X, NAME, EXPR) ELEM_SINT_TYPES(X, NAME, EXPR) ELEM_UINT_TYPES(X, NAME, EXPR)
#define ELEM_NUM_TYPES(X, NAME, EXPR) ELEM_FLOAT_TYPES(X, NAME, EXPR) ELEM_INT_TYPES(X, NAME, EXPR)
#define ELEM_BOOL_TYPE(X, NAME, EXPR) X(NAME, EXPR, uint8_t, b8, ML_BOOL)

/* A designated initialiser entry mapping a dtype to NAME_suffix. */
#define ELEM_ENTRY(NAME, EXPR, T, SUF, DT) [DT] = NAME##_##SUF,

#endif
