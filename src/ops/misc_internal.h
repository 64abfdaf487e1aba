/* Kernels of the misc family (misc_*.c), gathered into ml_kernels_misc by misc.c. */
#ifndef MLAMBDA_OPS_MISC_INTERNAL_H
#define MLAMBDA_OPS_MISC_INTERNAL_H

#include "ops/kernel.h"

ml_status misc_run_nll_loss(ml_kernel_ctx *ctx);
ml_status misc_run_softmax_ce_loss(ml_kernel_ctx *ctx);
ml_status misc_run_adagrad(ml_kernel_ctx *ctx);
ml_status misc_run_adam(ml_kernel_ctx *ctx);
ml_status misc_run_momentum(ml_kernel_ctx *ctx);
ml_status misc_run_nms(ml_kernel_ctx *ctx);
ml_status misc_init_tfidf(const ml_node *node, void **state);
void misc_destroy_tfidf(void *state);
ml_status misc_run_tfidf(ml_kernel_ctx *ctx);
ml_status misc_run_max_roi_pool(ml_kernel_ctx *ctx);

#endif
