/* Activation functions: Relu, LeakyRelu, PRelu, Elu, Selu, Celu, Sigmoid,
 * HardSigmoid, HardSwish, Softplus, Softsign, Tanh, ThresholdedRelu, Shrink,
 * Gelu (ai.onnx 20 and com.microsoft), Mish, Clip. Float types run typed
 * contiguous loops; half types go through float (elem_unary does that). */
#include "ops/elementwise_opt.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/elementwise_fastmath.h"
#include "ops/elementwise_types.h"
#include "ops/families.h"

/* Attribute values, read once per run. */
typedef struct act_p {
    double alpha, beta, gamma;
} act_p;

/* EXPR sees x (T) and alpha/beta/gamma (T for floats, double for ints). */
#define ACT_LOOP(NAME, EXPR, T, SUF, DT)                                                           \
    ELEM_CLONES static void NAME##_##SUF(void *arg, const void *in, void *out, size_t n) {         \
        const act_p *p = arg;                                                                      \
        const T alpha = (T)p->alpha, beta = (T)p->beta, gamma = (T)p->gamma;                       \
        (void)alpha, (void)beta, (void)gamma;                                                      \
        const T *a = in;                                                                           \
        T *o = out;                                                                                \
        for (size_t i = 0; i < n; i++) {                                                           \
            T x = a[i];                                                                            \
            o[i] = (T)(EXPR);                                                                      \
        }                                                                                          \
    }
#define ACT_LOOP_INT(NAME, EXPR, T, SUF, DT)                                                       \
    static void NAME##_##SUF(void *arg, const void *in, void *out, size_t n) {                     \
        const act_p *p = arg;                                                                      \
        const double alpha = p->alpha, beta = p->beta, gamma = p->gamma;                           \
        (void)alpha, (void)beta, (void)gamma;                                                      \
        const T *a = in;                                                                           \
        T *o = out;                                                                                \
        for (size_t i = 0; i < n; i++) {                                                           \
            T x = a[i];                                                                            \
            o[i] = (T)(EXPR);                                                                      \
        }                                                                                          \
    }

/* A float-only activation: loops, table and run function. */
#define ACT_FLOAT(NAME, FEXPR, DEXPR)                                                              \
    ACT_LOOP(NAME, FEXPR, float, f32, ML_FLOAT)                                                    \
    ACT_LOOP(NAME, DEXPR, double, f64, ML_DOUBLE)                                                  \
    static const elem_map_fn NAME##_tab[ML_DTYPE_COUNT] = {                                        \
        [ML_FLOAT] = NAME##_f32, [ML_DOUBLE] = NAME##_f64};

/* Numerically stable pieces: no overflow of exp for large |x|. */
static inline double sigmoid_(double x) {
    if (x >= 0) return 1.0 / (1.0 + exp(-x));
    double e = exp(x);
    return e / (1.0 + e);
}
static inline double softplus_(double x) {
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

ELEM_FLOAT_TYPES(ACT_LOOP, relu, x < 0 ? 0 : x)
ELEM_SINT_TYPES(ACT_LOOP_INT, relu, x < 0 ? 0 : x)
static const elem_map_fn relu_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(ELEM_ENTRY, relu, _)
                                                         ELEM_SINT_TYPES(ELEM_ENTRY, relu, _)};
ACT_FLOAT(leaky, x < 0 ? alpha * x : x, x < 0 ? alpha * x : x)
ACT_FLOAT(elu, x < 0 ? alpha * fm_expm1f(x) : x, x < 0 ? alpha * expm1(x) : x)
ACT_FLOAT(selu, x <= 0 ? gamma * alpha * fm_expm1f(x) : gamma * x,
          x <= 0 ? gamma * alpha * expm1(x) : gamma * x)
ACT_FLOAT(celu, x > 0 ? x : alpha * fm_expm1f(x / alpha), x > 0 ? x : alpha * expm1(x / alpha))
ACT_FLOAT(sigmoid, fm_sigmoidf(x), sigmoid_(x))
/* clamp01 is written with compares (not fminf) so it vectorises */
#define CLAMP01(v) ((v) < 0 ? 0 : ((v) > 1 ? 1 : (v)))
ACT_FLOAT(hsigmoid, CLAMP01(alpha *x + beta), CLAMP01(alpha *x + beta))
ACT_FLOAT(hswish, x *CLAMP01(x / 6 + 0.5f), x *CLAMP01(x / 6 + 0.5))
ACT_FLOAT(softplus, fm_softplusf(x), softplus_(x))
ACT_FLOAT(softsign, x / (1 + fabsf(x)), x / (1 + fabs(x)))
ACT_FLOAT(tanh, fm_tanhf(x), tanh(x))
ACT_FLOAT(threlu, x > alpha ? x : 0, x > alpha ? x : 0)
ACT_FLOAT(mish, x *fm_tanhf(fm_softplusf(x)), x *tanh(softplus_(x)))
ACT_FLOAT(gelu, 0.5f * x * (1 + fm_erff(x * (float)M_SQRT1_2)), 0.5 * x * (1 + erf(x * M_SQRT1_2)))
/* sqrt(2/pi) = 0.7978845608 */
ACT_FLOAT(gelu_tanh, 0.5f * x * (1 + fm_tanhf(0.7978845608f * (x + 0.044715f * x * x * x))),
          0.5 * x * (1 + tanh(0.79788456080286536 * (x + 0.044715 * x * x * x))))
/* Shrink: alpha = lambd, beta = bias; all numeric types */
#define SHRINK_EXPR x < -alpha ? x + beta : (x > alpha ? x - beta : 0)
ELEM_FLOAT_TYPES(ACT_LOOP, shrink, SHRINK_EXPR)
/* integers: compare in double (exact enough for a threshold), subtract the
 * bias, saturated to int64 first, with wrapping arithmetic */
static inline int64_t sat_i64(double v) {
    if (v != v) return 0;
    if (v >= 9223372036854775807.0) return INT64_MAX;
    if (v <= -9223372036854775808.0) return INT64_MIN;
    return (int64_t)v;
}
#define SHRINK_INT(NAME, EXPR, T, SUF, DT)                                                         \
    static void NAME##_##SUF(void *arg, const void *in, void *out, size_t n) {                     \
        const act_p *p = arg;                                                                      \
        const double lambd = p->alpha;                                                             \
        const uint64_t bias = (uint64_t)sat_i64(p->beta);                                          \
        const T *a = in;                                                                           \
        T *o = out;                                                                                \
        for (size_t i = 0; i < n; i++) {                                                           \
            double x = (double)a[i];                                                               \
            o[i] = x < -lambd ? (T)((uint64_t)a[i] + bias)                                         \
                              : (x > lambd ? (T)((uint64_t)a[i] - bias) : (T)0);                   \
        }                                                                                          \
    }
ELEM_INT_TYPES(SHRINK_INT, shrink, _)
static const elem_map_fn shrink_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(ELEM_ENTRY, shrink, _)
                                                           ELEM_INT_TYPES(ELEM_ENTRY, shrink, _)};

/* every activation but the piecewise-linear ones calls exp/tanh/erf */
#define RUN_ACT(NAME, TAB, A, B, G)                                                                \
    static ml_status run_##NAME(ml_kernel_ctx *ctx) {                                              \
        act_p p = {A, B, G};                                                                       \
        return elem_unary_heavy(ctx, TAB, &p);                                                     \
    }
/* piecewise-linear ones are memory-bound: default granularity */
#define RUN_ACT_LIGHT(NAME, TAB, A, B, G)                                                          \
    static ml_status run_##NAME(ml_kernel_ctx *ctx) {                                              \
        act_p p = {A, B, G};                                                                       \
        return elem_unary(ctx, TAB, ML_UNDEFINED, &p);                                             \
    }
#define ATTR(name, d) ml_attr_float(ctx->node, name, d)
RUN_ACT_LIGHT(relu, relu_tab, 0, 0, 0)
RUN_ACT_LIGHT(leaky, leaky_tab, ATTR("alpha", 0.01f), 0, 0)
RUN_ACT(elu, elu_tab, ATTR("alpha", 1.0f), 0, 0)
RUN_ACT(selu, selu_tab, ATTR("alpha", 1.67326319217681884765625f), 0,
        ATTR("gamma", 1.05070102214813232421875f))
RUN_ACT(sigmoid, sigmoid_tab, 0, 0, 0)
RUN_ACT_LIGHT(hsigmoid, hsigmoid_tab, ATTR("alpha", 0.2f), ATTR("beta", 0.5f), 0)
RUN_ACT_LIGHT(hswish, hswish_tab, 0, 0, 0)
RUN_ACT(softplus, softplus_tab, 0, 0, 0)
RUN_ACT_LIGHT(softsign, softsign_tab, 0, 0, 0)
RUN_ACT(tanh, tanh_tab, 0, 0, 0)
RUN_ACT_LIGHT(threlu, threlu_tab, ATTR("alpha", 1.0f), 0, 0)
RUN_ACT(mish, mish_tab, 0, 0, 0)
RUN_ACT_LIGHT(shrink, shrink_tab, ATTR("lambd", 0.5f), ATTR("bias", 0.0f), 0)

static ml_status run_celu(ml_kernel_ctx *ctx) {
    act_p p = {ATTR("alpha", 1.0f), 0, 0};
    if (p.alpha == 0)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "alpha must not be 0");
    return elem_unary(ctx, celu_tab, ML_UNDEFINED, &p);
}

static ml_status run_gelu(ml_kernel_ctx *ctx) {
    const char *approx = ml_attr_string(ctx->node, "approximate", "none");
    act_p p = {0, 0, 0};
    if (strcmp(approx, "tanh") == 0) return elem_unary(ctx, gelu_tanh_tab, ML_UNDEFINED, &p);
    if (strcmp(approx, "none") != 0)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "approximate must be \"none\" or \"tanh\", got \"%s\"", approx);
    return elem_unary(ctx, gelu_tab, ML_UNDEFINED, &p);
}

/* ---- com.microsoft Gelu relatives, as exported by onnxruntime's
 * transformer optimiser: FastGelu(X, bias?) = tanh-Gelu(X + bias),
 * BiasGelu(A, B) = Gelu(A + B), QuickGelu(X) = X * sigmoid(alpha * X). ---- */
ACT_LOOP(quick_gelu, x *fm_sigmoidf(alpha *x), float, f32, ML_FLOAT)
ACT_LOOP(quick_gelu, x / (1 + exp(-alpha * x)), double, f64, ML_DOUBLE)
static const elem_map_fn quick_gelu_tab[ML_DTYPE_COUNT] = {
    [ML_FLOAT] = quick_gelu_f32, [ML_DOUBLE] = quick_gelu_f64};
static ml_status run_quick_gelu(ml_kernel_ctx *ctx) {
    act_p p = {ATTR("alpha", 1.702f), 0, 0};
    return elem_unary(ctx, quick_gelu_tab, ML_UNDEFINED, &p);
}

/* out = x + bias over one broadcast run, then the activation in place */
#define BIAS_ACT(NAME, T, SUF, ACT)                                                                \
    static void NAME##_##SUF(void *arg, const void *const *in, const int64_t *st, void *out,       \
                             int64_t n) {                                                          \
        const T *x = in[0], *b = in[1];                                                            \
        T *o = out;                                                                                \
        for (int64_t i = 0; i < n; i++) o[i] = x[i * st[0]] + b[i * st[1]];                        \
        ACT##_##SUF(arg, o, o, (size_t)n);                                                         \
    }
BIAS_ACT(bias_gelu_tanh, float, f32, gelu_tanh)
BIAS_ACT(bias_gelu_tanh, double, f64, gelu_tanh)
BIAS_ACT(bias_gelu, float, f32, gelu)
BIAS_ACT(bias_gelu, double, f64, gelu)
static const elem_run_fn bias_gelu_tanh_tab[ML_DTYPE_COUNT] = {
    [ML_FLOAT] = bias_gelu_tanh_f32, [ML_DOUBLE] = bias_gelu_tanh_f64};
static const elem_run_fn bias_gelu_tab[ML_DTYPE_COUNT] = {
    [ML_FLOAT] = bias_gelu_f32, [ML_DOUBLE] = bias_gelu_f64};

static ml_status run_fast_gelu(ml_kernel_ctx *ctx) {
    act_p p = {0, 0, 0};
    if (!ml_input(ctx, 1)) return elem_unary(ctx, gelu_tanh_tab, ML_UNDEFINED, &p);
    return elem_binary(ctx, bias_gelu_tanh_tab, ML_UNDEFINED, &p);
}

static ml_status run_bias_gelu(ml_kernel_ctx *ctx) {
    act_p p = {0, 0, 0};
    return elem_binary(ctx, bias_gelu_tab, ML_UNDEFINED, &p);
}

/* ---- PRelu: x < 0 ? slope * x : x, slope broadcast to x ---- */
/* MUL(a, b): plain for floats, wrapping (through uint64_t) for integers */
#define PRELU_LOOP(NAME, MUL, T, SUF, DT)                                                          \
    static void NAME##_##SUF(void *arg, const void *const *in, const int64_t *st, void *out,       \
                             int64_t n) {                                                          \
        (void)arg;                                                                                 \
        const T *x = in[0], *s = in[1];                                                            \
        T *o = out;                                                                                \
        if (st[0] && st[1])                                                                        \
            for (int64_t i = 0; i < n; i++) o[i] = x[i] < 0 ? (T)MUL(s[i], x[i]) : x[i];           \
        else if (st[0]) {                                                                          \
            const T sv = s[0];                                                                     \
            for (int64_t i = 0; i < n; i++) o[i] = x[i] < 0 ? (T)MUL(sv, x[i]) : x[i];             \
        } else                                                                                     \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T xv = x[i * st[0]], sv = s[i * st[1]];                                            \
                o[i] = xv < 0 ? (T)MUL(sv, xv) : xv;                                               \
            }                                                                                      \
    }
#define FMUL(a, b) ((a) * (b))
#define IMUL(a, b) ((uint64_t)(a) * (uint64_t)(b))
ELEM_FLOAT_TYPES(PRELU_LOOP, prelu, FMUL)
ELEM_SINT_TYPES(PRELU_LOOP, prelu, IMUL)
static const elem_run_fn prelu_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(ELEM_ENTRY, prelu, _)
                                                          ELEM_SINT_TYPES(ELEM_ENTRY, prelu, _)};
static ml_status run_prelu(ml_kernel_ctx *ctx) {
    const ml_tensor *x, *slope;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &slope));
    /* before opset 7 a 1-D slope of size C applies per channel (axis 1) */
    if (ctx->node->opset < 7 && slope->rank == 1 && x->rank >= 2 && slope->dims[0] == x->dims[1] &&
        slope->dims[0] != 1) {
        int64_t dims[ML_MAX_RANK];
        for (int d = 0; d < x->rank - 1; d++) dims[d] = d == 0 ? slope->dims[0] : 1;
        ml_tensor *view;
        ML_TRY(ml_tensor_view(slope, x->rank - 1, dims, &view));
        ml_status st = elem_binary_tensors(ctx, x, view, prelu_tab, ML_UNDEFINED, NULL);
        ml_tensor_free(view);
        return st;
    }
    return elem_binary_tensors(ctx, x, slope, prelu_tab, ML_UNDEFINED, NULL);
}

/* ---- Clip: bounds from attributes (< 11) or optional scalar inputs ---- */
typedef struct clip_p {
    bool has_lo, has_hi;
    union {
        float f;
        double d;
        int64_t i;
        uint64_t u;
        unsigned char bytes[8];
    } lo, hi;
} clip_p;

#define CLIP_LOOP(NAME, EXPR, T, SUF, DT)                                                          \
    static void NAME##_##SUF(void *arg, const void *in, void *out, size_t n) {                     \
        const clip_p *p = arg;                                                                     \
        T lo, hi;                                                                                  \
        memcpy(&lo, p->lo.bytes, sizeof lo);                                                       \
        memcpy(&hi, p->hi.bytes, sizeof hi);                                                       \
        const T *a = in;                                                                           \
        T *o = out;                                                                                \
        if (p->has_lo && p->has_hi)                                                                \
            for (size_t i = 0; i < n; i++) {                                                       \
                T x = a[i] < lo ? lo : a[i];                                                       \
                o[i] = x > hi ? hi : x;                                                            \
            }                                                                                      \
        else if (p->has_lo)                                                                        \
            for (size_t i = 0; i < n; i++) o[i] = a[i] < lo ? lo : a[i];                           \
        else if (p->has_hi)                                                                        \
            for (size_t i = 0; i < n; i++) o[i] = a[i] > hi ? hi : a[i];                           \
        else                                                                                       \
            memcpy(o, a, n * sizeof(T));                                                           \
    }
ELEM_NUM_TYPES(CLIP_LOOP, clip, _)
static const elem_map_fn clip_tab[ML_DTYPE_COUNT] = {ELEM_NUM_TYPES(ELEM_ENTRY, clip, _)};

/* Stores bound tensor b (same dtype as x; half converted to float) into dst. */
static ml_status clip_bound(const ml_node *node, const ml_tensor *x, const ml_tensor *b,
                            const char *what, bool *has, unsigned char *dst) {
    if (!b) return ML_STATUS_OK;
    if (b->dtype != x->dtype)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "%s must have the input's type %s, got %s", what,
                             ml_dtype_name(x->dtype), ml_dtype_name(b->dtype));
    if (ml_tensor_numel(b) != 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s must be a scalar", what);
    if (elem_is_half(x->dtype)) {
        float f = (float)elem_load_f64(x->dtype, b->data, 0);
        memcpy(dst, &f, sizeof f);
    } else {
        memcpy(dst, b->data, ml_dtype_size(x->dtype));
    }
    *has = true;
    return ML_STATUS_OK;
}

static ml_status run_clip(ml_kernel_ctx *ctx) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    clip_p p;
    memset(&p, 0, sizeof p);
    if (ctx->node->opset < 11) {
        ml_dtype wdt = elem_is_half(x->dtype) ? ML_FLOAT : x->dtype;
        if (!ml_dtype_is_float(wdt))
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                                 "input type %s is not supported before opset 11",
                                 ml_dtype_name(x->dtype));
        const ml_attr *lo = ml_node_attr(ctx->node, "min"), *hi = ml_node_attr(ctx->node, "max");
        if (lo) {
            p.has_lo = true;
            elem_store_f64(wdt, p.lo.bytes, 0, ml_attr_float(ctx->node, "min", -FLT_MAX));
        }
        if (hi) {
            p.has_hi = true;
            elem_store_f64(wdt, p.hi.bytes, 0, ml_attr_float(ctx->node, "max", FLT_MAX));
        }
    } else {
        ML_TRY(clip_bound(ctx->node, x, ml_input(ctx, 1), "min", &p.has_lo, p.lo.bytes));
        ML_TRY(clip_bound(ctx->node, x, ml_input(ctx, 2), "max", &p.has_hi, p.hi.bytes));
    }
    return elem_unary_tensor(ctx, x, clip_tab, ML_UNDEFINED, &p);
}

const ml_kernel ml_kernels_activation[] = {
    {"", "Relu", 1, 0, NULL, NULL, run_relu},
    {"", "LeakyRelu", 1, 0, NULL, NULL, run_leaky},
    {"", "PRelu", 1, 0, NULL, NULL, run_prelu},
    {"", "Elu", 1, 0, NULL, NULL, run_elu},
    {"", "Selu", 1, 0, NULL, NULL, run_selu},
    {"", "Celu", 12, 0, NULL, NULL, run_celu},
    {"", "Sigmoid", 1, 0, NULL, NULL, run_sigmoid},
    {"", "HardSigmoid", 1, 0, NULL, NULL, run_hsigmoid},
    {"", "HardSwish", 14, 0, NULL, NULL, run_hswish},
    {"", "Softplus", 1, 0, NULL, NULL, run_softplus},
    {"", "Softsign", 1, 0, NULL, NULL, run_softsign},
    {"", "Tanh", 1, 0, NULL, NULL, run_tanh},
    {"", "ThresholdedRelu", 1, 0, NULL, NULL, run_threlu},
    {"", "Shrink", 9, 0, NULL, NULL, run_shrink},
    {"", "Clip", 1, 0, NULL, NULL, run_clip},
    {"", "Gelu", 20, 0, NULL, NULL, run_gelu},
    {"", "Mish", 18, 0, NULL, NULL, run_mish},
    {"com.microsoft", "Gelu", 1, 0, NULL, NULL, run_gelu},
    {"com.microsoft", "FastGelu", 1, 0, NULL, NULL, run_fast_gelu},
    {"com.microsoft", "BiasGelu", 1, 0, NULL, NULL, run_bias_gelu},
    {"com.microsoft", "QuickGelu", 1, 0, NULL, NULL, run_quick_gelu},
    {0},
};
