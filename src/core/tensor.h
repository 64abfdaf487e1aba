/* N-dimensional tensors: dtype + shape + dense row-major data (no strides).
 *
 * Storage is either OWNED through a reference-counted buffer (so views such
 * as reshape share it without copying) or BORROWED (data belongs to someone
 * else, e.g. a request body, and must outlive the tensor).  String tensors
 * hold an array of ml_str; an owned string tensor owns each element's bytes.
 *
 * Every tensor returned by a create/view/copy function is owned by the caller
 * and released with ml_tensor_free(). */
#ifndef MLAMBDA_CORE_TENSOR_H
#define MLAMBDA_CORE_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "core/status.h"

#define ML_MAX_RANK 16
/* Alignment of owned data, enough for any SIMD width we use. */
#define ML_TENSOR_ALIGN 64

typedef struct ml_buffer ml_buffer;

typedef struct ml_tensor {
    ml_dtype dtype;
    int rank;                  /* 0 for a scalar */
    int64_t dims[ML_MAX_RANK]; /* each >= 0 */
    void *data;                /* never NULL, even for 0 elements */
    ml_buffer *buffer;         /* counted reference to owned storage; NULL when borrowed */
} ml_tensor;

/* Number of elements of a shape; false on a negative dim or on overflow of
 * SIZE_MAX / 16 (so byte sizes computed from it cannot overflow either). */
bool ml_shape_numel(int rank, const int64_t *dims, size_t *out);
bool ml_shape_equal(int ra, const int64_t *a, int rb, const int64_t *b);
/* Formats a shape as "[2,3,-1]" into buf (always NUL-terminated); returns buf. */
char *ml_shape_format(int rank, const int64_t *dims, char *buf, size_t size);
/* Numpy-style multidirectional broadcast of two shapes. */
ml_status ml_shape_broadcast(int ra, const int64_t *a, int rb, const int64_t *b, int *rank_out,
                             int64_t *dims_out);

/* New tensor with zeroed owned storage (strings start empty). */
ml_status ml_tensor_create(ml_dtype dtype, int rank, const int64_t *dims, ml_tensor **out);
/* New tensor over caller-owned data that must outlive it and every view of it. */
ml_status ml_tensor_create_borrowed(ml_dtype dtype, int rank, const int64_t *dims, void *data,
                                    ml_tensor **out);
/* New tensor sharing src's storage with another shape of equal element count. */
ml_status ml_tensor_view(const ml_tensor *src, int rank, const int64_t *dims, ml_tensor **out);
/* Deep copy into owned storage (string bytes are copied too). */
ml_status ml_tensor_copy(const ml_tensor *src, ml_tensor **out);
/* Releases the tensor and its reference to the storage. NULL is accepted. */
void ml_tensor_free(ml_tensor *t);

size_t ml_tensor_numel(const ml_tensor *t);
size_t ml_tensor_nbytes(const ml_tensor *t); /* numel * element size */
bool ml_tensor_owns_data(const ml_tensor *t);
/* True when no other tensor shares the storage (so it may be written in place). */
bool ml_tensor_storage_unique(const ml_tensor *t);

/* Sets string element i to a copy of len bytes (NUL-terminated internally).
 * The tensor must be an owned ML_STRING tensor. */
ml_status ml_tensor_set_string(ml_tensor *t, size_t i, const char *s, size_t len);

/* Reads element i of any numeric/bool tensor as double (0 for strings). */
double ml_tensor_get_f64(const ml_tensor *t, size_t i);
/* Writes element i of any numeric/bool tensor from double: integers truncate
 * toward zero and saturate at the type's range (NaN becomes 0); bool becomes
 * v != 0. Ignored for strings. */
void ml_tensor_set_f64(ml_tensor *t, size_t i, double v);

#define ML_TENSOR_DATA(t, type) ((type *)(t)->data)

#endif
