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
