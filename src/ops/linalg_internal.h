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

/* ---- linalg_gemm.c ---- */
/* Multiply-adds below which work stays on the calling thread: about 45 us of
 * single-core work (~45 GMAC/s), well above the 5-20 us it takes to wake a
 * sleeping pool thread. */
#define NN_GEMM_PAR_MIN 2097152.0
/* Makes OpenBLAS single-threaded, once per process (idempotent, thread-safe):
 * parallelism comes from the engine's pool instead (see linalg_gemm.c). */
void nn_blas_init(void);
/* Row-major C = alpha * op(A) op(B) + beta * C like cblas_?gemm, but split
 * into row or column blocks over pool (may be NULL) when the product is big
 * enough to gain from it. Calls nn_blas_init. */
void nn_sgemm(ml_threadpool *pool, bool ta, bool tb, int M, int N, int K, float alpha,
              const float *a, int lda, const float *b, int ldb, float beta, float *c, int ldc);
void nn_dgemm(ml_threadpool *pool, bool ta, bool tb, int M, int N, int K, double alpha,
              const double *a, int lda, const double *b, int ldb, double beta, double *c, int ldc);

/* ---- linalg_pack.c: load-time float32 copies of constant weights ---- */
/* Nodes that read the same constant tensor (e.g. one weight reused by every
 * step of an unrolled decoder) share one packed copy: entries are keyed by the
 * source tensor and kind, and refcounted. The source must outlive the copy,
 * which holds because a graph destroys node states before its constants. */
typedef enum nn_pack_kind {
    NN_PACK_F32 = 0,   /* same layout, converted to float32 */
    NN_PACK_F32_T = 1, /* 2-D [R, C] converted and transposed to [C, R] */
} nn_pack_kind;
/* *out receives the shared copy (read-only); release with nn_pack_release. */
ml_status nn_pack_acquire(const ml_node *node, const ml_tensor *src, nn_pack_kind kind,
                          const float **out);
/* Drops one reference to a copy from nn_pack_acquire; NULL is accepted. */
void nn_pack_release(const float *packed);
/* Number of live shared copies (for tests). */
size_t nn_pack_live_count(void);

#endif
