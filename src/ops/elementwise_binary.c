/* Binary and variadic elementwise ops: arithmetic, comparison, logic,
 * bitwise, Max/Min/Sum/Mean. Each op is a table of typed broadcast loops. */
#include "ops/elementwise_opt.h"

#include <math.h>
#include <string.h>

#include "ops/elementwise_types.h"
#include "ops/elem_util.h"
#include "ops/elementwise_internal.h"

/* One broadcast run: strides are 0 (broadcast) or 1; the four cases are
 * split so each inner loop is a plain vectorisable loop. */
#define BIN_LOOP(FN, T, TO, EXPR)                                                                  \
    static void FN(void *arg, const void *const *in, const int64_t *st, void *out, int64_t n) {    \
        (void)arg;                                                                                 \
        const T *pa = in[0], *pb = in[1];                                                          \
        TO *o = out;                                                                               \
        if (st[0] && st[1]) {                                                                      \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T x = pa[i], y = pb[i];                                                            \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else if (st[0]) {                                                                        \
            const T y = pb[0];                                                                     \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T x = pa[i];                                                                       \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else if (st[1]) {                                                                        \
            const T x = pa[0];                                                                     \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T y = pb[i];                                                                       \
                o[i] = (TO)(EXPR);                                                                 \
            }                                                                                      \
        } else {                                                                                   \
            const T x = pa[0], y = pb[0];                                                          \
            const TO v = (TO)(EXPR);                                                               \
            for (int64_t i = 0; i < n; i++) o[i] = v;                                              \
        }                                                                                          \
    }

#define LOOP_SAME(NAME, EXPR, T, SUF, DT) BIN_LOOP(NAME##_##SUF, T, T, EXPR)
#define LOOP_BOOL(NAME, EXPR, T, SUF, DT) BIN_LOOP(NAME##_##SUF, T, uint8_t, EXPR)

/* Integer arithmetic goes through uint64_t so it wraps: signed overflow is
 * undefined in C, and hostile inputs must not be able to trigger it. */
#define U64(v) ((uint64_t)(v))

/* ---- arithmetic ---- */
ELEM_FLOAT_TYPES(LOOP_SAME, addf, x + y)
ELEM_INT_TYPES(LOOP_SAME, addi, U64(x) + U64(y))
ELEM_FLOAT_TYPES(LOOP_SAME, subf, x - y)
ELEM_INT_TYPES(LOOP_SAME, subi, U64(x) - U64(y))
ELEM_FLOAT_TYPES(LOOP_SAME, mulf, x *y)
ELEM_INT_TYPES(LOOP_SAME, muli, U64(x) * U64(y))
ELEM_FLOAT_TYPES(LOOP_SAME, divf, x / y)
/* integer division by 0 yields 0 and MIN / -1 wraps, instead of trapping */
ELEM_SINT_TYPES(LOOP_SAME, divs, y == 0 ? 0 : (y == -1 ? (int64_t)(0 - U64(x)) : (int64_t)(x / y)))
ELEM_UINT_TYPES(LOOP_SAME, divu, y == 0 ? 0 : x / y)

/* NAME: float loops F_*, integer loops I_* (use with a trailing ';') */
#define ARITH_TAB(NAME, F, I)                                                                      \
    const elem_run_fn NAME[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(ELEM_ENTRY, F, _)                   \
                                                  ELEM_INT_TYPES(ELEM_ENTRY, I, _)}
static ARITH_TAB(add_tab, addf, addi);
static ARITH_TAB(sub_tab, subf, subi);
static ARITH_TAB(mul_tab, mulf, muli);
static const elem_run_fn div_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(
    ELEM_ENTRY, divf, _) ELEM_SINT_TYPES(ELEM_ENTRY, divs, _) ELEM_UINT_TYPES(ELEM_ENTRY, divu, _)};

/* Mod: fmod=0 takes the divisor's sign (Python %), fmod=1 the dividend's (C). */
static inline int64_t pymod_i64(int64_t x, int64_t y) {
    if (y == 0 || y == -1) return 0;
    int64_t r = x % y;
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return r;
}
static inline double pymod_f64(double x, double y) {
    double r = fmod(x, y);
    if (r != 0 && ((r < 0) != (y < 0))) r += y;
    return r;
}
ELEM_SINT_TYPES(LOOP_SAME, pymods, pymod_i64(x, y))
ELEM_UINT_TYPES(LOOP_SAME, modu, y == 0 ? 0 : x % y)
ELEM_SINT_TYPES(LOOP_SAME, cmods, (y == 0 || y == -1) ? 0 : x % y)
ELEM_FLOAT_TYPES(LOOP_SAME, pymodf, pymod_f64(x, y))
BIN_LOOP(cmodf_f32, float, float, fmodf(x, y))
BIN_LOOP(cmodf_f64, double, double, fmod(x, y))
static const elem_run_fn pymod_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(ELEM_ENTRY, pymodf, _)
                                                          ELEM_SINT_TYPES(ELEM_ENTRY, pymods, _)
                                                              ELEM_UINT_TYPES(ELEM_ENTRY, modu, _)};
static const elem_run_fn cmod_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(ELEM_ENTRY, cmodf, _)
                                                         ELEM_SINT_TYPES(ELEM_ENTRY, cmods, _)
                                                             ELEM_UINT_TYPES(ELEM_ENTRY, modu, _)};

/* ---- shifts and bitwise ---- */
ELEM_UINT_TYPES(LOOP_SAME, shl, y >= sizeof(x) * 8 ? 0 : U64(x) << y)
ELEM_UINT_TYPES(LOOP_SAME, shr, y >= sizeof(x) * 8 ? 0 : U64(x) >> y)
static const elem_run_fn shl_tab[ML_DTYPE_COUNT] = {ELEM_UINT_TYPES(ELEM_ENTRY, shl, _)};
static const elem_run_fn shr_tab[ML_DTYPE_COUNT] = {ELEM_UINT_TYPES(ELEM_ENTRY, shr, _)};
ELEM_INT_TYPES(LOOP_SAME, band, x &y)
ELEM_INT_TYPES(LOOP_SAME, bor, x | y)
ELEM_INT_TYPES(LOOP_SAME, bxor, x ^ y)
static const elem_run_fn band_tab[ML_DTYPE_COUNT] = {ELEM_INT_TYPES(ELEM_ENTRY, band, _)};
static const elem_run_fn bor_tab[ML_DTYPE_COUNT] = {ELEM_INT_TYPES(ELEM_ENTRY, bor, _)};
static const elem_run_fn bxor_tab[ML_DTYPE_COUNT] = {ELEM_INT_TYPES(ELEM_ENTRY, bxor, _)};

/* ---- logic (bool bytes may hold any non-zero value from hostile input) ---- */
BIN_LOOP(land_b8, uint8_t, uint8_t, (x != 0) & (y != 0))
BIN_LOOP(lor_b8, uint8_t, uint8_t, (x != 0) | (y != 0))
BIN_LOOP(lxor_b8, uint8_t, uint8_t, (x != 0) ^ (y != 0))
static const elem_run_fn land_tab[ML_DTYPE_COUNT] = {[ML_BOOL] = land_b8};
static const elem_run_fn lor_tab[ML_DTYPE_COUNT] = {[ML_BOOL] = lor_b8};
static const elem_run_fn lxor_tab[ML_DTYPE_COUNT] = {[ML_BOOL] = lxor_b8};

/* ---- comparison ---- */
ELEM_NUM_TYPES(LOOP_BOOL, eq, x == y)
BIN_LOOP(eq_b8, uint8_t, uint8_t, (x != 0) == (y != 0))
ELEM_NUM_TYPES(LOOP_BOOL, lt, x < y)
ELEM_NUM_TYPES(LOOP_BOOL, le, x <= y)
ELEM_NUM_TYPES(LOOP_BOOL, gt, x > y)
ELEM_NUM_TYPES(LOOP_BOOL, ge, x >= y)
static const elem_run_fn eq_tab[ML_DTYPE_COUNT] = {ELEM_NUM_TYPES(ELEM_ENTRY, eq, _)[ML_BOOL] =
                                                       eq_b8};
static const elem_run_fn lt_tab[ML_DTYPE_COUNT] = {ELEM_NUM_TYPES(ELEM_ENTRY, lt, _)};
static const elem_run_fn le_tab[ML_DTYPE_COUNT] = {ELEM_NUM_TYPES(ELEM_ENTRY, le, _)};
static const elem_run_fn gt_tab[ML_DTYPE_COUNT] = {ELEM_NUM_TYPES(ELEM_ENTRY, gt, _)};
static const elem_run_fn ge_tab[ML_DTYPE_COUNT] = {ELEM_NUM_TYPES(ELEM_ENTRY, ge, _)};

/* ---- Max / Min: NaN propagates, like numpy.maximum ---- */
ELEM_FLOAT_TYPES(LOOP_SAME, maxf, (isnan(x) || x > y) ? x : y)
ELEM_FLOAT_TYPES(LOOP_SAME, minf, (isnan(x) || x < y) ? x : y)
ELEM_INT_TYPES(LOOP_SAME, maxi, x > y ? x : y)
ELEM_INT_TYPES(LOOP_SAME, mini, x < y ? x : y)
static ARITH_TAB(max_tab, maxf, maxi);
static ARITH_TAB(min_tab, minf, mini);
static const elem_run_fn sumf_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(ELEM_ENTRY, addf, _)};

/* ---- Pow: base and exponent may have different types; the output has the
 * base's type. float^float is the fast path; the rest go through double, with
 * exact integer exponentiation when both are integers. ---- */
BIN_LOOP(powf_f32, float, float, powf(x, y))
BIN_LOOP(powf_f64, double, double, pow(x, y))

typedef struct pow_arg {
    ml_dtype a, b;
} pow_arg;

static int64_t ipow(int64_t base, int64_t e) {
    if (e < 0) return base == 1 ? 1 : (base == -1 ? ((e & 1) ? -1 : 1) : 0);
    uint64_t r = 1, b = (uint64_t)base;
    while (e) {
        if (e & 1) r *= b;
        b *= b;
        e >>= 1;
    }
    return (int64_t)r;
}

static void pow_generic(void *arg, const void *const *in, const int64_t *st, void *out, int64_t n) {
    const pow_arg *p = arg;
    bool ints = ml_dtype_is_integer(p->a) && ml_dtype_is_integer(p->b);
    for (int64_t i = 0; i < n; i++) {
        size_t ia = (size_t)(i * st[0]), ib = (size_t)(i * st[1]);
        if (ints)
            elem_store_i64(p->a, out, (size_t)i,
                           ipow(elem_load_i64(p->a, in[0], ia), elem_load_i64(p->b, in[1], ib)));
        else
            elem_store_f64(p->a, out, (size_t)i,
                           pow(elem_load_f64(p->a, in[0], ia), elem_load_f64(p->b, in[1], ib)));
    }
}

/* x ^ c for a scalar exponent: the exponents models actually use
 * (LayerNorm decompositions square, roots) become plain arithmetic. */
#define POWC_LOOP(NAME, EXPR, T, SUF, DT)                                                          \
    static void NAME##_##SUF(void *arg, const void *in, void *out, size_t n) {                     \
        (void)arg;                                                                                 \
        const T *a = in;                                                                           \
        T *o = out;                                                                                \
        for (size_t i = 0; i < n; i++) {                                                           \
            T x = a[i];                                                                            \
            o[i] = (EXPR);                                                                         \
        }                                                                                          \
    }
ELEM_FLOAT_TYPES(POWC_LOOP, pow_sq, x *x)
ELEM_FLOAT_TYPES(POWC_LOOP, pow_cube, x *x *x)
ELEM_FLOAT_TYPES(POWC_LOOP, pow_inv, 1 / x)
ELEM_FLOAT_TYPES(POWC_LOOP, pow_one, x)
POWC_LOOP(pow_sqrt, x == -INFINITY ? INFINITY : sqrtf(x) + 0, float, f32, ML_FLOAT)
POWC_LOOP(pow_sqrt, x == -INFINITY ? INFINITY : sqrt(x) + 0, double, f64, ML_DOUBLE)
static const elem_map_fn pow_sq_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(ELEM_ENTRY, pow_sq, _)};
static const elem_map_fn pow_cube_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(ELEM_ENTRY, pow_cube, _)};
static const elem_map_fn pow_inv_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(ELEM_ENTRY, pow_inv, _)};
static const elem_map_fn pow_one_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(ELEM_ENTRY, pow_one, _)};
static const elem_map_fn pow_sqrt_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(ELEM_ENTRY, pow_sqrt, _)};

/* The table for x ^ c, or NULL when c is not special. (pow(x, 0.5) differs
 * from sqrt only at -inf and -0, handled in the loop: +inf and +0.) */
static const elem_map_fn *pow_const_tab(double c) {
    if (c == 2) return pow_sq_tab;
    if (c == 3) return pow_cube_tab;
    if (c == -1) return pow_inv_tab;
    if (c == 1) return pow_one_tab;
    if (c == 0.5) return pow_sqrt_tab;
    return NULL;
}

ml_status ew_pow(ml_kernel_ctx *ctx) {
    const ml_tensor *a, *b;
    ML_TRY(ml_require_input(ctx, 0, &a));
    ML_TRY(ml_require_input(ctx, 1, &b));
    bool a_float = a->dtype == ML_FLOAT || a->dtype == ML_DOUBLE || elem_is_half(a->dtype);
    if (a_float && ml_tensor_numel(b) == 1 && b->rank <= a->rank &&
        (ml_dtype_is_float(b->dtype) || ml_dtype_is_integer(b->dtype))) {
        double c = elem_load_f64(b->dtype, b->data, 0);
        const elem_map_fn *tab = pow_const_tab(c);
        if (tab) {
            return elem_unary_tensor(ctx, a, tab, ML_UNDEFINED, NULL);
        }
    }
    if (a->dtype == b->dtype && a_float) {
        static const elem_run_fn tab[ML_DTYPE_COUNT] = {
            [ML_FLOAT] = powf_f32, [ML_DOUBLE] = powf_f64};
        return elem_binary(ctx, tab, ML_UNDEFINED, NULL);
    }
    bool ok_a = ml_dtype_is_float(a->dtype) || ml_dtype_is_integer(a->dtype);
    bool ok_b = ml_dtype_is_float(b->dtype) || ml_dtype_is_integer(b->dtype);
    if (!ok_a || !ok_b)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "base and exponent must be numeric, got %s and %s",
                             ml_dtype_name(a->dtype), ml_dtype_name(b->dtype));
    elem_bcast bc;
    const ml_tensor *ts[2] = {a, b};
    ML_TRY(elem_bcast_tensors(ctx->node, 2, ts, &bc));
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, a->dtype, bc.out_rank, bc.out_dims, &y));
    pow_arg p = {a->dtype, b->dtype};
    const void *in[2] = {a->data, b->data};
    size_t isz[2] = {ml_dtype_size(a->dtype), ml_dtype_size(b->dtype)};
    elem_bcast_run(ctx->pool, &bc, in, isz, y->data, isz[0], pow_generic, &p);
    return ML_STATUS_OK;
}

/* ---- kernels ---- */
ml_status ew_add(ml_kernel_ctx *ctx) {
    return elem_binary(ctx, add_tab, 0, NULL);
}
ml_status ew_sub(ml_kernel_ctx *ctx) {
    return elem_binary(ctx, sub_tab, 0, NULL);
}
ml_status ew_mul(ml_kernel_ctx *ctx) {
    return elem_binary(ctx, mul_tab, 0, NULL);
}
ml_status ew_div(ml_kernel_ctx *ctx) {
    return elem_binary(ctx, div_tab, 0, NULL);
}
ml_status ew_mod(ml_kernel_ctx *ctx) {
    bool fm = ml_attr_int(ctx->node, "fmod", 0) != 0;
    return elem_binary(ctx, fm ? cmod_tab : pymod_tab, 0, NULL);
}
ml_status ew_bitshift(ml_kernel_ctx *ctx) {
    const char *dir = ml_attr_string(ctx->node, "direction", "");
    if (strcmp(dir, "LEFT") == 0) return elem_binary(ctx, shl_tab, 0, NULL);
    if (strcmp(dir, "RIGHT") == 0) return elem_binary(ctx, shr_tab, 0, NULL);
    return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                         "direction must be \"LEFT\" or \"RIGHT\", got \"%s\"", dir);
}
ml_status ew_and(ml_kernel_ctx *ctx) {
    return elem_binary(ctx, land_tab, 0, NULL);
}
ml_status ew_or(ml_kernel_ctx *ctx) {
    return elem_binary(ctx, lor_tab, 0, NULL);
}
ml_status ew_xor(ml_kernel_ctx *ctx) {
    return elem_binary(ctx, lxor_tab, 0, NULL);
}
ml_status ew_band(ml_kernel_ctx *ctx) {
    return elem_binary(ctx, band_tab, 0, NULL);
}
ml_status ew_bor(ml_kernel_ctx *ctx) {
    return elem_binary(ctx, bor_tab, 0, NULL);
}
ml_status ew_bxor(ml_kernel_ctx *ctx) {
    return elem_binary(ctx, bxor_tab, 0, NULL);
}
ml_status ew_eq(ml_kernel_ctx *ctx) {
    return elem_binary(ctx, eq_tab, ML_BOOL, NULL);
}
ml_status ew_lt(ml_kernel_ctx *ctx) {
    return elem_binary(ctx, lt_tab, ML_BOOL, NULL);
}
ml_status ew_le(ml_kernel_ctx *ctx) {
    return elem_binary(ctx, le_tab, ML_BOOL, NULL);
}
ml_status ew_gt(ml_kernel_ctx *ctx) {
    return elem_binary(ctx, gt_tab, ML_BOOL, NULL);
}
ml_status ew_ge(ml_kernel_ctx *ctx) {
    return elem_binary(ctx, ge_tab, ML_BOOL, NULL);
}
ml_status ew_max(ml_kernel_ctx *ctx) {
    return elem_variadic(ctx, max_tab, 1.0);
}
ml_status ew_min(ml_kernel_ctx *ctx) {
    return elem_variadic(ctx, min_tab, 1.0);
}
ml_status ew_sum(ml_kernel_ctx *ctx) {
    return elem_variadic(ctx, add_tab, 1.0);
}
ml_status ew_mean(ml_kernel_ctx *ctx) {
    if (ctx->n_inputs == 0)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "needs at least 1 input");
    return elem_variadic(ctx, sumf_tab, 1.0 / (double)ctx->n_inputs);
}
