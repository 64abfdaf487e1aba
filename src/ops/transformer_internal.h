/* Shared between the transformer family files (transformer.c,
 * transformer_attention.c, transformer_sdpa.c). */
#ifndef MLAMBDA_OPS_TRANSFORMER_INTERNAL_H
#define MLAMBDA_OPS_TRANSFORMER_INTERNAL_H

#include "ops/kernel.h"

/* Attention (opset 23, and nonpad_kv_seqlen from opset 24). */
ml_status ml_attention_run(ml_kernel_ctx *ctx);
/* com.mlambda ScaledDotProductAttention (transformer_sdpa.c). */
ml_status ml_sdpa_init(const ml_node *node, void **state);
ml_status ml_sdpa_run(ml_kernel_ctx *ctx);

#endif
