/* ConvTranspose: per (image, group) a GEMM W_g^T x X_g gives the column
 * matrix, which col2im scatters (adds) into the output. Output size and
 * pads follow the ONNX spec: explicit pads, output_padding, output_shape
 * (pads derived from it) and auto_pad SAME_UPPER/SAME_LOWER/VALID. */
#include <stdlib.h>
#include <string.h>

#include "ops/conv_internal.h"
#include "ops/gemm_fast.h"
#include "ops/linalg_internal.h"

#define NN_MAX_SCRATCH ((int64_t)1 << 31)

typedef struct ct_dims {
    int nsp;
    int64_t N, C, M, G, Cg, Mg, kvol, in_sp, out_sp;
    int64_t in[ML_MAX_RANK], k[ML_MAX_RANK], s[ML_MAX_RANK], d[ML_MAX_RANK];
    int64_t pb[ML_MAX_RANK], out[ML_MAX_RANK];
} ct_dims;

static int64_t floor_div2(int64_t v) {
    return v >= 0 ? v / 2 : -((-v + 1) / 2);
}

static ml_status ct_dims_init(const ml_node *node, const ml_tensor *x, const ml_tensor *w,
                              ct_dims *cd) {
    memset(cd, 0, sizeof *cd);
    if (x->rank < 3 || w->rank != x->rank)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "X must be [N, C, D...] and W [C, M/group, k...] of equal rank "
                             "(got ranks %d and %d)",
                             x->rank, w->rank);
    int nsp = cd->nsp = x->rank - 2;
    cd->N = x->dims[0];
    cd->C = x->dims[1];
    cd->G = ml_attr_int(node, "group", 1);
    if (cd->G < 1 || cd->C % cd->G != 0 || w->dims[0] != cd->C)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "W has %lld input channels, X has %lld; group %lld must divide them",
                             (long long)w->dims[0], (long long)cd->C, (long long)cd->G);
    cd->Cg = cd->C / cd->G;
    cd->Mg = w->dims[1];
    cd->M = nn_mul_sat(cd->Mg, cd->G);
    if (cd->M > INT32_MAX)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "group %lld x %lld output channels is too many", (long long)cd->G,
                             (long long)cd->Mg);
    const int64_t *ks, *st, *dl, *pads, *op, *os;
    size_t nks = ml_attr_ints(node, "kernel_shape", &ks), nst = ml_attr_ints(node, "strides", &st),
           ndl = ml_attr_ints(node, "dilations", &dl), np = ml_attr_ints(node, "pads", &pads),
           nop = ml_attr_ints(node, "output_padding", &op),
           nos = ml_attr_ints(node, "output_shape", &os);
    if ((nks && nks != (size_t)nsp) || (nst && nst != (size_t)nsp) || (ndl && ndl != (size_t)nsp) ||
        (np && np != 2 * (size_t)nsp) || (nop && nop != (size_t)nsp) ||
        (nos && nos != (size_t)nsp && nos != (size_t)nsp + 2))
        return ml_node_error(
            node, ML_ERR_INVALID_ARGUMENT,
            "kernel_shape/strides/dilations/output_padding need %d values, pads %d, "
            "output_shape %d or %d",
            nsp, 2 * nsp, nsp, nsp + 2);
    if (nos == (size_t)nsp + 2) os += 2;
    const char *ap = ml_attr_string(node, "auto_pad", "NOTSET");
    bool same_upper = strcmp(ap, "SAME_UPPER") == 0, same_lower = strcmp(ap, "SAME_LOWER") == 0;
    bool valid = strcmp(ap, "VALID") == 0;
    if (!same_upper && !same_lower && !valid && strcmp(ap, "NOTSET") != 0 && ap[0])
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "auto_pad '%s' is not recognised", ap);
    for (int i = 0; i < nsp; i++) {
        cd->in[i] = x->dims[2 + i];
        cd->k[i] = w->dims[2 + i];
        if (nks && ks[i] != cd->k[i])
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "kernel_shape[%d]=%lld does not match W dim %lld", i,
                                 (long long)ks[i], (long long)cd->k[i]);
        cd->s[i] = nst ? st[i] : 1;
        cd->d[i] = ndl ? dl[i] : 1;
        int64_t opad = nop ? op[i] : 0;
        if (cd->s[i] < 1 || cd->s[i] > NN_MAX_SPATIAL || cd->d[i] < 1 ||
            cd->d[i] > NN_MAX_SPATIAL || opad < 0 || opad > NN_MAX_SPATIAL ||
            cd->k[i] > NN_MAX_SPATIAL || cd->in[i] > NN_MAX_SPATIAL)
            return ml_node_error(
                node, ML_ERR_INVALID_ARGUMENT,
                "spatial dim %d: strides/dilations must be >= 1, output_padding >= 0", i);
        int64_t dk = (cd->k[i] - 1) * cd->d[i] + 1;
        int64_t natural = cd->s[i] * (cd->in[i] - 1) + opad + dk;
        if (cd->k[i] == 0) natural = cd->s[i] * (cd->in[i] - 1) + opad;
        if (nos || same_upper || same_lower) {
            int64_t target = nos ? os[i] : cd->in[i] * cd->s[i];
            if (target < 0 || target > NN_MAX_SPATIAL)
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "output_shape[%d]=%lld is invalid", i, (long long)target);
            int64_t total = natural - target;
            cd->pb[i] = same_upper ? floor_div2(total) : total - floor_div2(total);
            cd->out[i] = target;
        } else {
            int64_t pb = (np && !valid) ? pads[i] : 0, pe = (np && !valid) ? pads[i + nsp] : 0;
            if (pb < 0 || pe < 0 || pb > NN_MAX_SPATIAL || pe > NN_MAX_SPATIAL)
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "pads must be >= 0");
            cd->pb[i] = pb;
            cd->out[i] = natural - pb - pe;
            if (cd->in[i] == 0) cd->out[i] = 0;
            if (cd->out[i] < 0)
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "pads remove more than the output along spatial dim %d", i);
        }
    }
    cd->kvol = nn_prod(nsp, cd->k);
    cd->in_sp = nn_prod(nsp, cd->in);
    cd->out_sp = nn_prod(nsp, cd->out);
    int64_t rows = nn_mul_sat(cd->Mg, cd->kvol);
    if (rows > NN_MAX_SCRATCH / (cd->in_sp ? cd->in_sp : 1) ||
        nn_mul_sat(cd->N, cd->M) > NN_MAX_SCRATCH / (cd->out_sp ? cd->out_sp : 1) ||
        cd->in_sp > INT32_MAX || rows > INT32_MAX || cd->Cg > INT32_MAX) /* BLAS takes int sizes */
        return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED,
                             "the transposed convolution is too large");
    return ML_STATUS_OK;
}

#define CT_IMPL(T, GEMM)                                                                           \
    typedef struct col2im_##T {                                                                    \
        const ct_dims *cd;                                                                         \
        const T *col; /* (Mg*kvol) x in_sp */                                                      \
        T *y;         /* Mg x out_sp of this group */                                              \
    } col2im_##T;                                                                                  \
                                                                                                   \
    /* One output channel per index: rows of a channel only touch its plane.                       \
     * The last spatial dim is a contiguous loop over its valid input range. */                    \
    static void col2im_ch_##T(void *arg, size_t begin, size_t end) {                               \
        const col2im_##T *a = arg;                                                                 \
        const ct_dims *cd = a->cd;                                                                 \
        int L = cd->nsp - 1;                                                                       \
        int64_t inner = cd->in[L], outer = inner ? cd->in_sp / inner : 0;                          \
        int64_t OWL = cd->out[L], sL = cd->s[L];                                                   \
        for (size_t m = begin; m < end; m++) {                                                     \
            T *plane = a->y + (int64_t)m * cd->out_sp;                                             \
            memset(plane, 0, sizeof(T) * (size_t)cd->out_sp);                                      \
            for (int64_t kk = 0; kk < cd->kvol; kk++) {                                            \
                int64_t kc[ML_MAX_RANK], t = kk;                                                   \
                for (int i = L; i >= 0; i--) {                                                     \
                    kc[i] = t % cd->k[i];                                                          \
                    t /= cd->k[i];                                                                 \
                }                                                                                  \
                int64_t off = kc[L] * cd->d[L] - cd->pb[L]; /* ow = iw * sL + off */               \
                int64_t iw0 = off >= 0 ? 0 : (-off + sL - 1) / sL;                                 \
                int64_t iw1 = OWL - off > 0 ? (OWL - off + sL - 1) / sL : 0;                       \
                if (iw1 > inner) iw1 = inner;                                                      \
                if (iw0 >= iw1) continue;                                                          \
                const T *src = a->col + ((int64_t)m * cd->kvol + kk) * cd->in_sp;                  \
                int64_t ii[ML_MAX_RANK] = {0};                                                     \
                for (int64_t o = 0; o < outer; o++, src += inner) {                                \
                    int64_t base = 0;                                                              \
                    bool ok = true;                                                                \
                    for (int i = 0; i < L; i++) {                                                  \
                        int64_t q = ii[i] * cd->s[i] + kc[i] * cd->d[i] - cd->pb[i];               \
                        if (q < 0 || q >= cd->out[i]) {                                            \
                            ok = false;                                                            \
                            break;                                                                 \
                        }                                                                          \
                        base = base * cd->out[i] + q;                                              \
                    }                                                                              \
                    if (ok) {                                                                      \
                        T *dst = plane + base * OWL; /* ow = iw * sL + off >= 0 */                 \
                        if (sL == 1)                                                               \
                            for (int64_t iw = iw0; iw < iw1; iw++) dst[iw + off] += src[iw];       \
                        else                                                                       \
                            for (int64_t iw = iw0; iw < iw1; iw++) dst[iw * sL + off] += src[iw];  \
                    }                                                                              \
                    for (int i = L - 1; i >= 0; i--) {                                             \
                        if (++ii[i] < cd->in[i]) break;                                            \
                        ii[i] = 0;                                                                 \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }                                                                                              \
                                                                                                   \
    static ml_status ct_##T(const ml_node *node, ml_threadpool *pool, const ct_dims *cd,           \
                            const T *x, const T *w, const T *b, T *y) {                            \
        int64_t rows = cd->Mg * cd->kvol;                                                          \
        T *col = NULL;                                                                             \
        if (rows * cd->in_sp > 0) {                                                                \
            col = malloc(sizeof(T) * (size_t)(rows * cd->in_sp));                                  \
            if (!col)                                                                              \
                return ml_node_error(node, ML_ERR_OUT_OF_MEMORY,                                   \
                                     "no memory for the column buffer");                           \
        }                                                                                          \
        for (int64_t n = 0; n < cd->N; n++) {                                                      \
            for (int64_t gi = 0; gi < cd->G; gi++) {                                               \
                const T *xg = x + (n * cd->C + gi * cd->Cg) * cd->in_sp;                           \
                const T *wg = w + gi * cd->Cg * rows;                                              \
                T *yg = y + (n * cd->M + gi * cd->Mg) * cd->out_sp;                                \
                if (col) {                                                                         \
                    if (cd->Cg > 0)                                                                \
                        GEMM(pool, true, false, (int)rows, (int)cd->in_sp, (int)cd->Cg, 1, wg,     \
                             (int)rows, xg, (int)cd->in_sp, 0, col, (int)cd->in_sp);               \
                    else                                                                           \
                        memset(col, 0, sizeof(T) * (size_t)(rows * cd->in_sp));                    \
                    col2im_##T job = {cd, col, yg};                                                \
                    ml_parallel_for(pool, (size_t)cd->Mg, 1, col2im_ch_##T, &job);                 \
                } else {                                                                           \
                    memset(yg, 0, sizeof(T) * (size_t)(cd->Mg * cd->out_sp));                      \
                }                                                                                  \
                if (b)                                                                             \
                    for (int64_t m = 0; m < cd->Mg; m++) {                                         \
                        T bv = b[gi * cd->Mg + m], *row = yg + m * cd->out_sp;                     \
                        for (int64_t i = 0; i < cd->out_sp; i++) row[i] += bv;                     \
                    }                                                                              \
            }                                                                                      \
        }                                                                                          \
        free(col);                                                                                 \
        return ML_STATUS_OK;                                                                       \
    }

/* sgemm-shaped entry to the own GEMM (gemm_fast.h): W^T is read in place
 * as a strided A, the input as a strided B. */
static void ct_sgemm(ml_threadpool *pool, bool ta, bool tb, int M, int N, int K, float alpha,
                     const float *a, int lda, const float *b, int ldb, float beta, float *c,
                     int ldc) {
    nn_gemm_opnd A = {.p = a, .rs = ta ? 1 : lda, .cs = ta ? lda : 1};
    nn_gemm_opnd B = {.p = b, .rs = tb ? 1 : ldb, .cs = tb ? ldb : 1};
    nn_gemm_epi e = {.alpha = alpha, .beta = beta, .cin = beta != 0.0f ? c : NULL, .ldcin = ldc};
    nn_gemm(pool, M, N, K, &A, &B, c, ldc, &e);
}

CT_IMPL(float, ct_sgemm)
CT_IMPL(double, nn_dgemm)

ml_status nn_conv_transpose_run(ml_kernel_ctx *ctx);

static ml_status ct_float_any(const ml_node *node, ml_threadpool *pool, const void *dims,
                              const float *x, const float *w, const float *b, float *y) {
    return ct_float(node, pool, (const ct_dims *)dims, x, w, b, y);
}

ml_status nn_conv_transpose_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *w, *b = ml_input(ctx, 2);
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &w));
    if (!nn_is_float(x->dtype) || w->dtype != x->dtype || (b && b->dtype != x->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "X, W and B must share one float type (got %s, %s)",
                             ml_dtype_name(x->dtype), ml_dtype_name(w->dtype));
    ct_dims cd;
    ML_TRY(ct_dims_init(node, x, w, &cd));
    if (b && (b->rank != 1 || b->dims[0] != cd.M))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "B must be 1-D of size M=%lld",
                             (long long)cd.M);
    int64_t dims[ML_MAX_RANK];
    dims[0] = cd.N;
    dims[1] = cd.M;
    for (int i = 0; i < cd.nsp; i++) dims[2 + i] = cd.out[i];
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, dims, &y));
    if (ml_tensor_numel(y) == 0) return ML_STATUS_OK; /* loops below may span huge empty dims */
    if (x->dtype == ML_DOUBLE)
        return ct_double(node, ctx->pool, &cd, x->data, w->data, b ? b->data : NULL, y->data);
    return nn_run_conv_like_f32(node, ctx->pool, &cd, x, w, b, y, ct_float_any);
}
