/* MatMul (numpy batched broadcasting, 1-D promotion), Gemm and Det.
 * Float (and float16/bfloat16 through float32 scratch) runs on the own GEMM
 * of gemm_fast.h, with constant weights packed at load (gemm_ops.c); double
 * goes through cblas; integer types use plain loops with wrapping arithmetic. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/families.h"
#include "ops/linalg_internal.h"
#include "ops/nn_util.h"

/* ---- MatMul ---- */

ml_status nn_matmul_shapes(const ml_node *node, const ml_tensor *a, const ml_tensor *b,
                           nn_matmul_plan *p) {
    memset(p, 0, sizeof *p);
    if (a->rank < 1 || b->rank < 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "inputs must have rank >= 1 (got ranks %d and %d)", a->rank, b->rank);
    int64_t ad[ML_MAX_RANK + 1], bd[ML_MAX_RANK + 1];
    int ar = a->rank, br = b->rank;
    memcpy(ad, a->dims, sizeof(int64_t) * (size_t)ar);
    memcpy(bd, b->dims, sizeof(int64_t) * (size_t)br);
    if (ar == 1) { /* [K] -> [1,K] */
        ad[1] = ad[0];
        ad[0] = 1;
        ar = 2;
    }
    if (br == 1) { /* [K] -> [K,1] */
        bd[1] = 1;
        br = 2;
    }
    p->M = ad[ar - 2];
    p->K = ad[ar - 1];
    p->N = bd[br - 1];
    if (bd[br - 2] != p->K) {
        char sa[128], sb[128];
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "inner dimensions differ: A %s and B %s",
                             ml_shape_format(a->rank, a->dims, sa, sizeof sa),
                             ml_shape_format(b->rank, b->dims, sb, sizeof sb));
    }
    int nb;
    int64_t batch[ML_MAX_RANK];
    ML_TRY(ml_shape_broadcast(ar - 2, ad, br - 2, bd, &nb, batch));
    p->batch_rank = nb;
    memcpy(p->batch_dims, batch, sizeof(int64_t) * (size_t)nb);
    /* strides (in matrices) of A and B batches against the output batch index */
    int64_t sa = 1, sb = 1;
    for (int i = nb - 1; i >= 0; i--) {
        int ia = i - (nb - (ar - 2)), ib = i - (nb - (br - 2));
        int64_t da = ia >= 0 ? ad[ia] : 1, db = ib >= 0 ? bd[ib] : 1;
        p->a_bstride[i] = da == 1 ? 0 : sa;
        p->b_bstride[i] = db == 1 ? 0 : sb;
        sa *= da;
        sb *= db;
    }
    p->n_batch = nn_prod(nb, batch);
    if (p->M > INT32_MAX || p->N > INT32_MAX || p->K > INT32_MAX)
        return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED,
                             "matrix dimensions above 2^31 are not supported");
    p->a_batches = sa;
    p->b_batches = sb;
    int r = 0;
    for (int i = 0; i < nb; i++) p->out_dims[r++] = batch[i];
    if (a->rank >= 2) p->out_dims[r++] = p->M;
    if (b->rank >= 2) p->out_dims[r++] = p->N;
    p->out_rank = r;
    return ML_STATUS_OK;
}

/* Matrix offsets (in matrices) of A and B for output batch index bi. */
void nn_matmul_batch_offsets(const nn_matmul_plan *p, int64_t bi, int64_t *ao, int64_t *bo) {
    int64_t a = 0, b = 0;
    for (int i = p->batch_rank - 1; i >= 0; i--) {
        int64_t c = bi % p->batch_dims[i];
        bi /= p->batch_dims[i];
        a += c * p->a_bstride[i];
        b += c * p->b_bstride[i];
    }
    *ao = a;
    *bo = b;
}

typedef struct mm_job {
    const nn_matmul_plan *p;
    const void *a, *b;
    void *y;
    bool dbl;
    ml_threadpool *inner; /* splits each product; NULL when batches run in parallel */
} mm_job;

static void mm_batch_range(void *arg, size_t begin, size_t end) {
    const mm_job *j = arg;
    const nn_matmul_plan *p = j->p;
    int M = (int)p->M, N = (int)p->N, K = (int)p->K;
    int lda = p->trans_a ? M : K, ldb = p->trans_b ? K : N;
    if (lda < 1) lda = 1;
    if (ldb < 1) ldb = 1;
    for (size_t bi = begin; bi < end; bi++) {
        int64_t ao, bo;
        nn_matmul_batch_offsets(p, (int64_t)bi, &ao, &bo);
        if (j->dbl) {
            const double *a = (const double *)j->a + ao * p->M * p->K;
            const double *b = (const double *)j->b + bo * p->K * p->N;
            double *y = (double *)j->y + (int64_t)bi * p->M * p->N;
            nn_dgemm(j->inner, p->trans_a, p->trans_b, M, N, K, 1.0, a, lda, b, ldb, 0.0, y,
                     N > 0 ? N : 1);
        } else {
            const float *a = (const float *)j->a + ao * p->M * p->K;
            const float *b = (const float *)j->b + bo * p->K * p->N;
            float *y = (float *)j->y + (int64_t)bi * p->M * p->N;
            /* the own GEMM reads both operands in place (a transposed B is
             * packed per call); it beats sgemm on these small products */
            nn_gemm_opnd ga = {.p = a, .rs = p->trans_a ? 1 : lda, .cs = p->trans_a ? lda : 1};
            nn_gemm_opnd gb = {.p = b, .rs = p->trans_b ? 1 : ldb, .cs = p->trans_b ? ldb : 1};
            nn_gemm_epi e = {.alpha = 1.0f};
            nn_gemm(j->inner, M, N, K, &ga, &gb, y, N > 0 ? N : 1, &e);
        }
    }
}

/* y = a @ b over float or double data laid out as described by p. */
void nn_matmul_blas(ml_threadpool *pool, const nn_matmul_plan *p, const void *a, const void *b,
                    void *y, bool dbl) {
    size_t ysz = dbl ? sizeof(double) : sizeof(float);
    if (p->n_batch == 0 || p->M == 0 || p->N == 0) return;
    if (p->K == 0) {
        memset(y, 0, (size_t)(p->n_batch * p->M * p->N) * ysz);
        return;
    }
    /* A batched against one B: fold the batches into M for a single GEMM */
    if (p->b_batches == 1 && p->a_batches == p->n_batch && !p->trans_a &&
        p->n_batch <= INT32_MAX / p->M) {
        nn_matmul_plan flat = *p;
        flat.M = p->M * p->n_batch;
        flat.n_batch = 1;
        flat.batch_rank = 0;
        mm_job j = {&flat, a, b, y, dbl, pool};
        mm_batch_range(&j, 0, 1);
        return;
    }
    /* enough batches to occupy the pool: one single-threaded product per
     * task; otherwise split each product across the pool */
    if ((size_t)p->n_batch >= ml_threadpool_size(pool) && p->n_batch > 1) {
        mm_job j = {p, a, b, y, dbl, NULL};
        /* chunks of at least half the threshold: tiny products (attention
         * heads at batch 1) stay inline */
        double each = (double)p->M * (double)p->N * (double)p->K, half = NN_GEMM_PAR_MIN / 2;
        size_t min_chunk = each >= half ? 1 : (size_t)(half / each) + 1;
        ml_parallel_for(pool, (size_t)p->n_batch, min_chunk, mm_batch_range, &j);
    } else {
        mm_job j = {p, a, b, y, dbl, pool};
        mm_batch_range(&j, 0, (size_t)p->n_batch);
    }
}

#define MM_INT_LOOP(T, UT)                                                                         \
    do {                                                                                           \
        const T *A = a->data, *B = b->data;                                                        \
        T *Y = y->data;                                                                            \
        for (int64_t bi = 0; bi < p.n_batch; bi++) {                                               \
            int64_t ao, bo;                                                                        \
            nn_matmul_batch_offsets(&p, bi, &ao, &bo);                                             \
            const T *pa = A + ao * p.M * p.K, *pb = B + bo * p.K * p.N;                            \
            T *py = Y + bi * p.M * p.N;                                                            \
            for (int64_t m = 0; m < p.M; m++) {                                                    \
                UT *row = (UT *)(py + m * p.N);                                                    \
                for (int64_t n = 0; n < p.N; n++) row[n] = 0;                                      \
                for (int64_t k = 0; k < p.K; k++) {                                                \
                    UT av = (UT)pa[m * p.K + k];                                                   \
                    const T *brow = pb + k * p.N;                                                  \
                    for (int64_t n = 0; n < p.N; n++) row[n] += av * (UT)brow[n];                  \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    } while (0)

static ml_status matmul_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *a, *b;
    ML_TRY(ml_require_input(ctx, 0, &a));
    ML_TRY(ml_require_input(ctx, 1, &b));
    if (a->dtype != b->dtype)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "A is %s but B is %s; they must match",
                             ml_dtype_name(a->dtype), ml_dtype_name(b->dtype));
    nn_matmul_plan p;
    ML_TRY(nn_matmul_shapes(node, a, b, &p));
    ml_tensor *y;
    switch (a->dtype) {
    case ML_FLOAT:
    case ML_DOUBLE:
    case ML_FLOAT16:
    case ML_BFLOAT16:
    case ML_INT32:
    case ML_INT64:
    case ML_UINT32:
    case ML_UINT64:
        break;
    default:
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "unsupported input type %s",
                             ml_dtype_name(a->dtype));
    }
    ML_TRY(ml_output_tensor(ctx, 0, a->dtype, p.out_rank, p.out_dims, &y));
    if (ml_tensor_numel(y) == 0) return ML_STATUS_OK; /* loops below may span huge empty dims */
    const nn_dense_state *ds = node->state;
    if (ds && ds->bp && b->rank == 2 && p.n_batch * p.M <= INT32_MAX && a->dtype != ML_DOUBLE)
        return nn_matmul_packed(ctx, &p, a, NULL, y); /* constant B packed at load */
    switch (a->dtype) {
    case ML_FLOAT:
        nn_matmul_blas(ctx->pool, &p, a->data, b->data, y->data, false);
        break;
    case ML_DOUBLE:
        nn_matmul_blas(ctx->pool, &p, a->data, b->data, y->data, true);
        break;
    case ML_FLOAT16:
    case ML_BFLOAT16: {
        const float *fa = NULL, *fb = NULL;
        float *oa = NULL, *ob = NULL, *fy = NULL, *oy = NULL;
        ML_TRY(nn_f32_view(node, a, &fa, &oa));
        ml_status st = ML_STATUS_OK;
        const nn_dense_state *ds = node->state;
        if (ds && ds->b32)
            fb = ds->b32; /* converted at load time */
        else
            st = nn_f32_view(node, b, &fb, &ob);
        if (!st) st = nn_f32_target(node, y, &fy, &oy);
        if (!st) {
            nn_matmul_blas(ctx->pool, &p, fa, fb, fy, false);
            nn_f32_commit(y, oy);
        }
        free(oa);
        free(ob);
        return st;
    }
    case ML_INT32:
        MM_INT_LOOP(int32_t, uint32_t);
        break;
    case ML_UINT32:
        MM_INT_LOOP(uint32_t, uint32_t);
        break;
    case ML_INT64:
        MM_INT_LOOP(int64_t, uint64_t);
        break;
    case ML_UINT64:
        MM_INT_LOOP(uint64_t, uint64_t);
        break;
    default:
        break;
    }
    return ML_STATUS_OK;
}

/* ---- com.microsoft FusedMatMul: alpha * op(A) @ op(B) ----
 * onnxruntime's optimiser folds Transpose + MatMul + Mul into it. transA /
 * transB swap the last two dims; the transBatch forms are rejected. */

static ml_status fused_matmul_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *a, *b;
    ML_TRY(ml_require_input(ctx, 0, &a));
    ML_TRY(ml_require_input(ctx, 1, &b));
    if (a->dtype != b->dtype || !nn_is_float(a->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "A and B must share one float type (got %s and %s)",
                             ml_dtype_name(a->dtype), ml_dtype_name(b->dtype));
    if (ml_attr_int(node, "transBatchA", 0) || ml_attr_int(node, "transBatchB", 0))
        return ml_node_error(node, ML_ERR_UNSUPPORTED,
                             "transBatchA/transBatchB are not supported; export without them");
    bool ta = ml_attr_int(node, "transA", 0) != 0 && a->rank >= 2;
    bool tb = ml_attr_int(node, "transB", 0) != 0 && b->rank >= 2;
    float alpha = ml_attr_float(node, "alpha", 1.0f);
    /* shape analysis on headers with the stored last two dims swapped back */
    ml_tensor ah = *a, bh = *b;
    if (ta) {
        ah.dims[a->rank - 2] = a->dims[a->rank - 1];
        ah.dims[a->rank - 1] = a->dims[a->rank - 2];
    }
    if (tb) {
        bh.dims[b->rank - 2] = b->dims[b->rank - 1];
        bh.dims[b->rank - 1] = b->dims[b->rank - 2];
    }
    nn_matmul_plan p;
    ML_TRY(nn_matmul_shapes(node, &ah, &bh, &p));
    p.trans_a = ta;
    p.trans_b = tb;
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, a->dtype, p.out_rank, p.out_dims, &y));
    size_t ny = ml_tensor_numel(y);
    if (ny == 0) return ML_STATUS_OK;
    if (a->dtype == ML_DOUBLE) {
        nn_matmul_blas(ctx->pool, &p, a->data, b->data, y->data, true);
        double *Y = y->data;
        if (alpha != 1.0f)
            for (size_t i = 0; i < ny; i++) Y[i] *= alpha;
        return ML_STATUS_OK;
    }
    const float *fa = NULL, *fb = NULL;
    float *oa = NULL, *ob = NULL, *fy = NULL, *oy = NULL;
    ml_status st = nn_f32_view(node, a, &fa, &oa);
    if (!st) st = nn_f32_view(node, b, &fb, &ob);
    if (!st) st = nn_f32_target(node, y, &fy, &oy);
    if (!st) {
        nn_matmul_blas(ctx->pool, &p, fa, fb, fy, false);
        if (alpha != 1.0f)
            for (size_t i = 0; i < ny; i++) fy[i] *= alpha;
        nn_f32_commit(y, oy);
    }
    free(oa);
    free(ob);
    return st;
}

/* ---- Gemm ---- */

#define GEMM_INT_LOOP(T, UT)                                                                       \
    do {                                                                                           \
        const T *A = a->data, *B = b->data;                                                        \
        T *Y = y->data;                                                                            \
        for (int64_t m = 0; m < M; m++)                                                            \
            for (int64_t n = 0; n < N; n++) {                                                      \
                UT acc = 0;                                                                        \
                for (int64_t k = 0; k < K; k++) {                                                  \
                    UT av = (UT)(ta ? A[k * M + m] : A[m * K + k]);                                \
                    UT bv = (UT)(tb ? B[n * K + k] : B[k * N + n]);                                \
                    acc += av * bv;                                                                \
                }                                                                                  \
                /* alpha = beta = 1 (the usual case) stays exact in integers */                    \
                if (alpha != 1.0f) acc = (UT)(T)((double)alpha * (double)(T)acc);                  \
                if (c) {                                                                           \
                    const T *C = c->data;                                                          \
                    T cv = C[(m % cM) * cN + (n % cN)];                                            \
                    acc += beta == 1.0f ? (UT)cv : (UT)(T)((double)beta * (double)cv);             \
                }                                                                                  \
                Y[m * N + n] = (T)acc;                                                             \
            }                                                                                      \
    } while (0)

static ml_status gemm_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *a, *b, *c = ml_input(ctx, 2);
    ML_TRY(ml_require_input(ctx, 0, &a));
    ML_TRY(ml_require_input(ctx, 1, &b));
    if (a->rank != 2 || b->rank != 2)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "A and B must be 2-D (got ranks %d and %d)", a->rank, b->rank);
    if (a->dtype != b->dtype || (c && c->dtype != a->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "A, B and C must have the same type");
    bool ta = ml_attr_int(node, "transA", 0) != 0, tb = ml_attr_int(node, "transB", 0) != 0;
    float alpha = ml_attr_float(node, "alpha", 1.0f), beta = ml_attr_float(node, "beta", 1.0f);
    int64_t M = ta ? a->dims[1] : a->dims[0], K = ta ? a->dims[0] : a->dims[1];
    int64_t Kb = tb ? b->dims[1] : b->dims[0], N = tb ? b->dims[0] : b->dims[1];
    if (K != Kb)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "A gives K=%lld but B gives K=%lld (check transA/transB)",
                             (long long)K, (long long)Kb);
    if (M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
        return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED,
                             "matrix dimensions above 2^31 are not supported");
    int64_t cM = 1, cN = 1;
    if (c) {
        if (c->rank > 2)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "C must have rank <= 2, got %d",
                                 c->rank);
        if (c->rank == 2) {
            cM = c->dims[0];
            cN = c->dims[1];
        } else if (c->rank == 1) {
            cN = c->dims[0];
        }
        if ((cM != 1 && cM != M) || (cN != 1 && cN != N))
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "C of shape [%lld,%lld] does not broadcast to [%lld,%lld]",
                                 (long long)cM, (long long)cN, (long long)M, (long long)N);
        if (cM == 0 || cN == 0) { /* only possible when M or N is 0 too */
            cM = cM ? cM : 1;
            cN = cN ? cN : 1;
        }
    }
    int64_t dims[2] = {M, N};
    ml_tensor *y;
    ml_dtype dt = a->dtype;
    if (!(nn_is_float(dt) || dt == ML_INT32 || dt == ML_INT64 || dt == ML_UINT32 ||
          dt == ML_UINT64))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "unsupported input type %s",
                             ml_dtype_name(dt));
    ML_TRY(ml_output_tensor(ctx, 0, dt, 2, dims, &y));
    if (M == 0 || N == 0) return ML_STATUS_OK;
    if (dt == ML_DOUBLE && node->state &&
        ((const nn_dense_state *)node->state)->act.kind != NN_ACT_NONE)
        return ml_node_error(node, ML_ERR_UNSUPPORTED,
                             "activations are supported for float, float16 and bfloat16 only");
    if (dt == ML_DOUBLE) {
        double *Y = y->data;
        if (c) {
            const double *C = c->data;
            for (int64_t m = 0; m < M; m++)
                for (int64_t n = 0; n < N; n++) Y[m * N + n] = C[(m % cM) * cN + (n % cN)];
        }
        if (K == 0) {
            for (int64_t i = 0; i < M * N; i++) Y[i] = c ? Y[i] * beta : 0.0;
            return ML_STATUS_OK;
        }
        nn_dgemm(ctx->pool, ta, tb, (int)M, (int)N, (int)K, alpha, a->data, (int)a->dims[1],
                 b->data, (int)b->dims[1], c ? beta : 0.0, Y, (int)N);
        return ML_STATUS_OK;
    }
    if (nn_is_float(dt)) return nn_gemm_float(ctx, a, b, c, y, ta, tb, alpha, beta, cM, cN);
    if (node->state && ((const nn_dense_state *)node->state)->act.kind != NN_ACT_NONE)
        return ml_node_error(node, ML_ERR_UNSUPPORTED, "activations need a float type, got %s",
                             ml_dtype_name(dt));
    switch (dt) {
    case ML_INT32:
        GEMM_INT_LOOP(int32_t, uint32_t);
        break;
    case ML_UINT32:
        GEMM_INT_LOOP(uint32_t, uint32_t);
        break;
    case ML_INT64:
        GEMM_INT_LOOP(int64_t, uint64_t);
        break;
    case ML_UINT64:
        GEMM_INT_LOOP(uint64_t, uint64_t);
        break;
    default:
        break;
    }
    return ML_STATUS_OK;
}

/* ---- Det ---- */

static double det_lu(double *m, int64_t n) {
    double det = 1.0;
    for (int64_t c = 0; c < n; c++) {
        int64_t piv = c;
        for (int64_t r = c + 1; r < n; r++)
            if (fabs(m[r * n + c]) > fabs(m[piv * n + c])) piv = r;
        if (m[piv * n + c] == 0.0) return 0.0;
        if (piv != c) {
            for (int64_t k = 0; k < n; k++) {
                double t = m[c * n + k];
                m[c * n + k] = m[piv * n + k];
                m[piv * n + k] = t;
            }
            det = -det;
        }
        double d = m[c * n + c];
        det *= d;
        for (int64_t r = c + 1; r < n; r++) {
            double f = m[r * n + c] / d;
            if (f == 0.0) continue;
            for (int64_t k = c + 1; k < n; k++) m[r * n + k] -= f * m[c * n + k];
        }
    }
    return det;
}

static ml_status det_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (!nn_is_float(x->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "input must be a float type, got %s",
                             ml_dtype_name(x->dtype));
    if (x->rank < 2 || x->dims[x->rank - 1] != x->dims[x->rank - 2])
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "input must have shape [*, M, M] (rank %d)", x->rank);
    int64_t n = x->dims[x->rank - 1];
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank - 2, x->dims, &y));
    size_t batches = ml_tensor_numel(y);
    double *m = malloc(sizeof(double) * (size_t)(n * n > 0 ? n * n : 1));
    if (!m)
        return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for a %lldx%lld matrix",
                             (long long)n, (long long)n);
    for (size_t bi = 0; bi < batches; bi++) {
        for (int64_t i = 0; i < n * n; i++)
            m[i] = ml_tensor_get_f64(x, bi * (size_t)(n * n) + (size_t)i);
        ml_tensor_set_f64(y, bi, det_lu(m, n));
    }
    free(m);
    return ML_STATUS_OK;
}

const ml_kernel ml_kernels_linalg[] = {
    {"", "MatMul", 1, 0, nn_matmul_init, nn_dense_free, matmul_run},
    {"", "Gemm", 1, 0, nn_gemm_init, nn_dense_free, gemm_run},
    {"", "Det", 11, 0, NULL, NULL, det_run},
    {"", "Einsum", 12, 0, NULL, NULL, nn_einsum_run},
    {"com.microsoft", "FusedMatMul", 1, 0, NULL, NULL, fused_matmul_run},
    {"com.microsoft", "FusedGemm", 1, 0, nn_fused_gemm_init, nn_dense_free, gemm_run},
    {"com.mlambda", "MatMulBiasAct", 1, 0, nn_mmba_init, nn_dense_free, nn_mmba_run},
    {0},
};
