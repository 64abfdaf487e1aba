/* Shared between the linalg kernels (MatMul/Gemm/Det in linalg.c, Einsum in
 * linalg_einsum.c) and the quantised matmuls in quant*.c. */
#ifndef MLAMBDA_OPS_LINALG_INTERNAL_H
#define MLAMBDA_OPS_LINALG_INTERNAL_H

#include <stdbool.h>

#include "ops/gemm_fast.h"
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

/* ---- gemm_ops.c: MatMul/Gemm/FusedGemm/MatMulBiasAct on the own GEMM ---- */
/* Load-time state of the dense kernels (any field may be unset). */
typedef struct nn_dense_state {
    const float *bp;  /* constant B packed for gemm_fast.h (from nn_pack_acquire) */
    const float *b32; /* float32 copy of a constant float16/bfloat16 B (MatMul) */
    nn_act act;       /* FusedGemm / MatMulBiasAct activation */
} nn_dense_state;
ml_status nn_matmul_init(const ml_node *node, void **state);
ml_status nn_gemm_init(const ml_node *node, void **state);
ml_status nn_fused_gemm_init(const ml_node *node, void **state);
ml_status nn_mmba_init(const ml_node *node, void **state);
void nn_dense_free(void *state);
/* The float body of Gemm/FusedGemm (not double): y = act(alpha op(A) op(B) + beta C). */
ml_status nn_gemm_float(ml_kernel_ctx *ctx, const ml_tensor *a, const ml_tensor *b,
                        const ml_tensor *c, ml_tensor *y, bool ta, bool tb, float alpha, float beta,
                        int64_t cM, int64_t cN);
/* MatMul of float-family A with a packed constant B (state->bp): y = act(A B + bias). */
ml_status nn_matmul_packed(ml_kernel_ctx *ctx, const nn_matmul_plan *p, const ml_tensor *a,
                           const float *bias, ml_tensor *y);
ml_status nn_mmba_run(ml_kernel_ctx *ctx);

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
    /* gemm_fast.h panel layouts (float32 of any float-family source): */
    NN_PACK_GEMM_B = 2,  /* 2-D [K, N] as a packed B */
    NN_PACK_GEMM_BT = 3, /* 2-D [N, K] (a transB weight) as a packed B of [K, N] */
    NN_PACK_CONV_A = 4,  /* conv W [M, Cg, k...] as `param` groups, each a packed A of
                          * [M/param, Cg*kvol] (nn_gemm_packa_floats apart) */
} nn_pack_kind;
/* *out receives the shared copy (read-only); release with nn_pack_release. */
ml_status nn_pack_acquire(const ml_node *node, const ml_tensor *src, nn_pack_kind kind,
                          const float **out);
/* The same, for kinds with a parameter (NN_PACK_CONV_A: the group count). */
ml_status nn_pack_acquire_ex(const ml_node *node, const ml_tensor *src, nn_pack_kind kind,
                             int64_t param, const float **out);
/* Drops one reference to a copy from nn_pack_acquire; NULL is accepted. */
void nn_pack_release(const float *packed);
/* Number of live shared copies (for tests). */
size_t nn_pack_live_count(void);

#endif
