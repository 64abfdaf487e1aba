/* Shared machinery of the elementwise, activation, cast and reduce kernels:
 * numpy broadcasting of up to ELEM_MAX_IN inputs with strides precomputed
 * once, a parallel driver that hands contiguous runs to typed inner loops,
 * and float16/bfloat16 <-> float array conversion (half types are computed
 * through float). Implemented in elementwise_util.c. */
#ifndef MLAMBDA_OPS_ELEM_UTIL_H
#define MLAMBDA_OPS_ELEM_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ops/kernel.h"

#define ELEM_MAX_IN 3
/* Below this many elements a loop runs on the calling thread only. */
#define ELEM_PAR_MIN 32768
/* The same for transcendental maps (exp, erf, tanh...: ~10x the work per
 * element), so mid-size tensors are split across threads too. */
#define ELEM_PAR_MIN_HEAVY 4096

/* A broadcast of n_in inputs to one output shape, collapsed so that adjacent
 * dims with the same broadcast pattern are merged and size-1 dims dropped.
 * After collapsing, every input's stride in the innermost dim is 0 or 1. */
typedef struct elem_bcast {
    int n_in;
    int rank;                                  /* collapsed rank (>= 1) */
    int64_t dims[ML_MAX_RANK];                 /* collapsed output dims */
    int64_t strides[ELEM_MAX_IN][ML_MAX_RANK]; /* element strides, 0 = broadcast */
    size_t numel;                              /* output element count */
    int out_rank;                              /* uncollapsed output shape */
    int64_t out_dims[ML_MAX_RANK];
} elem_bcast;

/* Computes the broadcast of the given input shapes (numpy rules). Fails with
 * an INVALID_ARGUMENT status naming the node when shapes are incompatible. */
ml_status elem_bcast_init(const ml_node *node, int n_in, const int *ranks,
                          const int64_t *const *dims, elem_bcast *bc);
/* Convenience: the shapes come from tensors. */
ml_status elem_bcast_tensors(const ml_node *node, int n_in, const ml_tensor *const *ts,
                             elem_bcast *bc);

/* Inner loop over n output elements: in[k] advances by instride[k] (0 or 1)
 * elements, out by one. Pointers are already offset to the run start. */
typedef void (*elem_run_fn)(void *arg, const void *const *in, const int64_t *instride, void *out,
                            int64_t n);

/* Runs fn over the whole broadcast, in parallel when large. in[k] points at
 * input k's data with element size in_size[k]; out has element size out_size. */
void elem_bcast_run(ml_threadpool *pool, const elem_bcast *bc, const void *const *in,
                    const size_t *in_size, void *out, size_t out_size, elem_run_fn fn, void *arg);

/* A contiguous map over n elements, in parallel when large: fn receives
 * [begin, end) ranges. */
void elem_parallel(ml_threadpool *pool, size_t n, ml_range_fn fn, void *arg);

/* float16/bfloat16 arrays <-> float arrays. */
bool elem_is_half(ml_dtype dt);
void elem_half_to_float(ml_dtype dt, const uint16_t *src, float *dst, size_t n);
void elem_float_to_half(ml_dtype dt, const float *src, uint16_t *dst, size_t n);
/* New owned float copy of a half tensor (same shape); caller frees. */
ml_status elem_half_tensor_to_float(const ml_tensor *t, ml_tensor **out);

/* Reads element i of a numeric/bool tensor data pointer as double / int64. */
double elem_load_f64(ml_dtype dt, const void *data, size_t i);
int64_t elem_load_i64(ml_dtype dt, const void *data, size_t i);
/* Writes v to element i with C conversion (saturating for float->int so
 * hostile values cannot trigger undefined behaviour). */
void elem_store_f64(ml_dtype dt, void *data, size_t i, double v);
void elem_store_i64(ml_dtype dt, void *data, size_t i, int64_t v);

/* Reads a scalar (or 1-element) int tensor, e.g. an axis or k input. */
ml_status elem_scalar_i64(const ml_node *node, const ml_tensor *t, const char *what, int64_t *out);

/* Output i with the same shape as t, of dtype dt. */
ml_status elem_output_like(ml_kernel_ctx *ctx, size_t i, ml_dtype dt, const ml_tensor *t,
                           ml_tensor **out);

/* ---- table-driven op runners (elementwise_drivers.c) ----
 * A table maps an input dtype to a typed loop; NULL entries are rejected
 * with a message naming the dtype. Half types (float16/bfloat16) without an
 * entry of their own run through the ML_FLOAT loop with conversion. */

/* Contiguous map: out[i] = f(in[i]) for i in [0, n). */
typedef void (*elem_map_fn)(void *arg, const void *in, void *out, size_t n);

/* Unary op on input 0 -> output 0 of the same shape. out_dt ML_UNDEFINED
 * means "same dtype as the input" (e.g. ML_BOOL for IsNaN). */
ml_status elem_unary(ml_kernel_ctx *ctx, const elem_map_fn *tab, ml_dtype out_dt, void *arg);
/* Same, on an explicit input tensor into output index 0. */
ml_status elem_unary_tensor(ml_kernel_ctx *ctx, const ml_tensor *x, const elem_map_fn *tab,
                            ml_dtype out_dt, void *arg);
/* Same with the parallel granularity given (elements per chunk at least). */
ml_status elem_unary_chunked(ml_kernel_ctx *ctx, const ml_tensor *x, const elem_map_fn *tab,
                             ml_dtype out_dt, void *arg, size_t min_chunk);
/* elem_unary for transcendental maps: ELEM_PAR_MIN_HEAVY granularity. */
ml_status elem_unary_heavy(ml_kernel_ctx *ctx, const elem_map_fn *tab, void *arg);

/* Binary broadcasting op on inputs 0 and 1 (same dtype) -> output 0.
 * Honours the pre-opset-7 "broadcast"/"axis" attributes. */
ml_status elem_binary(ml_kernel_ctx *ctx, const elem_run_fn *tab, ml_dtype out_dt, void *arg);
/* Same on explicit tensors (e.g. reshaped views of the inputs). */
ml_status elem_binary_tensors(ml_kernel_ctx *ctx, const ml_tensor *a, const ml_tensor *b,
                              const elem_run_fn *tab, ml_dtype out_dt, void *arg);

/* Variadic fold (Max, Min, Sum, Mean): out = in0 op in1 op ... with all
 * inputs broadcast together; tab's loops must tolerate out aliasing in[0].
 * scale != 1 multiplies the float result (Mean). */
ml_status elem_variadic(ml_kernel_ctx *ctx, const elem_run_fn *tab, double scale);

#endif
