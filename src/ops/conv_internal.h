/* Convolution core shared by Conv/ConvTranspose (conv.c) and the quantised
 * QLinearConv/ConvInteger (quant*.c): im2col + GEMM in float or double. */
#ifndef MLAMBDA_OPS_CONV_INTERNAL_H
#define MLAMBDA_OPS_CONV_INTERNAL_H

#include "ops/kernel.h"
#include "ops/nn_util.h"

typedef struct nn_conv_dims {
    int64_t N, C, M, G;    /* batch, input channels, output channels, groups */
    int64_t Cg, Mg;        /* channels per group */
    int64_t kvol;          /* kernel elements per channel */
    int64_t in_sp, out_sp; /* spatial element counts */
    nn_geom g;
    int out_rank;
    int64_t out_dims[ML_MAX_RANK];
} nn_conv_dims;

/* Validates X [N,C,D...] and W [M,C/group,k...] with the node's group,
 * kernel_shape, strides, dilations, pads and auto_pad. */
ml_status nn_conv_dims_init(const ml_node *node, const ml_tensor *x, const ml_tensor *w,
                            nn_conv_dims *cd);

/* y = conv(x, w) + b (b may be NULL). Fails only when out of memory. */
ml_status nn_conv_f32(const ml_node *node, ml_threadpool *pool, const nn_conv_dims *cd,
                      const float *x, const float *w, const float *b, float *y);
/* GCC would turn the many short row copies of im2col and padding into
 * memcpy/memset calls costing more than the copy itself: keep them inline. */
#if defined(__GNUC__) && !defined(__clang__)
#define NN_INLINE_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define NN_INLINE_LOOPS
#endif

/* Per-thread buffers up to this size are kept between runs (bands are
 * normally 256 KiB; this bounds what each request/pool thread holds). */
#define NN_CONV_SCRATCH_KEEP ((size_t)8 << 20)

/* A per-thread scratch buffer of at least `bytes`, valid until the thread's
 * next call (so at most one in use per thread: tasks never nest). Saves a
 * malloc (often an mmap and page faults) per tile. NULL when out of memory
 * or above NN_CONV_SCRATCH_KEEP. (conv.c) */
void *nn_conv_scratch(size_t bytes);

struct nn_act;

/* gemm_conv.c: the float conv of 1-D/2-D inputs (strides up to 4) as an
 * implicit GEMM over a padded copy of the input, with the weights packed
 * per group (wp, wp_group floats apart), bias, z and act fused. Returns
 * false when it does not apply (no AVX2, shapes, scratch size) or ran out
 * of memory part-way: the caller then computes the whole output again with
 * im2col bands. */
bool nn_conv_shift_run(ml_threadpool *pool, const nn_conv_dims *cd, const float *x, const float *wp,
                       size_t wp_group, const float *b, const float *z, const struct nn_act *act,
                       float *y);

/* The same with the weights optionally pre-packed (wp, gemm_fast.h packed A
 * per group; w may then be NULL unless the conv is depthwise), plus the
 * FusedConv extras: z (NULL or the output's shape) added before act. */
ml_status nn_conv_f32_fused(const ml_node *node, ml_threadpool *pool, const nn_conv_dims *cd,
                            const float *x, const float *w, const float *wp, const float *b,
                            const float *z, const struct nn_act *act, float *y);
ml_status nn_conv_f64(const ml_node *node, ml_threadpool *pool, const nn_conv_dims *cd,
                      const double *x, const double *w, const double *b, double *y);

/* Convolution of integer-valued float data, exact: the reduction is split
 * into chunks short enough (given max_prod >= every |x * w|) that each sgemm
 * partial sum is exact in float, and chunks add up in double. acc receives
 * N*M*out_sp values; no bias. */
ml_status nn_conv_exact_f32(const ml_node *node, ml_threadpool *pool, const nn_conv_dims *cd,
                            const float *x, const float *w, double max_prod, double *acc);
/* The chunk length used for a given bound on |products|. */
int64_t nn_exact_chunk(double max_prod);

#endif
