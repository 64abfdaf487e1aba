/* Shared pieces of the reduce family (Reduce*, ArgMax/Min, Softmax family,
 * CumSum, TopK): a single-axis view of a tensor as [outer, R, inner]. */
#ifndef MLAMBDA_OPS_REDUCE_INTERNAL_H
#define MLAMBDA_OPS_REDUCE_INTERNAL_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ops/kernel.h"

typedef struct red_split {
    size_t outer, R, inner;
} red_split;

/* Product of dims [0, axis) / [axis] / (axis, rank). */
static inline red_split red_split_axis(const ml_tensor *t, int axis) {
    red_split s = {1, 1, 1};
    for (int d = 0; d < t->rank; d++) {
        size_t v = (size_t)t->dims[d];
        if (d < axis)
            s.outer *= v;
        else if (d == axis)
            s.R = v;
        else
            s.inner *= v;
    }
    return s;
}

/* Max / min of x[0..n) over eight vector lanes (GCC/Clang vector
 * extensions: a running max is a serial dependency the vectoriser will not
 * split). A NaN input makes the result NaN: a lane keeps NaN once it holds
 * it. -inf / +inf when n == 0. */
typedef float red_v4sf __attribute__((vector_size(16)));
typedef int32_t red_v4si __attribute__((vector_size(16)));

static inline red_v4sf red_pick(red_v4sf v, red_v4sf m, int sign) {
    red_v4si take = (sign > 0 ? (v > m) : (v < m)) | (v != v);
    return (red_v4sf)(((red_v4si)v & take) | ((red_v4si)m & ~take));
}

static inline float red_max_f32(const float *x, size_t n, int sign) {
    const float init = sign > 0 ? -INFINITY : INFINITY;
    red_v4sf m0 = {init, init, init, init}, m1 = m0;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        red_v4sf a, b;
        memcpy(&a, x + i, sizeof a);
        memcpy(&b, x + i + 4, sizeof b);
        m0 = red_pick(a, m0, sign);
        m1 = red_pick(b, m1, sign);
    }
    m0 = red_pick(m1, m0, sign);
    float m = init;
    for (int k = 0; k < 4; k++)
        m = ((sign > 0 ? m0[k] > m : m0[k] < m) || m0[k] != m0[k]) ? m0[k] : m;
    for (; i < n; i++) m = ((sign > 0 ? x[i] > m : x[i] < m) || x[i] != x[i]) ? x[i] : m;
    return m;
}

/* Sum with eight independent accumulators: vectorisable without
 * -ffast-math because the reassociation is written out. */
static inline float red_sum_f32(const float *x, size_t n) {
    float a[8] = {0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) a[k] += x[i + k];
    float s = 0;
    for (; i < n; i++) s += x[i];
    for (int k = 0; k < 8; k++) s += a[k];
    return s;
}

ml_status red_run_reduce(ml_kernel_ctx *ctx, int op);
ml_status red_run_argmax(ml_kernel_ctx *ctx);
ml_status red_run_argmin(ml_kernel_ctx *ctx);
ml_status red_run_softmax(ml_kernel_ctx *ctx);
/* Softmax of one contiguous float row, exactly as the Softmax kernel computes
 * it (y may be x); for fused kernels that must match it. */
void red_softmax_row_f32(const float *x, float *y, size_t n);
ml_status red_run_logsoftmax(ml_kernel_ctx *ctx);
ml_status red_run_hardmax(ml_kernel_ctx *ctx);
ml_status red_run_cumsum(ml_kernel_ctx *ctx);
ml_status red_run_topk(ml_kernel_ctx *ctx);

enum red_op {
    RED_SUM,
    RED_MEAN,
    RED_MAX,
    RED_MIN,
    RED_PROD,
    RED_L1,
    RED_L2,
    RED_LOGSUM,
    RED_LOGSUMEXP,
    RED_SUMSQ,
};

#endif
