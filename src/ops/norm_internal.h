/* Shared between norm.c and norm_layer.c. */
#ifndef MLAMBDA_OPS_NORM_INTERNAL_H
#define MLAMBDA_OPS_NORM_INTERNAL_H

#include "ops/kernel.h"
#include "ops/nn_util.h"

/* A float-family tensor as a new double array (caller frees); NULL when out of memory. */
double *nn_norm_load_f64(const ml_tensor *t);

ml_status nn_layernorm_run(ml_kernel_ctx *ctx);
ml_status nn_groupnorm_run(ml_kernel_ctx *ctx);
ml_status nn_skip_layernorm_run(ml_kernel_ctx *ctx);

#endif
