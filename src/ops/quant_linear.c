/* Integer matrix products and convolutions: MatMulInteger, ConvInteger,
 * QLinearMatMul, QLinearConv. Operands minus their zero points are small
 * integers (|v| <= 255) held in float; sgemm runs over reduction chunks short
 * enough to stay exact (see nn_exact_chunk) and chunks add up in double, so
 * results equal int32 arithmetic. Requantisation uses a float multiplier as
 * onnxruntime does. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>

#include "ops/conv_internal.h"
#include "ops/linalg_internal.h"
#include "ops/quant_internal.h"

/* x - zp as a new float array (exact: |x - zp| <= 255) and its largest
 * magnitude. zp may be NULL, one value, or one value per index along `axis`
 * of x (axis < 0: per-axis not allowed). */
static ml_status load_minus_zp(const ml_node *node, const char *what, const ml_tensor *x,
                               const ml_tensor *zp, int axis, float **out, float *maxabs) {
    *out = NULL;
    if (!(x->dtype == ML_UINT8 || x->dtype == ML_INT8))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s must be int8 or uint8, got %s",
                             what, ml_dtype_name(x->dtype));
    size_t n = ml_tensor_numel(x), nz = zp ? ml_tensor_numel(zp) : 0;
    int64_t alen = 0, inner = 1;
    if (zp) {
        if (zp->dtype != x->dtype)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "the zero point of %s must have its type %s", what,
                                 ml_dtype_name(x->dtype));
        if (nz != 1) {
            if (axis < 0 || axis >= x->rank || x->dims[axis] != (int64_t)nz)
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "the zero point of %s has %zu values; expected 1%s", what, nz,
                                     axis >= 0 ? " or one per row/column/channel" : "");
            alen = (int64_t)nz;
            inner = nn_inner_of(x, axis);
        }
    }
    float *d = malloc((n + 1) * sizeof(float));
    if (!d) return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory to widen %s", what);
    int32_t z0 = zp ? (int32_t)nn_q_get(zp, 0) : 0;
    if (alen == 0 && x->dtype == ML_UINT8) {
        const uint8_t *p = x->data;
        for (size_t i = 0; i < n; i++) d[i] = (float)((int32_t)p[i] - z0);
    } else if (alen == 0) {
        const int8_t *p = x->data;
        for (size_t i = 0; i < n; i++) d[i] = (float)((int32_t)p[i] - z0);
    } else {
        for (size_t i = 0; i < n; i++) {
            int64_t z = nn_q_get(zp, (size_t)(((int64_t)i / inner) % alen));
            d[i] = (float)(nn_q_get(x, i) - z);
        }
    }
    float m = 0.0f;
    for (size_t i = 0; i < n; i++) m = fabsf(d[i]) > m ? fabsf(d[i]) : m;
    *maxabs = m;
    *out = d;
    return ML_STATUS_OK;
}

/* Load-time state: constant weights minus zero point, and their magnitude. */
typedef struct qpack {
    float *w;
    float max;
} qpack;

void nn_qpack_free(void *state) {
    qpack *q = state;
    if (q) free(q->w);
    free(q);
}

/* Float scale values: one, or `len` (per row/column/channel). */
static ml_status scale_values(const ml_node *node, const char *what, const ml_tensor *s,
                              int64_t len, float *out_one, const ml_tensor **per) {
    *per = NULL;
    size_t n = ml_tensor_numel(s);
    if (!nn_is_float(s->dtype) || (n != 1 && (int64_t)n != len))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "%s must be a float scalar or have %lld values", what, (long long)len);
    *out_one = (float)ml_tensor_get_f64(s, 0);
    if (n != 1) *per = s;
    return ML_STATUS_OK;
}

static ml_status integer_matmul(ml_kernel_ctx *ctx, const ml_tensor *a, const ml_tensor *azp,
                                const ml_tensor *b, const ml_tensor *bzp, nn_matmul_plan *p,
                                double **acc) {
    const ml_node *node = ctx->node;
    *acc = NULL;
    ML_TRY(nn_matmul_shapes(node, a, b, p));
    float *fa, *fb = NULL, amax, bmax;
    const qpack *pre = node->state; /* B - b_zero_point packed at load time */
    ML_TRY(load_minus_zp(node, "A", a, azp, a->rank >= 2 ? a->rank - 2 : -1, &fa, &amax));
    ml_status st = ML_STATUS_OK;
    if (pre)
        bmax = pre->max;
    else
        st = load_minus_zp(node, "B", b, bzp, b->rank >= 2 ? b->rank - 1 : 0, &fb, &bmax);
    if (st) {
        free(fa);
        return st;
    }
    const float *B = pre ? pre->w : fb;
    size_t ny = (size_t)(p->n_batch * p->M * p->N), nt = (size_t)(p->M * p->N);
    double *y = malloc((ny + 1) * sizeof(double));
    float *tmp = malloc((nt + 1) * sizeof(float));
    if (!y || !tmp) {
        st = ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for the product");
    } else {
        int64_t kc = nn_exact_chunk((double)amax * (double)bmax);
        for (size_t i = 0; i < ny; i++) y[i] = 0.0;
        for (int64_t bi = 0; bi < p->n_batch && nt > 0; bi++) {
            int64_t ao, bo;
            nn_matmul_batch_offsets(p, bi, &ao, &bo);
            const float *pa = fa + ao * p->M * p->K, *pb = B + bo * p->K * p->N;
            double *py = y + bi * p->M * p->N;
            for (int64_t k0 = 0; k0 < p->K; k0 += kc) {
                int64_t kl = p->K - k0 < kc ? p->K - k0 : kc;
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)p->M, (int)p->N,
                            (int)kl, 1.0f, pa + k0, (int)p->K, pb + k0 * p->N, (int)p->N, 0.0f, tmp,
                            (int)p->N);
                for (size_t i = 0; i < nt; i++) py[i] += tmp[i];
            }
        }
    }
    free(tmp);
    free(fa);
    free(fb);
    if (st) {
        free(y);
        return st;
    }
    *acc = y;
    return ML_STATUS_OK;
}

/* Load-time packing: when the weights (input wi) and their zero point
 * (input zi, or absent) are constants, keep weights - zero point in float
 * so runs skip the conversion. The state is read-only during runs. */
static ml_status pack_weights(const ml_node *node, size_t wi, size_t zi, bool conv, void **state) {
    *state = NULL;
    if (!node->const_inputs || wi >= node->n_inputs || !node->const_inputs[wi]) return ML_STATUS_OK;
    const ml_tensor *w = node->const_inputs[wi], *z = NULL;
    if (zi < node->n_inputs && node->input_names[zi][0]) {
        z = node->const_inputs[zi];
        if (!z) return ML_STATUS_OK; /* zero point known only at run time */
    }
    int axis = conv ? 0 : (w->rank >= 2 ? w->rank - 1 : 0);
    qpack *q = calloc(1, sizeof *q);
    if (!q) return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory to pack the weights");
    ml_status st = load_minus_zp(node, "the weights", w, z, axis, &q->w, &q->max);
    if (st) {
        free(q);
        return st;
    }
    *state = q;
    return ML_STATUS_OK;
}

ml_status nn_matmul_integer_init(const ml_node *node, void **state) {
    return pack_weights(node, 1, 3, false, state);
}
ml_status nn_qlinear_matmul_init(const ml_node *node, void **state) {
    return pack_weights(node, 3, 5, false, state);
}
ml_status nn_conv_integer_init(const ml_node *node, void **state) {
    return pack_weights(node, 1, 3, true, state);
}
ml_status nn_qlinear_conv_init(const ml_node *node, void **state) {
    return pack_weights(node, 3, 5, true, state);
}
void nn_packed_free(void *state) {
    free(state);
}

ml_status nn_matmul_integer_run(ml_kernel_ctx *ctx) {
    const ml_tensor *a, *b;
    ML_TRY(ml_require_input(ctx, 0, &a));
    ML_TRY(ml_require_input(ctx, 1, &b));
    nn_matmul_plan p;
    double *acc;
    ML_TRY(integer_matmul(ctx, a, ml_input(ctx, 2), b, ml_input(ctx, 3), &p, &acc));
    ml_tensor *y;
    ml_status st = ml_output_tensor(ctx, 0, ML_INT32, p.out_rank, p.out_dims, &y);
    if (!st) {
        int32_t *out = y->data;
        size_t n = ml_tensor_numel(y);
        for (size_t i = 0; i < n; i++) out[i] = (int32_t)(uint32_t)(int64_t)acc[i];
    }
    free(acc);
    return st;
}

ml_status nn_qlinear_matmul_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *in[8];
    for (size_t i = 0; i < 8; i++) {
        in[i] = ml_input(ctx, i);
        if (!in[i] && i != 2 && i != 5 && i != 7) ML_TRY(ml_require_input(ctx, i, &in[i]));
    }
    const ml_tensor *a = in[0], *b = in[3], *yzp = in[7];
    ml_dtype odt = yzp ? yzp->dtype : ML_UINT8;
    if (odt != ML_UINT8 && odt != ML_INT8)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "y_zero_point must be int8 or uint8");
    nn_matmul_plan p;
    double *acc;
    ML_TRY(integer_matmul(ctx, a, in[2], b, in[5], &p, &acc));
    float as, bs, ys;
    const ml_tensor *asv, *bsv, *ysv;
    ml_status st = scale_values(node, "a_scale", in[1], p.M, &as, &asv);
    if (!st) st = scale_values(node, "b_scale", in[4], p.N, &bs, &bsv);
    if (!st) st = scale_values(node, "y_scale", in[6], 1, &ys, &ysv);
    if (!st && yzp && ml_tensor_numel(yzp) != 1)
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "y_zero_point must be a scalar");
    ml_tensor *y = NULL;
    if (!st) st = ml_output_tensor(ctx, 0, odt, p.out_rank, p.out_dims, &y);
    if (!st) {
        float z = yzp ? (float)nn_q_get(yzp, 0) : 0.0f;
        size_t n = ml_tensor_numel(y);
        if (!asv && !bsv) {
            nn_requant8(y, 0, acc, n, as * bs / ys, z);
        } else {
            for (size_t i = 0; i < n; i++) {
                int64_t nn = (int64_t)i % p.N, m = ((int64_t)i / p.N) % p.M;
                float sa = asv ? (float)ml_tensor_get_f64(asv, (size_t)m) : as;
                float sb = bsv ? (float)ml_tensor_get_f64(bsv, (size_t)nn) : bs;
                nn_requant8(y, i, acc + i, 1, sa * sb / ys, z);
            }
        }
    }
    free(acc);
    return st;
}

/* Convolution of x - x_zp with w - w_zp (per output channel allowed) plus an
 * optional int32 bias, as exact doubles in *acc (N*M*out_sp values). */
static ml_status integer_conv(ml_kernel_ctx *ctx, const ml_tensor *x, const ml_tensor *xzp,
                              const ml_tensor *w, const ml_tensor *wzp, const ml_tensor *bias,
                              nn_conv_dims *cd, double **acc) {
    const ml_node *node = ctx->node;
    *acc = NULL;
    ML_TRY(nn_conv_dims_init(node, x, w, cd));
    if (bias && (bias->dtype != ML_INT32 || ml_tensor_numel(bias) != (size_t)cd->M))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "B must be int32 with M=%lld values",
                             (long long)cd->M);
    float *fx = NULL, *fw = NULL, xmax = 0.0f, wmax = 0.0f;
    double *y = NULL;
    const qpack *pre = node->state; /* w - w_zero_point packed at load time */
    ml_status st = load_minus_zp(node, "x", x, xzp, -1, &fx, &xmax);
    if (!st && pre)
        wmax = pre->max;
    else if (!st)
        st = load_minus_zp(node, "w", w, wzp, 0, &fw, &wmax);
    if (!st) {
        y = malloc(sizeof(double) * (size_t)(cd->N * cd->M * cd->out_sp + 1));
        if (!y) st = ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for the convolution");
    }
    if (!st)
        st = nn_conv_exact_f32(node, ctx->pool, cd, fx, pre ? pre->w : fw, (double)xmax * wmax, y);
    if (!st && bias) {
        const int32_t *bv = bias->data;
        for (int64_t n = 0; n < cd->N; n++)
            for (int64_t m = 0; m < cd->M; m++) {
                double *row = y + (n * cd->M + m) * cd->out_sp;
                for (int64_t i = 0; i < cd->out_sp; i++) row[i] += bv[m];
            }
    }
    free(fx);
    free(fw);
    if (st) {
        free(y);
        return st;
    }
    *acc = y;
    return ML_STATUS_OK;
}

ml_status nn_conv_integer_run(ml_kernel_ctx *ctx) {
    const ml_tensor *x, *w;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &w));
    nn_conv_dims cd;
    double *acc;
    ML_TRY(integer_conv(ctx, x, ml_input(ctx, 2), w, ml_input(ctx, 3), NULL, &cd, &acc));
    ml_tensor *y;
    ml_status st = ml_output_tensor(ctx, 0, ML_INT32, cd.out_rank, cd.out_dims, &y);
    if (!st) {
        int32_t *out = y->data;
        size_t n = ml_tensor_numel(y);
        for (size_t i = 0; i < n; i++) out[i] = (int32_t)(uint32_t)(int64_t)acc[i];
    }
    free(acc);
    return st;
}

ml_status nn_qlinear_conv_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *in[9];
    for (size_t i = 0; i < 9; i++) {
        in[i] = ml_input(ctx, i);
        if (!in[i] && i != 2 && i != 5 && i != 7 && i != 8)
            ML_TRY(ml_require_input(ctx, i, &in[i]));
    }
    const ml_tensor *yzp = in[7];
    ml_dtype odt = yzp ? yzp->dtype : ML_UINT8;
    if (odt != ML_UINT8 && odt != ML_INT8)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "y_zero_point must be int8 or uint8");
    nn_conv_dims cd;
    double *acc;
    ML_TRY(integer_conv(ctx, in[0], in[2], in[3], in[5], in[8], &cd, &acc));
    float xs, ws, ys;
    const ml_tensor *xsv, *wsv, *ysv;
    ml_status st = scale_values(node, "x_scale", in[1], 1, &xs, &xsv);
    if (!st) st = scale_values(node, "w_scale", in[4], cd.M, &ws, &wsv);
    if (!st) st = scale_values(node, "y_scale", in[6], 1, &ys, &ysv);
    if (!st && yzp && ml_tensor_numel(yzp) != 1)
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "y_zero_point must be a scalar");
    ml_tensor *y = NULL;
    if (!st) st = ml_output_tensor(ctx, 0, odt, cd.out_rank, cd.out_dims, &y);
    if (!st) {
        float z = yzp ? (float)nn_q_get(yzp, 0) : 0.0f;
        for (int64_t n = 0; n < cd.N; n++)
            for (int64_t m = 0; m < cd.M; m++) { /* one multiplier per output channel */
                float sw = wsv ? (float)ml_tensor_get_f64(wsv, (size_t)m) : ws;
                size_t at = (size_t)((n * cd.M + m) * cd.out_sp);
                nn_requant8(y, at, acc + at, (size_t)cd.out_sp, xs * sw / ys, z);
            }
    }
    free(acc);
    return st;
}

/* com.microsoft QGemm: Y = alpha * a_scale * b_scale * ((A - a_zp) @ (B - b_zp) + C)
 * with transA/transB, C an int32 bias in that same scale (broadcast to
 * [M, N]), b_scale/b_zero_point per column allowed; requantised with
 * y_scale/y_zero_point when y_scale is given, float output otherwise. */
ml_status nn_qgemm_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *in[9];
    for (size_t i = 0; i < 9; i++) {
        in[i] = ml_input(ctx, i);
        if (!in[i] && i != 2 && i != 5 && i != 6 && i != 7 && i != 8)
            ML_TRY(ml_require_input(ctx, i, &in[i]));
    }
    const ml_tensor *a = in[0], *b = in[3], *c = in[6], *ys = in[7], *yzp = in[8];
    if (a->rank != 2 || b->rank != 2)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "A and B must be 2-D");
    bool ta = ml_attr_int(node, "transA", 0) != 0, tb = ml_attr_int(node, "transB", 0) != 0;
    float alpha = ml_attr_float(node, "alpha", 1.0f);
    int64_t M = ta ? a->dims[1] : a->dims[0], K = ta ? a->dims[0] : a->dims[1];
    int64_t Kb = tb ? b->dims[1] : b->dims[0], N = tb ? b->dims[0] : b->dims[1];
    if (K != Kb || M > INT32_MAX || N > INT32_MAX || K > INT32_MAX)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "A gives K=%lld but B gives K=%lld (check transA/transB)",
                             (long long)K, (long long)Kb);
    int64_t cM = 1, cN = 1;
    if (c) {
        if (c->dtype != ML_INT32 || c->rank > 2)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "C must be an int32 tensor of rank <= 2");
        if (c->rank == 2) cM = c->dims[0];
        if (c->rank >= 1) cN = c->dims[c->rank - 1];
        if ((cM != 1 && cM != M) || (cN != 1 && cN != N) || cM == 0 || cN == 0)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "C does not broadcast to [%lld, %lld]", (long long)M,
                                 (long long)N);
    }
    ml_dtype odt = ML_FLOAT;
    if (ys) {
        odt = yzp ? yzp->dtype : ML_UINT8;
        if ((odt != ML_UINT8 && odt != ML_INT8) || (yzp && ml_tensor_numel(yzp) != 1))
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "y_zero_point must be one int8 or uint8 value");
    }
    float as, bs, yscale = 1.0f;
    const ml_tensor *asv, *bsv, *ysv;
    ML_TRY(scale_values(node, "a_scale", in[1], 1, &as, &asv));
    ML_TRY(scale_values(node, "b_scale", in[4], N, &bs, &bsv));
    if (ys) ML_TRY(scale_values(node, "y_scale", ys, 1, &yscale, &ysv));
    int64_t dims[2] = {M, N};
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, odt, 2, dims, &y));
    if (M == 0 || N == 0) return ML_STATUS_OK;
    float *fa = NULL, *fb = NULL, amax = 0.0f, bmax = 0.0f;
    double *acc = malloc(sizeof(double) * (size_t)(M * N));
    float *tmp = malloc(sizeof(float) * (size_t)(M * N));
    ml_status st =
        (acc && tmp) ? ML_STATUS_OK : ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory");
    if (!st) st = load_minus_zp(node, "A", a, in[2], -1, &fa, &amax);
    if (!st) st = load_minus_zp(node, "B", b, in[5], tb ? 0 : 1, &fb, &bmax);
    if (!st) {
        for (int64_t m = 0; m < M; m++)
            for (int64_t n = 0; n < N; n++)
                acc[m * N + n] = c ? ((const int32_t *)c->data)[(m % cM) * cN + (n % cN)] : 0.0;
        int64_t kc = nn_exact_chunk((double)amax * (double)bmax);
        for (int64_t k0 = 0; k0 < K; k0 += kc) { /* exact partial sums, see the file comment */
            int64_t kl = K - k0 < kc ? K - k0 : kc;
            cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans,
                        tb ? CblasTrans : CblasNoTrans, (int)M, (int)N, (int)kl, 1.0f,
                        ta ? fa + k0 * M : fa + k0, (int)a->dims[1], tb ? fb + k0 : fb + k0 * N,
                        (int)b->dims[1], 0.0f, tmp, (int)N);
            for (int64_t i = 0; i < M * N; i++) acc[i] += tmp[i];
        }
        double z = yzp ? (double)nn_q_get(yzp, 0) : 0.0;
        for (int64_t i = 0; i < M * N; i++) {
            float sb = bsv ? (float)ml_tensor_get_f64(bsv, (size_t)(i % N)) : bs;
            float v = (float)acc[i] * (alpha * as * sb);
            if (odt == ML_FLOAT)
                ((float *)y->data)[i] = v;
            else
                nn_q_put(y, (size_t)i, (double)nearbyintf(v / yscale) + z);
        }
    }
    free(fa);
    free(fb);
    free(acc);
    free(tmp);
    return st;
}
