/* Helpers shared by the shape and index kernels (shape_*.c, index_*.c).
 *
 * These kernels move elements without looking at them, so most of them work
 * on raw bytes with the element size as a parameter. String tensors are the
 * exception: an owned string tensor owns each element's bytes, so a kernel
 * first moves ml_str records into a plain staging array (shape_out_begin) and
 * shape_out_end then copies the bytes into the real output. */
#ifndef MLAMBDA_OPS_SHAPE_UTIL_H
#define MLAMBDA_OPS_SHAPE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ops/kernel.h"

/* Upper bound on the length of shape-like inputs (shape, axes, pads...). */
#define SHAPE_MAX_INTS (2 * ML_MAX_RANK)

/* Reads a scalar or 1-D integer tensor (any integer dtype) into out[0..max).
 * Fails with a message naming `what` when it is not integer, has more than
 * max elements, or a value does not fit int64. */
ml_status shape_read_ints(const ml_node *node, const ml_tensor *t, const char *what, size_t max,
                          int64_t *out, size_t *n);

/* Converts every element of an integer tensor to a new malloc'd int64 array
 * (caller frees; never NULL on success, even for 0 elements). */
ml_status shape_ints_alloc(const ml_node *node, const ml_tensor *t, const char *what,
                           int64_t **out);

/* Reads element 0 of a numeric scalar (or 1-element) tensor as int64. */
ml_status shape_read_scalar_int(const ml_node *node, const ml_tensor *t, const char *what,
                                int64_t *out);

/* Output staging: *dst is where the kernel writes elements. For non-string
 * tensors it is out->data; for strings it is a temporary ml_str array whose
 * records borrow bytes from the inputs. shape_out_end always releases the
 * staging array; when st is a failure it is returned unchanged, otherwise the
 * strings are copied into out. */
ml_status shape_out_begin(const ml_node *node, ml_tensor *out, void **dst);
ml_status shape_out_end(ml_tensor *out, void *dst, ml_status st);

/* Writes n copies of the esz-byte value at val. */
void shape_fill(void *dst, const void *val, size_t n, size_t esz);

/* dst = src transposed: output axis j is input axis perm[j]. Size-1 axes are
 * dropped and runs of axes that stay adjacent are merged first, so common
 * layouts reduce to row copies or batched 2-D transposes. */
void shape_permute(ml_threadpool *pool, const void *src, void *dst, size_t esz, int rank,
                   const int64_t *dims, const int *perm);

/* Row-major strides (in elements) of a shape. */
void shape_strides(int rank, const int64_t *dims, int64_t *strides);

/* Product of dims[from..to). */
static inline size_t shape_prod(const int64_t *dims, int from, int to) {
    size_t p = 1;
    for (int i = from; i < to; i++) p *= (size_t)dims[i];
    return p;
}

/* Normalises axes (negative allowed) against rank; rejects duplicates. */
ml_status shape_normalize_axes(const ml_node *node, const int64_t *axes, size_t n, int rank,
                               int *out);

#endif
