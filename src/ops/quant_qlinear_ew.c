/* com.microsoft quantised elementwise ops of onnxruntime's QOperator format
 * (what its static quantiser writes for int8 CNNs): QLinearAdd, QLinearMul
 * (numpy broadcasting), QLinearSigmoid, QLinearLeakyRelu (256-entry lookup
 * tables) and QLinearGlobalAveragePool. Scales and zero points are
 * per-tensor; values are computed as dequantise -> float op -> quantise. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/quant_internal.h"

/* A per-tensor (scale, zero point) pair from inputs si and zi (zi optional). */
static ml_status q_scalar_params(ml_kernel_ctx *ctx, size_t si, size_t zi, ml_dtype want_zp,
                                 float *scale, float *zp) {
    const ml_node *node = ctx->node;
    const ml_tensor *s, *z = ml_input(ctx, zi);
    ML_TRY(ml_require_input(ctx, si, &s));
    if (!nn_is_float(s->dtype) || ml_tensor_numel(s) != 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "input %zu must be a float scalar scale", si);
    *scale = (float)ml_tensor_get_f64(s, 0);
    if (!(*scale > 0.0f) || isinf(*scale))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "scale %g must be positive and finite",
                             (double)*scale);
    *zp = 0.0f;
    if (z) {
        if (ml_tensor_numel(z) != 1 || (want_zp != ML_UNDEFINED && z->dtype != want_zp))
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "input %zu must be a scalar zero point of type %s", zi,
                                 ml_dtype_name(want_zp == ML_UNDEFINED ? z->dtype : want_zp));
        *zp = (float)nn_q_get(z, 0);
    }
    return ML_STATUS_OK;
}

static ml_status q_require_8bit(const ml_node *node, const ml_tensor *t) {
    if (t->dtype != ML_UINT8 && t->dtype != ML_INT8)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "quantised tensors must be int8 or uint8, got %s",
                             ml_dtype_name(t->dtype));
    return ML_STATUS_OK;
}

static inline float q8(const ml_tensor *t, size_t i) {
    return t->dtype == ML_UINT8 ? (float)((const uint8_t *)t->data)[i]
                                : (float)((const int8_t *)t->data)[i];
}

static ml_status qlinear_binary(ml_kernel_ctx *ctx, bool mul) {
    const ml_node *node = ctx->node;
    const ml_tensor *a, *b;
    ML_TRY(ml_require_input(ctx, 0, &a));
    ML_TRY(ml_require_input(ctx, 3, &b));
    ML_TRY(q_require_8bit(node, a));
    if (b->dtype != a->dtype)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "A and B must have the same type");
    float as, az, bs, bz, cs, cz;
    ML_TRY(q_scalar_params(ctx, 1, 2, a->dtype, &as, &az));
    ML_TRY(q_scalar_params(ctx, 4, 5, a->dtype, &bs, &bz));
    ML_TRY(q_scalar_params(ctx, 6, 7, a->dtype, &cs, &cz));
    int rank;
    int64_t dims[ML_MAX_RANK];
    ML_TRY(ml_shape_broadcast(a->rank, a->dims, b->rank, b->dims, &rank, dims));
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, a->dtype, rank, dims, &y));
    /* broadcast strides of A and B against the output */
    int64_t sa[ML_MAX_RANK], sb[ML_MAX_RANK], acc_a = 1, acc_b = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int ia = i - (rank - a->rank), ib = i - (rank - b->rank);
        int64_t da = ia >= 0 ? a->dims[ia] : 1, db = ib >= 0 ? b->dims[ib] : 1;
        sa[i] = da == 1 ? 0 : acc_a;
        sb[i] = db == 1 ? 0 : acc_b;
        acc_a *= da;
        acc_b *= db;
    }
    size_t n = ml_tensor_numel(y);
    int64_t idx[ML_MAX_RANK] = {0}, oa = 0, ob = 0;
    for (size_t e = 0; e < n; e++) {
        float va = (q8(a, (size_t)oa) - az) * as, vb = (q8(b, (size_t)ob) - bz) * bs;
        float r = mul ? va * vb : va + vb;
        nn_q_put(y, e, (double)nearbyintf(r / cs) + cz);
        for (int d = rank - 1; d >= 0; d--) {
            oa += sa[d];
            ob += sb[d];
            if (++idx[d] < dims[d]) break;
            oa -= idx[d] * sa[d];
            ob -= idx[d] * sb[d];
            idx[d] = 0;
        }
    }
    return ML_STATUS_OK;
}

ml_status nn_qlinear_add_run(ml_kernel_ctx *ctx) {
    return qlinear_binary(ctx, false);
}
ml_status nn_qlinear_mul_run(ml_kernel_ctx *ctx) {
    return qlinear_binary(ctx, true);
}

/* Unary ops through a table over all 256 codes. */
static ml_status qlinear_unary(ml_kernel_ctx *ctx, bool sigmoid) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(q_require_8bit(node, x));
    float xs, xz, ys, yz;
    ML_TRY(q_scalar_params(ctx, 1, 2, x->dtype, &xs, &xz));
    ML_TRY(q_scalar_params(ctx, 3, 4, x->dtype, &ys, &yz));
    float alpha = ml_attr_float(node, "alpha", 0.01f);
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
    uint8_t table[256];
    ml_tensor tt = {.dtype = x->dtype, .rank = 1, .dims = {256}, .data = table};
    for (int c = 0; c < 256; c++) {
        float q = x->dtype == ML_UINT8 ? (float)c : (float)(int8_t)(uint8_t)c;
        float v = (q - xz) * xs;
        float r = sigmoid ? 1.0f / (1.0f + expf(-v)) : (v >= 0.0f ? v : alpha * v);
        nn_q_put(&tt, (size_t)c, (double)nearbyintf(r / ys) + yz);
    }
    const uint8_t *in = x->data;
    uint8_t *out = y->data;
    size_t n = ml_tensor_numel(x);
    for (size_t i = 0; i < n; i++) out[i] = table[in[i]];
    return ML_STATUS_OK;
}

ml_status nn_qlinear_sigmoid_run(ml_kernel_ctx *ctx) {
    return qlinear_unary(ctx, true);
}
ml_status nn_qlinear_leaky_relu_run(ml_kernel_ctx *ctx) {
    return qlinear_unary(ctx, false);
}

ml_status nn_qlinear_global_avgpool_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(q_require_8bit(node, x));
    if (x->rank < 3)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "X must have rank >= 3, got %d",
                             x->rank);
    float xs, xz, ys, yz;
    ML_TRY(q_scalar_params(ctx, 1, 2, x->dtype, &xs, &xz));
    ML_TRY(q_scalar_params(ctx, 3, 4, x->dtype, &ys, &yz));
    bool last = ml_attr_int(node, "channels_last", 0) != 0;
    int cax = last ? x->rank - 1 : 1; /* the channel axis */
    int64_t N = x->dims[0], C = x->dims[cax], sp = 1, dims[ML_MAX_RANK];
    for (int i = 0; i < x->rank; i++) {
        bool spatial = i != 0 && i != cax;
        dims[i] = spatial ? 1 : x->dims[i];
        if (spatial) sp *= x->dims[i];
    }
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, dims, &y));
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            int64_t sum = 0;
            for (int64_t i = 0; i < sp; i++) {
                size_t e = (size_t)(last ? (n * sp + i) * C + c : (n * C + c) * sp + i);
                sum += (int64_t)q8(x, e);
            }
            /* in steps of the input scale, then one exact-as-possible
             * rescale: an exact .5 tie stays a tie and goes to even */
            double mean = sp ? (double)sum / (double)sp - (double)xz : 0.0;
            nn_q_put(y, (size_t)(n * C + c), nearbyint(mean * ((double)xs / (double)ys)) + yz);
        }
    return ML_STATUS_OK;
}

/* QLinearConcat: inputs Y_scale, Y_zero_point, then (X, X_scale, X_zero_point)
 * triples; every X is requantised to Y's parameters while concatenating. */
ml_status nn_qlinear_concat_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    if (ctx->n_inputs < 5 || (ctx->n_inputs - 2) % 3 != 0)
        return ml_node_error(
            node, ML_ERR_INVALID_ARGUMENT,
            "expects Y_scale, Y_zero_point and (X, scale, zero point) triples, got %zu "
            "inputs",
            ctx->n_inputs);
    size_t k = (ctx->n_inputs - 2) / 3;
    const ml_tensor *x0, *yzt = ml_input(ctx, 1);
    ML_TRY(ml_require_input(ctx, 2, &x0));
    ML_TRY(q_require_8bit(node, x0));
    float ys, yz;
    ML_TRY(q_scalar_params(ctx, 0, 1, yzt ? yzt->dtype : ML_UNDEFINED, &ys, &yz));
    ml_dtype odt = yzt ? yzt->dtype : x0->dtype;
    if (odt != ML_UINT8 && odt != ML_INT8)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "Y_zero_point must be int8 or uint8");
    int axis;
    ML_TRY(ml_normalize_axis(node, ml_attr_int(node, "axis", 0), x0->rank, &axis));
    int64_t dims[ML_MAX_RANK];
    memcpy(dims, x0->dims, sizeof(int64_t) * (size_t)x0->rank);
    dims[axis] = 0;
    for (size_t i = 0; i < k; i++) {
        const ml_tensor *x;
        ML_TRY(ml_require_input(ctx, 2 + 3 * i, &x));
        ML_TRY(q_require_8bit(node, x));
        bool ok = x->rank == x0->rank;
        for (int d = 0; ok && d < x->rank; d++)
            if (d != axis && x->dims[d] != x0->dims[d]) ok = false;
        if (!ok)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "input %zu does not match the others outside axis %d", 2 + 3 * i,
                                 axis);
        dims[axis] += x->dims[axis];
    }
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, odt, x0->rank, dims, &y));
    if (ml_tensor_numel(y) == 0) return ML_STATUS_OK; /* loops below may span huge empty dims */
    int64_t outer = nn_prod(axis, x0->dims),
            inner = nn_prod(x0->rank - axis - 1, x0->dims + axis + 1);
    int64_t ystride = dims[axis] * inner, off = 0;
    for (size_t i = 0; i < k; i++) {
        const ml_tensor *x = ml_input(ctx, 2 + 3 * i);
        float xs, xz;
        ML_TRY(q_scalar_params(ctx, 3 + 3 * i, 4 + 3 * i, x->dtype, &xs, &xz));
        int64_t chunk = x->dims[axis] * inner;
        for (int64_t o = 0; o < outer; o++)
            for (int64_t j = 0; j < chunk; j++) {
                float v = (q8(x, (size_t)(o * chunk + j)) - xz) * xs;
                nn_q_put(y, (size_t)(o * ystride + off + j), (double)nearbyintf(v / ys) + yz);
            }
        off += chunk;
    }
    return ML_STATUS_OK;
}

/* QLinearAveragePool: dequantise, run the AveragePool kernel (same
 * attributes), requantise. */
static ml_status sub_alloc(ml_kernel_ctx *c, size_t i, ml_dtype dt, int rank, const int64_t *dims,
                           ml_tensor **out) {
    ml_tensor *t;
    ML_TRY(ml_tensor_create(dt, rank, dims, &t));
    ml_value *v;
    ML_TRY(ml_value_from_tensor(t, &v));
    ML_TRY(ml_set_output(c, i, v));
    *out = t;
    return ML_STATUS_OK;
}

ml_status nn_qlinear_avgpool_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(q_require_8bit(node, x));
    if (ml_attr_int(node, "channels_last", 0) != 0)
        return ml_node_error(node, ML_ERR_UNSUPPORTED, "channels_last=1 is not supported");
    float xs, xz, ys, yz;
    ML_TRY(q_scalar_params(ctx, 1, 2, x->dtype, &xs, &xz));
    ML_TRY(q_scalar_params(ctx, 3, 4, x->dtype, &ys, &yz));
    const ml_kernel *pool = ml_find_kernel("", "AveragePool", 19);
    if (!pool) return ml_node_error(node, ML_ERR_INTERNAL, "no AveragePool kernel");
    ml_tensor *fx;
    ML_TRY(ml_tensor_create(ML_FLOAT, x->rank, x->dims, &fx));
    size_t n = ml_tensor_numel(x);
    /* pool the unscaled integers (q - zero point): their sums and halves are
     * exact in float, so a window whose average is an exact .5 tie stays
     * one and rounds to even, as onnxruntime does (scaling first made the
     * tie land on either side by float noise) */
    for (size_t i = 0; i < n; i++) ((float *)fx->data)[i] = q8(x, i) - xz;
    ml_value *in = NULL, *out = NULL;
    ml_status st = ml_value_from_tensor(fx, &in);
    if (st) return st;
    static const ml_kernel_env env = {sub_alloc, NULL};
    ml_kernel_ctx sub = {.node = node,
                         .n_inputs = 1,
                         .inputs = &in,
                         .n_outputs = 1,
                         .outputs = &out,
                         .pool = ctx->pool,
                         .env = &env};
    st = pool->run(&sub);
    if (!st && (!out || out->kind != ML_VALUE_TENSOR))
        st = ml_node_error(node, ML_ERR_INTERNAL, "AveragePool produced no tensor");
    ml_tensor *y;
    if (!st) st = ml_output_tensor(ctx, 0, x->dtype, out->tensor->rank, out->tensor->dims, &y);
    if (!st) {
        const float *fy = out->tensor->data;
        size_t ny = ml_tensor_numel(y);
        double ratio = (double)xs / (double)ys;
        for (size_t i = 0; i < ny; i++) nn_q_put(y, i, nearbyint((double)fy[i] * ratio) + yz);
    }
    ml_value_free(in);
    ml_value_free(out);
    return st;
}
