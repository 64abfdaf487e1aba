/* QuantizeLinear, DequantizeLinear (per-tensor and per-axis) and
 * DynamicQuantizeLinear. Rounding is half-to-even, results saturate. */
#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "ops/families.h"
#include "ops/quant_internal.h"

/* Resolves per-tensor vs per-axis quantisation parameters: *axis_len is 0
 * for a per-tensor (one-element) scale, else the length along *axis. */
static ml_status q_params(const ml_kernel_ctx *ctx, const ml_tensor *x, const ml_tensor *scale,
                          const ml_tensor *zp, int *axis, int64_t *axis_len, int64_t *inner) {
    const ml_node *node = ctx->node;
    *axis = 0;
    *axis_len = 0;
    *inner = 1;
    if (ml_attr_int(node, "block_size", 0) != 0)
        return ml_node_error(node, ML_ERR_UNSUPPORTED,
                             "blocked quantisation (block_size, opset 21) is not supported");
    if (!nn_is_float(scale->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "the scale must be a float type, got %s", ml_dtype_name(scale->dtype));
    size_t ns = ml_tensor_numel(scale);
    if (zp && ml_tensor_numel(zp) != ns)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "the zero point has %zu values but the scale has %zu",
                             ml_tensor_numel(zp), ns);
    if (scale->rank == 0 || (ns == 1 && node->opset < 13)) {
        if (ns != 1)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "the scale must be a scalar");
        return ML_STATUS_OK;
    }
    if (node->opset < 13 && ns != 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "per-axis quantisation needs opset 13 (the scale has %zu values)", ns);
    if (scale->rank != 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "the scale must be a scalar or 1-D (per-axis), got rank %d",
                             scale->rank);
    ML_TRY(ml_normalize_axis(node, ml_attr_int(node, "axis", 1), x->rank, axis));
    if (x->rank == 0 || x->dims[*axis] != (int64_t)ns) {
        if (ns == 1) return ML_STATUS_OK; /* a one-element 1-D scale is per-tensor */
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "the scale has %zu values but axis %d of the input has %lld", ns,
                             *axis, x->rank ? (long long)x->dims[*axis] : 0LL);
    }
    *axis_len = (int64_t)ns;
    *inner = nn_inner_of(x, *axis);
    return ML_STATUS_OK;
}

static ml_status quantize_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *scale, *zp = ml_input(ctx, 2);
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &scale));
    if (!nn_is_float(x->dtype) && x->dtype != ML_INT32)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "x must be float or int32, got %s",
                             ml_dtype_name(x->dtype));
    /* opset 21 may name the output type when there is no zero point */
    ml_dtype odt = zp ? zp->dtype : (ml_dtype)ml_attr_int(node, "output_dtype", ML_UINT8);
    if (odt == ML_UNDEFINED) odt = ML_UINT8;
    if (!(odt == ML_UINT8 || odt == ML_INT8 || odt == ML_UINT16 || odt == ML_INT16))
        return ml_node_error(node, ML_ERR_UNSUPPORTED, "output type %s is not supported",
                             ml_dtype_name(odt));
    int axis;
    int64_t alen, inner;
    ML_TRY(q_params(ctx, x, scale, zp, &axis, &alen, &inner));
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, odt, x->rank, x->dims, &y));
    size_t n = ml_tensor_numel(x);
    const float *fx = NULL;
    float *ox = NULL;
    ML_TRY(nn_f32_view(node, x, &fx, &ox));
    double lo, hi;
    nn_q_range(odt, &lo, &hi);
    if (alen == 0) {
        float s = (float)ml_tensor_get_f64(scale, 0);
        float z = zp ? (float)nn_q_get(zp, 0) : 0.0f;
        if (odt == ML_UINT8) {
            uint8_t *out = y->data;
            for (size_t i = 0; i < n; i++) {
                float v = nearbyintf(fx[i] / s) + z;
                out[i] = (uint8_t)(v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v));
            }
        } else if (odt == ML_INT8) {
            int8_t *out = y->data;
            for (size_t i = 0; i < n; i++) {
                float v = nearbyintf(fx[i] / s) + z;
                out[i] = (int8_t)(v < -128.0f ? -128.0f : (v > 127.0f ? 127.0f : v));
            }
        } else {
            for (size_t i = 0; i < n; i++) nn_q_put(y, i, (double)(nearbyintf(fx[i] / s) + z));
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t k = (size_t)(((int64_t)i / inner) % alen);
            float s = (float)ml_tensor_get_f64(scale, k);
            float z = zp ? (float)nn_q_get(zp, k) : 0.0f;
            nn_q_put(y, i, (double)(nearbyintf(fx[i] / s) + z));
        }
    }
    free(ox);
    return ML_STATUS_OK;
}

static ml_status dequantize_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *scale, *zp = ml_input(ctx, 2);
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &scale));
    if (!nn_q_is_int(x->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "x must be int8, uint8, int16, uint16 or int32, got %s",
                             ml_dtype_name(x->dtype));
    if (zp && zp->dtype != x->dtype)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "x_zero_point must have x's type %s",
                             ml_dtype_name(x->dtype));
    int axis;
    int64_t alen, inner;
    ML_TRY(q_params(ctx, x, scale, zp, &axis, &alen, &inner));
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, scale->dtype, x->rank, x->dims, &y));
    size_t n = ml_tensor_numel(x);
    float *fy = NULL, *oy = NULL;
    ML_TRY(nn_f32_target(node, y, &fy, &oy));
    if (alen == 0) {
        float s = (float)ml_tensor_get_f64(scale, 0);
        int64_t z = zp ? nn_q_get(zp, 0) : 0;
        if (x->dtype == ML_UINT8) {
            const uint8_t *in = x->data;
            for (size_t i = 0; i < n; i++) fy[i] = (float)((int32_t)in[i] - (int32_t)z) * s;
        } else if (x->dtype == ML_INT8) {
            const int8_t *in = x->data;
            for (size_t i = 0; i < n; i++) fy[i] = (float)((int32_t)in[i] - (int32_t)z) * s;
        } else {
            for (size_t i = 0; i < n; i++) fy[i] = (float)(nn_q_get(x, i) - z) * s;
        }
    } else {
        for (size_t i = 0; i < n; i++) {
            size_t k = (size_t)(((int64_t)i / inner) % alen);
            float s = (float)ml_tensor_get_f64(scale, k);
            int64_t z = zp ? nn_q_get(zp, k) : 0;
            fy[i] = (float)(nn_q_get(x, i) - z) * s;
        }
    }
    nn_f32_commit(y, oy);
    return ML_STATUS_OK;
}

static ml_status dynamic_quantize_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (!nn_is_float(x->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "x must be float, got %s",
                             ml_dtype_name(x->dtype));
    ml_tensor *y, *ys, *yz;
    ML_TRY(ml_output_tensor(ctx, 0, ML_UINT8, x->rank, x->dims, &y));
    ML_TRY(ml_output_tensor(ctx, 1, ML_FLOAT, 0, NULL, &ys));
    ML_TRY(ml_output_tensor(ctx, 2, ML_UINT8, 0, NULL, &yz));
    const float *fx = NULL;
    float *ox = NULL;
    ML_TRY(nn_f32_view(node, x, &fx, &ox));
    size_t n = ml_tensor_numel(x);
    float mn = 0.0f, mx = 0.0f; /* the range always includes 0 */
    for (size_t i = 0; i < n; i++) {
        mn = fx[i] < mn ? fx[i] : mn;
        mx = fx[i] > mx ? fx[i] : mx;
    }
    float scale = (mx - mn) / 255.0f;
    float zpf = scale != 0.0f ? nearbyintf(0.0f - mn / scale) : 0.0f;
    zpf = zpf < 0.0f ? 0.0f : (zpf > 255.0f ? 255.0f : zpf);
    *(float *)ys->data = scale;
    *(uint8_t *)yz->data = (uint8_t)zpf;
    uint8_t *out = y->data;
    for (size_t i = 0; i < n; i++) {
        float v = scale != 0.0f ? nearbyintf(fx[i] / scale) + zpf : zpf;
        out[i] = (uint8_t)(v < 0.0f ? 0.0f : (v > 255.0f ? 255.0f : v));
    }
    free(ox);
    return ML_STATUS_OK;
}

const ml_kernel ml_kernels_quant[] = {
    {"", "QuantizeLinear", 10, 0, NULL, NULL, quantize_run},
    {"", "DequantizeLinear", 10, 0, NULL, NULL, dequantize_run},
    {"", "DynamicQuantizeLinear", 11, 0, NULL, NULL, dynamic_quantize_run},
    {"", "QLinearMatMul", 10, 0, nn_qlinear_matmul_init, nn_qpack_free, nn_qlinear_matmul_run},
    {"", "MatMulInteger", 10, 0, nn_matmul_integer_init, nn_qpack_free, nn_matmul_integer_run},
    {"", "QLinearConv", 10, 0, nn_qlinear_conv_init, nn_qpack_free, nn_qlinear_conv_run},
    {"", "ConvInteger", 10, 0, nn_conv_integer_init, nn_qpack_free, nn_conv_integer_run},
    {"com.microsoft", "QGemm", 1, 0, NULL, NULL, nn_qgemm_run},
    {"com.microsoft", "QLinearAdd", 1, 0, NULL, NULL, nn_qlinear_add_run},
    {"com.microsoft", "QLinearMul", 1, 0, NULL, NULL, nn_qlinear_mul_run},
    {"com.microsoft", "QLinearSigmoid", 1, 0, NULL, NULL, nn_qlinear_sigmoid_run},
    {"com.microsoft", "QLinearLeakyRelu", 1, 0, NULL, NULL, nn_qlinear_leaky_relu_run},
    {"com.microsoft", "QLinearGlobalAveragePool", 1, 0, NULL, NULL, nn_qlinear_global_avgpool_run},
    {"com.microsoft", "QLinearAveragePool", 1, 0, NULL, NULL, nn_qlinear_avgpool_run},
    {"com.microsoft", "QLinearConcat", 1, 0, NULL, NULL, nn_qlinear_concat_run},
    {"com.microsoft", "MatMulNBits", 1, 0, nn_matmul_nbits_init, nn_packed_free,
     nn_matmul_nbits_run},
    {0},
};
