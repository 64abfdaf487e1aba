/* ArgMax / ArgMin along one axis (keepdims, select_last_index). Ties pick
 * the first index unless select_last_index; NaN counts as the extreme. */
#include "ops/elementwise_opt.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/elementwise_types.h"
#include "ops/reduce_internal.h"

typedef struct arg_job {
    const void *x;
    int64_t *y;
    size_t R, inner;
    bool is_max, last;
    atomic_int *failed; /* set when a worker could not allocate scratch */
} arg_job;

/* Rows of the reduced axis are visited in order, each updating the running
 * best of all `inner` positions, so memory is read contiguously. EXPR is the
 * NaN test of the type (NaN wins; the first NaN, or the last with `last`). */
#define ARG_LOOP(NAME, EXPR, T, SUF, DT)                                                           \
    static void NAME##_##SUF(void *p, size_t ob, size_t oe) {                                      \
        const arg_job *j = p;                                                                      \
        size_t R = j->R, in = j->inner;                                                            \
        T *best = malloc((in ? in : 1) * sizeof(T));                                               \
        if (!best) {                                                                               \
            atomic_store(j->failed, 1);                                                            \
            return;                                                                                \
        }                                                                                          \
        for (size_t o = ob; o < oe; o++) {                                                         \
            const T *xs = (const T *)j->x + o * R * in;                                            \
            int64_t *yi = j->y + o * in;                                                           \
            for (size_t k = 0; k < in; k++) best[k] = xs[k], yi[k] = 0;                            \
            for (size_t r = 1; r < R; r++) {                                                       \
                const T *xr = xs + r * in;                                                         \
                for (size_t k = 0; k < in; k++) {                                                  \
                    T v = xr[k], b = best[k];                                                      \
                    bool better;                                                                   \
                    if (EXPR(b))                                                                   \
                        better = j->last && EXPR(v);                                               \
                    else if (EXPR(v))                                                              \
                        better = true;                                                             \
                    else if (j->is_max)                                                            \
                        better = v > b || (j->last && v == b);                                     \
                    else                                                                           \
                        better = v < b || (j->last && v == b);                                     \
                    if (better) best[k] = v, yi[k] = (int64_t)r;                                   \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        free(best);                                                                                \
    }
#define NOT_NAN(v) 0
ELEM_FLOAT_TYPES(ARG_LOOP, argf, isnan)
ELEM_INT_TYPES(ARG_LOOP, argi, NOT_NAN)
ELEM_BOOL_TYPE(ARG_LOOP, argi, NOT_NAN)
static const ml_range_fn arg_tab[ML_DTYPE_COUNT] = {ELEM_FLOAT_TYPES(
    ELEM_ENTRY, argf, _) ELEM_INT_TYPES(ELEM_ENTRY, argi, _) ELEM_BOOL_TYPE(ELEM_ENTRY, argi, _)};

/* float32 rows (inner == 1, first index): eight vector lanes each track
 * their best value and its index; lanes and the tail merge with the same
 * rule as the scalar loop (NaN wins, ties keep the lower index). */
static inline bool arg_better(float v, int64_t vi, float b, int64_t bi, bool is_max) {
    if (b != b) return v != v && vi < bi;
    if (v != v) return true;
    if (v == b) return vi < bi;
    return is_max ? v > b : v < b;
}

static int64_t arg_row_f32(const float *x, size_t n, bool is_max) {
    float best = x[0];
    int64_t bi = 0;
    size_t i = 1;
    if (n >= 16 && n < INT32_MAX) {
        red_v4sf b0, b1;
        memcpy(&b0, x, sizeof b0);
        memcpy(&b1, x + 4, sizeof b1);
        red_v4si i0 = {0, 1, 2, 3}, i1 = {4, 5, 6, 7}, c0 = {8, 9, 10, 11}, c1 = {12, 13, 14, 15};
        const red_v4si eight = {8, 8, 8, 8};
        for (i = 8; i + 8 <= n; i += 8) {
            red_v4sf a0, a1;
            memcpy(&a0, x + i, sizeof a0);
            memcpy(&a1, x + i + 4, sizeof a1);
            red_v4si t0 = (is_max ? a0 > b0 : a0 < b0) | ((a0 != a0) & (b0 == b0));
            red_v4si t1 = (is_max ? a1 > b1 : a1 < b1) | ((a1 != a1) & (b1 == b1));
            b0 = (red_v4sf)(((red_v4si)a0 & t0) | ((red_v4si)b0 & ~t0));
            b1 = (red_v4sf)(((red_v4si)a1 & t1) | ((red_v4si)b1 & ~t1));
            i0 = (c0 & t0) | (i0 & ~t0);
            i1 = (c1 & t1) | (i1 & ~t1);
            c0 += eight;
            c1 += eight;
        }
        best = b0[0];
        bi = i0[0];
        for (int k = 1; k < 8; k++) {
            float v = k < 4 ? b0[k] : b1[k - 4];
            int64_t vi = k < 4 ? i0[k] : i1[k - 4];
            if (arg_better(v, vi, best, bi, is_max)) best = v, bi = vi;
        }
    }
    for (; i < n; i++)
        if (arg_better(x[i], (int64_t)i, best, bi, is_max)) best = x[i], bi = (int64_t)i;
    return bi;
}

static void arg_rows_f32(void *p, size_t ob, size_t oe) {
    const arg_job *j = p;
    for (size_t o = ob; o < oe; o++)
        j->y[o] = arg_row_f32((const float *)j->x + o * j->R, j->R, j->is_max);
}

static ml_status run_arg(ml_kernel_ctx *ctx, bool is_max) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    int axis;
    ML_TRY(ml_normalize_axis(ctx->node, ml_attr_int(ctx->node, "axis", 0), x->rank, &axis));
    bool keep = ml_attr_int(ctx->node, "keepdims", 1) != 0;
    bool last = ctx->node->opset >= 12 && ml_attr_int(ctx->node, "select_last_index", 0) != 0;
    ml_tensor *fx = NULL;
    const ml_tensor *src = x;
    if (elem_is_half(x->dtype)) {
        ML_TRY(elem_half_tensor_to_float(x, &fx));
        src = fx;
    }
    ml_range_fn fn = src->dtype > 0 && src->dtype < ML_DTYPE_COUNT ? arg_tab[src->dtype] : NULL;
    ml_status st = ML_STATUS_OK;
    red_split s = red_split_axis(src, axis);
    if (x->rank == 0) s.R = 1;
    if (!fn)
        st = ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "input type %s is not supported",
                           ml_dtype_name(x->dtype));
    else if (s.R == 0 && s.outer * s.inner > 0)
        st = ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                           "cannot take the arg%s of an empty axis %d", is_max ? "max" : "min",
                           axis);
    if (!st) {
        int orank = 0;
        int64_t odims[ML_MAX_RANK];
        for (int d = 0; d < x->rank; d++) {
            if (d != axis)
                odims[orank++] = x->dims[d];
            else if (keep)
                odims[orank++] = 1;
        }
        ml_tensor *y;
        st = ml_output_tensor(ctx, 0, ML_INT64, orank, odims, &y);
        if (!st) {
            atomic_int failed = 0;
            arg_job j = {src->data, y->data, s.R, s.inner, is_max, last, &failed};
            if (src->dtype == ML_FLOAT && s.inner == 1 && !last && s.R > 0) fn = arg_rows_f32;
            size_t per = s.R * s.inner + 1;
            ml_parallel_for(ctx->pool, s.outer, per >= ELEM_PAR_MIN ? 1 : ELEM_PAR_MIN / per, fn,
                            &j);
            if (atomic_load(&failed))
                st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory in arg reduction");
        }
    }
    ml_tensor_free(fx);
    return st;
}

ml_status red_run_argmax(ml_kernel_ctx *ctx) {
    return run_arg(ctx, true);
}
ml_status red_run_argmin(ml_kernel_ctx *ctx) {
    return run_arg(ctx, false);
}
