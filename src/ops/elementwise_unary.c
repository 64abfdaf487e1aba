/* Unary elementwise ops: math functions, Abs/Neg/Sign, IsNaN/IsInf, Not,
 * BitwiseNot. Each op is a table of typed contiguous loops. */
#include "ops/elementwise_opt.h"

#include <math.h>

#include "ops/elem_util.h"
#include "ops/elementwise_fastmath.h"
#include "ops/elementwise_internal.h"
#include "ops/elementwise_types.h"

#define MAP_LOOP(FN, T, TO, EXPR)                                                                  \
    ELEM_CLONES static void FN(void *arg, const void *in, void *out, size_t n) {                   \
        (void)arg;                                                                                 \
        const T *a = in;                                                                           \
        TO *o = out;                                                                               \
        for (size_t i = 0; i < n; i++) {                                                           \
            T x = a[i];                                                                            \
            o[i] = (TO)(EXPR);                                                                     \
        }                                                                                          \
    }
#define MAP_SAME(NAME, EXPR, T, SUF, DT) MAP_LOOP(NAME##_##SUF, T, T, EXPR)
#define MAP_BOOL(NAME, EXPR, T, SUF, DT) MAP_LOOP(NAME##_##SUF, T, uint8_t, EXPR)
#define U64(v) ((uint64_t)(v))

/* float math: fn##f for float, fn for double; RUN picks the parallel
 * granularity (elem_unary_heavy for transcendental functions) */
#define FMATH_RUN(NAME, FF, DF, RUN)                                                               \
    MAP_LOOP(NAME##_f32, float, float, FF(x))                                                      \
    MAP_LOOP(NAME##_f64, double, double, DF(x))                                                    \
    static const elem_map_fn NAME##_tab[ML_DTYPE_COUNT] = {                                        \
        [ML_FLOAT] = NAME##_f32, [ML_DOUBLE] = NAME##_f64};                                        \
    ml_status ew_##NAME(ml_kernel_ctx *ctx) {                                                      \
        return RUN;                                                                                \
    }
#define FMATH(NAME, FF, DF) FMATH_RUN(NAME, FF, DF, elem_unary_heavy(ctx, NAME##_tab, NULL))
#define FMATH_LIGHT(NAME, FF, DF) FMATH_RUN(NAME, FF, DF, elem_unary(ctx, NAME##_tab, 0, NULL))

static inline float recipf(float x) {
    return 1.0f / x;
}
static inline double recip(double x) {
    return 1.0 / x;
}

FMATH_LIGHT(reciprocal, recipf, recip)
FMATH_LIGHT(floor, floorf, floor)
FMATH_LIGHT(ceil, ceilf, ceil)
FMATH_LIGHT(round, nearbyintf, nearbyint) /* half to even under the default rounding mode */
FMATH_LIGHT(sqrt, sqrtf, sqrt)
FMATH(exp, fm_expf, exp)
FMATH(log, logf, log)
FMATH(sin, sinf, sin)
FMATH(cos, cosf, cos)
FMATH(tan, tanf, tan)
FMATH(asin, asinf, asin)
FMATH(acos, acosf, acos)
FMATH(atan, atanf, atan)
FMATH(sinh, sinhf, sinh)
FMATH(cosh, coshf, cosh)
FMATH(asinh, asinhf, asinh)
FMATH(acosh, acoshf, acosh)
FMATH(atanh, atanhf, atanh)
FMATH(erf, fm_erff, erf)

/* Abs/Neg: signed ints negate through uint64_t so MIN wraps instead of UB */
ELEM_FLOAT_TYPES(MAP_SAME, absf, fabs(x))
ELEM_SINT_TYPES(MAP_SAME, abss, x < 0 ? (0 - U64(x)) : U64(x))
ELEM_UINT_TYPES(MAP_SAME, absu, x)
static const elem_map_fn abs_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(
    ELEM_ENTRY, absf, _) ELEM_SINT_TYPES(ELEM_ENTRY, abss, _) ELEM_UINT_TYPES(ELEM_ENTRY, absu, _)};
ml_status ew_abs(ml_kernel_ctx *ctx) {
    return elem_unary(ctx, abs_tab, 0, NULL);
}

ELEM_FLOAT_TYPES(MAP_SAME, negf, -x)
ELEM_SINT_TYPES(MAP_SAME, negs, 0 - U64(x))
static const elem_map_fn neg_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(ELEM_ENTRY, negf, _)
                                                        ELEM_SINT_TYPES(ELEM_ENTRY, negs, _)};
ml_status ew_neg(ml_kernel_ctx *ctx) {
    return elem_unary(ctx, neg_tab, 0, NULL);
}

/* Sign keeps NaN and signed zero as they are */
ELEM_FLOAT_TYPES(MAP_SAME, signf, x > 0 ? 1 : (x < 0 ? -1 : x))
ELEM_SINT_TYPES(MAP_SAME, signs, (x > 0) - (x < 0))
ELEM_UINT_TYPES(MAP_SAME, signu, x > 0)
static const elem_map_fn sign_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(ELEM_ENTRY, signf, _)
                                                         ELEM_SINT_TYPES(ELEM_ENTRY, signs, _)
                                                             ELEM_UINT_TYPES(ELEM_ENTRY, signu, _)};
ml_status ew_sign(ml_kernel_ctx *ctx) {
    return elem_unary(ctx, sign_tab, 0, NULL);
}

ELEM_FLOAT_TYPES(MAP_BOOL, isnan, isnan(x))
static const elem_map_fn isnan_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(ELEM_ENTRY, isnan, _)};
ml_status ew_isnan(ml_kernel_ctx *ctx) {
    return elem_unary(ctx, isnan_tab, ML_BOOL, NULL);
}

typedef struct isinf_arg {
    bool pos, neg;
} isinf_arg;
#define ISINF_LOOP(NAME, EXPR, T, SUF, DT)                                                         \
    static void NAME##_##SUF(void *arg, const void *in, void *out, size_t n) {                     \
        const isinf_arg *p = arg;                                                                  \
        const T *a = in;                                                                           \
        uint8_t *o = out;                                                                          \
        for (size_t i = 0; i < n; i++)                                                             \
            o[i] = isinf(a[i]) && ((a[i] > 0 && p->pos) || (a[i] < 0 && p->neg));                  \
    }
ELEM_FLOAT_TYPES(ISINF_LOOP, isinf, _)
static const elem_map_fn isinf_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(ELEM_ENTRY, isinf, _)};
ml_status ew_isinf(ml_kernel_ctx *ctx) {
    isinf_arg a = {ml_attr_int(ctx->node, "detect_positive", 1) != 0,
                   ml_attr_int(ctx->node, "detect_negative", 1) != 0};
    return elem_unary(ctx, isinf_tab, ML_BOOL, &a);
}

MAP_LOOP(not_b8, uint8_t, uint8_t, x == 0)
static const elem_map_fn not_tab[ML_DTYPE_COUNT] = {[ML_BOOL] = not_b8};
ml_status ew_not(ml_kernel_ctx *ctx) {
    return elem_unary(ctx, not_tab, 0, NULL);
}

ELEM_INT_TYPES(MAP_SAME, bnot, ~U64(x))
static const elem_map_fn bnot_tab[ML_DTYPE_COUNT] = {ELEM_INT_TYPES(ELEM_ENTRY, bnot, _)};
ml_status ew_bnot(ml_kernel_ctx *ctx) {
    return elem_unary(ctx, bnot_tab, 0, NULL);
}
