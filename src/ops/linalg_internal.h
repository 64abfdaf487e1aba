/* Shared between the linalg kernels (MatMul/Gemm/Det in linalg.c, Einsum in
 * linalg_einsum.c) and the quantised matmuls in quant*.c. */
#ifndef MLAMBDA_OPS_LINALG_INTERNAL_H
#define MLAMBDA_OPS_LINALG_INTERNAL_H

#include <stdbool.h>

#include "ops/kernel.h"

/* Shape analysis of a numpy-style batched matrix product. */
typedef struct nn_matmul_plan {
    int64_t M, K, N;
    int batch_rank; /* broadcast batch dims */
    int64_t batch_dims[ML_MAX_RANK];
    int64_t a_bstride[ML_MAX_RANK]; /* per batch dim, in matrices (0 = broadcast) */
    int64_t b_bstride[ML_MAX_RANK];
    int64_t n_batch;              /* product of batch_dims */
    int64_t a_batches, b_batches; /* matrices stored in A and B */
    int out_rank;
    int64_t out_dims[ML_MAX_RANK];
    /* matrices stored transposed ([K, M] for A, [N, K] for B); only
     * nn_matmul_blas honours these (Einsum sets them to skip copies) */
    bool trans_a, trans_b;
} nn_matmul_plan;

/* Checks shapes (1-D promotion, batch broadcasting) and fills the plan. */
ml_status nn_matmul_shapes(const ml_node *node, const ml_tensor *a, const ml_tensor *b,
                           nn_matmul_plan *p);
/* Which A and B matrices output batch bi multiplies. */
void nn_matmul_batch_offsets(const nn_matmul_plan *p, int64_t bi, int64_t *ao, int64_t *bo);
/* y = a @ b for contiguous float (dbl false) or double data. */
void nn_matmul_blas(ml_threadpool *pool, const nn_matmul_plan *p, const void *a, const void *b,
                    void *y, bool dbl);

ml_status nn_einsum_run(ml_kernel_ctx *ctx);

#endif
