/* A value flowing through a graph: a tensor, a sequence, a map, or nothing
 * (an optional without a value). ONNX models use sequences (SequenceConstruct,
 * Loop scan outputs) and maps (ZipMap) besides tensors.
 *
 * A value owns what it holds: ml_value_free releases the tensor, the items of a
 * sequence, and the keys/values of a map. */
#ifndef MLAMBDA_CORE_VALUE_H
#define MLAMBDA_CORE_VALUE_H

#include <stddef.h>

#include "core/tensor.h"

typedef enum ml_value_kind {
    ML_VALUE_NONE = 0, /* optional without a value */
    ML_VALUE_TENSOR,
    ML_VALUE_SEQUENCE,
    ML_VALUE_MAP,
} ml_value_kind;

typedef struct ml_value ml_value;
struct ml_value {
    ml_value_kind kind;
    ml_tensor *tensor; /* TENSOR */
    ml_value **items;  /* SEQUENCE: n_items values */
    size_t n_items;
    ml_dtype
        elem_dtype; /* SEQUENCE of tensors: their dtype (may be UNDEFINED when empty and unknown) */
    ml_tensor *keys; /* MAP: 1-D keys and values of equal length */
    ml_tensor *values;
};

/* Wraps a tensor; the value takes ownership of it (and frees it on failure). */
ml_status ml_value_from_tensor(ml_tensor *t, ml_value **out);
/* An empty sequence of elem_dtype tensors. */
ml_status ml_value_new_sequence(ml_dtype elem_dtype, ml_value **out);
/* Appends (takes ownership of item, freeing it on failure). */
ml_status ml_value_sequence_append(ml_value *seq, ml_value *item);
/* A map; takes ownership of keys and values. */
ml_status ml_value_new_map(ml_tensor *keys, ml_tensor *values, ml_value **out);
/* An optional without a value. */
ml_status ml_value_new_none(ml_value **out);
/* Shallow clone: tensors share storage with the original (views). */
ml_status ml_value_clone(const ml_value *v, ml_value **out);
void ml_value_free(ml_value *v);

#endif
