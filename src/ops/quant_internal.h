/* Shared by quant.c (Quantize/Dequantize/DynamicQuantizeLinear) and
 * quant_linear.c (QLinearMatMul/QLinearConv/MatMulInteger/ConvInteger). */
#ifndef MLAMBDA_OPS_QUANT_INTERNAL_H
#define MLAMBDA_OPS_QUANT_INTERNAL_H

#include <math.h>

#include "ops/kernel.h"
#include "ops/nn_util.h"

static inline bool nn_q_is_int(ml_dtype dt) {
    return dt == ML_UINT8 || dt == ML_INT8 || dt == ML_UINT16 || dt == ML_INT16 || dt == ML_INT32;
}

static inline void nn_q_range(ml_dtype dt, double *lo, double *hi) {
    switch (dt) {
    case ML_UINT8:
        *lo = 0, *hi = 255;
        break;
    case ML_INT8:
        *lo = -128, *hi = 127;
        break;
    case ML_UINT16:
        *lo = 0, *hi = 65535;
        break;
    case ML_INT16:
        *lo = -32768, *hi = 32767;
        break;
    default:
        *lo = -2147483648.0, *hi = 2147483647.0;
        break;
    }
}

/* Element i of a quantised integer tensor. */
static inline int64_t nn_q_get(const ml_tensor *t, size_t i) {
    switch (t->dtype) {
    case ML_UINT8:
        return ((const uint8_t *)t->data)[i];
    case ML_INT8:
        return ((const int8_t *)t->data)[i];
    case ML_UINT16:
        return ((const uint16_t *)t->data)[i];
    case ML_INT16:
        return ((const int16_t *)t->data)[i];
    case ML_INT32:
        return ((const int32_t *)t->data)[i];
    default:
        return (int64_t)ml_tensor_get_f64(t, i);
    }
}

/* Stores an already rounded value, saturated to dt's range. */
static inline void nn_q_put(ml_tensor *t, size_t i, double v) {
    double lo, hi;
    nn_q_range(t->dtype, &lo, &hi);
    if (!(v >= lo)) v = lo; /* NaN saturates low */
    if (v > hi) v = hi;
    switch (t->dtype) {
    case ML_UINT8:
        ((uint8_t *)t->data)[i] = (uint8_t)v;
        break;
    case ML_INT8:
        ((int8_t *)t->data)[i] = (int8_t)v;
        break;
    case ML_UINT16:
        ((uint16_t *)t->data)[i] = (uint16_t)v;
        break;
    case ML_INT16:
        ((int16_t *)t->data)[i] = (int16_t)v;
        break;
    case ML_INT32:
        ((int32_t *)t->data)[i] = (int32_t)v;
        break;
    default:
        ml_tensor_set_f64(t, i, v);
    }
}

/* Round half to even without a libm call (the adds below round in the
 * default mode); |v| is first clamped to 2^22, far past any 8/16-bit range,
 * so callers saturate afterwards as usual. */
static inline float nn_round_even(float v) {
    if (v > 4194304.0f) v = 4194304.0f;
    if (v < -4194304.0f) v = -4194304.0f;
    return (v + 12582912.0f) - 12582912.0f;
}

/* Requantises n accumulator values with one multiplier into 8-bit y data
 * starting at element `at`: y = saturate(round(acc * mult) + zp). */
static inline void nn_requant8(ml_tensor *y, size_t at, const double *acc, size_t n, float mult,
                               float zp) {
    float lo = y->dtype == ML_UINT8 ? 0.0f : -128.0f, hi = y->dtype == ML_UINT8 ? 255.0f : 127.0f;
    if (y->dtype == ML_UINT8) {
        uint8_t *o = (uint8_t *)y->data + at;
        for (size_t i = 0; i < n; i++) {
            float v = nn_round_even((float)acc[i] * mult) + zp;
            o[i] = (uint8_t)(v < lo ? lo : (v > hi ? hi : v));
        }
    } else {
        int8_t *o = (int8_t *)y->data + at;
        for (size_t i = 0; i < n; i++) {
            float v = nn_round_even((float)acc[i] * mult) + zp;
            o[i] = (int8_t)(v < lo ? lo : (v > hi ? hi : v));
        }
    }
}

/* Size of the per-axis group at axis: elements e map to (e / inner) % dims[axis]. */
static inline int64_t nn_inner_of(const ml_tensor *t, int axis) {
    return nn_prod(t->rank - axis - 1, t->dims + axis + 1);
}

/* init: packs constant weights minus zero point; destroy: nn_packed_free */
ml_status nn_matmul_integer_init(const ml_node *node, void **state);
ml_status nn_qlinear_matmul_init(const ml_node *node, void **state);
ml_status nn_conv_integer_init(const ml_node *node, void **state);
ml_status nn_qlinear_conv_init(const ml_node *node, void **state);
void nn_packed_free(void *state);
void nn_qpack_free(void *state); /* destroy of the four init functions above */

ml_status nn_qlinear_matmul_run(ml_kernel_ctx *ctx);
/* com.microsoft MatMulNBits (quant_nbits.c); state: dequantised weights, freed with free() */
ml_status nn_matmul_nbits_init(const ml_node *node, void **state);
ml_status nn_matmul_nbits_run(ml_kernel_ctx *ctx);
ml_status nn_matmul_integer_run(ml_kernel_ctx *ctx);
ml_status nn_qlinear_conv_run(ml_kernel_ctx *ctx);
ml_status nn_conv_integer_run(ml_kernel_ctx *ctx);
ml_status nn_qgemm_run(ml_kernel_ctx *ctx); /* com.microsoft QGemm */
/* com.microsoft QOperator elementwise/pool ops (quant_qlinear_ew.c) */
ml_status nn_qlinear_add_run(ml_kernel_ctx *ctx);
ml_status nn_qlinear_mul_run(ml_kernel_ctx *ctx);
ml_status nn_qlinear_sigmoid_run(ml_kernel_ctx *ctx);
ml_status nn_qlinear_leaky_relu_run(ml_kernel_ctx *ctx);
ml_status nn_qlinear_global_avgpool_run(ml_kernel_ctx *ctx);
ml_status nn_qlinear_concat_run(ml_kernel_ctx *ctx);
ml_status nn_qlinear_avgpool_run(ml_kernel_ctx *ctx);

#endif
