/* Softmax, LogSoftmax, Hardmax. Before opset 13 the input is coerced to 2-D
 * at `axis` (default 1) and normalised over the flattened trailing block;
 * from 13 on a single axis (default -1) is normalised. */
#include "ops/elementwise_opt.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/elementwise_fastmath.h"
#include "ops/reduce_internal.h"

enum { SM_SOFT, SM_LOG, SM_HARD };

#define SM_PAR_MIN 16384

typedef struct sm_job {
    int kind;
    const void *x;
    void *y;
    size_t R, inner;
    atomic_int *failed; /* set when a worker could not allocate scratch */
} sm_job;

#define SM_IMPL(T, SUF, EXP, LOG, ROWMAX, ROWSUM)                                                  \
    ELEM_CLONES static void sm_row_##SUF(int kind, const T *xs, T *ys, size_t R) {                 \
        T m = -INFINITY;                                                                           \
        if (kind == SM_HARD) {                                                                     \
            size_t mi = 0;                                                                         \
            for (size_t r = 0; r < R; r++)                                                         \
                if (xs[r] > m) m = xs[r], mi = r;                                                  \
            for (size_t r = 0; r < R; r++) ys[r] = 0;                                              \
            if (R) ys[mi] = 1;                                                                     \
            return;                                                                                \
        }                                                                                          \
        m = ROWMAX(xs, R);                                                                         \
        /* separate passes keep each loop vectorisable */                                          \
        for (size_t r = 0; r < R; r++) ys[r] = EXP(xs[r] - m);                                     \
        T s = ROWSUM(ys, R);                                                                       \
        if (kind == SM_SOFT) {                                                                     \
            T inv = 1 / s;                                                                         \
            for (size_t r = 0; r < R; r++) ys[r] *= inv;                                           \
        } else {                                                                                   \
            T ls = m + LOG(s);                                                                     \
            for (size_t r = 0; r < R; r++) ys[r] = xs[r] - ls;                                     \
        }                                                                                          \
    }                                                                                              \
    static void sm_##SUF(void *p, size_t ob, size_t oe) {                                          \
        const sm_job *j = p;                                                                       \
        size_t R = j->R, in = j->inner;                                                            \
        const T *x = j->x;                                                                         \
        T *y = j->y;                                                                               \
        if (in == 1) {                                                                             \
            for (size_t o = ob; o < oe; o++) sm_row_##SUF(j->kind, x + o * R, y + o * R, R);       \
            return;                                                                                \
        }                                                                                          \
        /* axis not last: work on whole inner rows so loops stay contiguous */                     \
        T *m = malloc(2 * in * sizeof(T));                                                         \
        size_t *mi = malloc(in * sizeof(size_t));                                                  \
        if (!m || !mi) {                                                                           \
            free(m);                                                                               \
            free(mi);                                                                              \
            atomic_store(j->failed, 1);                                                            \
            return;                                                                                \
        }                                                                                          \
        T *s = m + in;                                                                             \
        for (size_t o = ob; o < oe; o++) {                                                         \
            const T *xs = x + o * R * in;                                                          \
            T *ys = y + o * R * in;                                                                \
            for (size_t k = 0; k < in; k++) m[k] = -INFINITY, s[k] = 0, mi[k] = 0;                 \
            for (size_t r = 0; r < R; r++)                                                         \
                for (size_t k = 0; k < in; k++)                                                    \
                    if (xs[r * in + k] > m[k]) m[k] = xs[r * in + k], mi[k] = r;                   \
            if (j->kind == SM_HARD) {                                                              \
                memset(ys, 0, R *in * sizeof(T));                                                  \
                if (R)                                                                             \
                    for (size_t k = 0; k < in; k++) ys[mi[k] * in + k] = 1;                        \
                continue;                                                                          \
            }                                                                                      \
            for (size_t r = 0; r < R; r++)                                                         \
                for (size_t k = 0; k < in; k++) {                                                  \
                    T e = EXP(xs[r * in + k] - m[k]);                                              \
                    if (j->kind == SM_SOFT) ys[r * in + k] = e;                                    \
                    s[k] += e;                                                                     \
                }                                                                                  \
            if (j->kind == SM_SOFT) {                                                              \
                for (size_t k = 0; k < in; k++) s[k] = 1 / s[k];                                   \
                for (size_t r = 0; r < R; r++)                                                     \
                    for (size_t k = 0; k < in; k++) ys[r * in + k] *= s[k];                        \
            } else {                                                                               \
                for (size_t k = 0; k < in; k++) s[k] = m[k] + LOG(s[k]);                           \
                for (size_t r = 0; r < R; r++)                                                     \
                    for (size_t k = 0; k < in; k++) ys[r * in + k] = xs[r * in + k] - s[k];        \
            }                                                                                      \
        }                                                                                          \
        free(m);                                                                                   \
        free(mi);                                                                                  \
    }
static inline float rowmax_f32(const float *x, size_t n) {
    return red_max_f32(x, n, 1);
}
static inline double rowmax_f64(const double *x, size_t n) {
    double m = -INFINITY;
    for (size_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
    return m;
}
static inline double rowsum_f64(const double *x, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += x[i];
    return s;
}
SM_IMPL(float, f32, fm_expf, logf, rowmax_f32, red_sum_f32)
SM_IMPL(double, f64, exp, log, rowmax_f64, rowsum_f64)

void red_softmax_row_f32(const float *x, float *y, size_t n) {
    sm_row_f32(SM_SOFT, x, y, n);
}

static ml_status run_sm(ml_kernel_ctx *ctx, int kind) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ml_dtype dt = x->dtype;
    if (dt != ML_FLOAT && dt != ML_DOUBLE && !elem_is_half(dt))
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "input type %s is not supported (float types only)",
                             ml_dtype_name(dt));
    bool legacy = ctx->node->opset < 13;
    int64_t axis_attr = ml_attr_int(ctx->node, "axis", legacy ? 1 : -1);
    int axis = 0;
    red_split s = {1, 1, 1};
    if (x->rank > 0) {
        if (legacy && axis_attr == x->rank) { /* coerce to [N, 1] */
            axis = x->rank;
        } else {
            ML_TRY(ml_normalize_axis(ctx->node, axis_attr, x->rank, &axis));
        }
        if (legacy) {
            for (int d = 0; d < x->rank; d++) {
                if (d < axis)
                    s.outer *= (size_t)x->dims[d];
                else
                    s.R *= (size_t)x->dims[d];
            }
        } else {
            s = red_split_axis(x, axis);
        }
    }
    ml_tensor *y;
    ML_TRY(elem_output_like(ctx, 0, dt, x, &y));
    ml_tensor *fx = NULL, *fy = NULL;
    ml_status st = ML_STATUS_OK;
    const void *xin = x->data;
    void *yout = y->data;
    if (elem_is_half(dt)) {
        st = elem_half_tensor_to_float(x, &fx);
        if (!st) st = ml_tensor_create(ML_FLOAT, x->rank, x->dims, &fy);
        if (st) goto done;
        xin = fx->data;
        yout = fy->data;
    }
    atomic_int failed = 0;
    sm_job j = {kind, xin, yout, s.R, s.inner, &failed};
    size_t per = s.R * s.inner + 1;
    /* ~1 ns per element: below SM_PAR_MIN elements per task a pool hand-off
     * costs more than it saves (attention softmaxes of a few thousand values
     * ran 3x slower split on a busy 2-core machine) */
    ml_parallel_for(ctx->pool, s.outer, per >= SM_PAR_MIN ? 1 : SM_PAR_MIN / per,
                    dt == ML_DOUBLE ? sm_f64 : sm_f32, &j);
    if (atomic_load(&failed)) {
        st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory in softmax");
        goto done;
    }
    if (fy) elem_float_to_half(dt, fy->data, y->data, ml_tensor_numel(y));
done:
    ml_tensor_free(fx);
    ml_tensor_free(fy);
    return st;
}

ml_status red_run_softmax(ml_kernel_ctx *ctx) {
    return run_sm(ctx, SM_SOFT);
}
ml_status red_run_logsoftmax(ml_kernel_ctx *ctx) {
    return run_sm(ctx, SM_LOG);
}
ml_status red_run_hardmax(ml_kernel_ctx *ctx) {
    return run_sm(ctx, SM_HARD);
}
