/* CumSum(x, axis) with exclusive and reverse. Integer sums wrap (computed
 * in unsigned arithmetic); half types go through float. */
#include "ops/elementwise_opt.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/elementwise_types.h"
#include "ops/reduce_internal.h"

typedef struct cs_job {
    const void *x;
    void *y;
    size_t R, inner;
    bool exclusive, reverse;
    atomic_int *failed; /* set when a worker could not allocate scratch */
} cs_job;

/* Running sums over whole inner rows (contiguous, vectorisable). ACC is the
 * accumulation type: T for floats, uint64_t for integers. */
#define CS_LOOP(NAME, ACC, T, SUF, DT)                                                             \
    static void NAME##_##SUF(void *p, size_t ob, size_t oe) {                                      \
        const cs_job *j = p;                                                                       \
        size_t R = j->R, in = j->inner;                                                            \
        ACC *acc = malloc((in ? in : 1) * sizeof(ACC));                                            \
        if (!acc) {                                                                                \
            atomic_store(j->failed, 1);                                                            \
            return;                                                                                \
        }                                                                                          \
        for (size_t o = ob; o < oe; o++) {                                                         \
            const T *xs = (const T *)j->x + o * R * in;                                            \
            T *ys = (T *)j->y + o * R * in;                                                        \
            for (size_t k = 0; k < in; k++) acc[k] = 0;                                            \
            for (size_t step = 0; step < R; step++) {                                              \
                size_t r = j->reverse ? R - 1 - step : step;                                       \
                const T *xr = xs + r * in;                                                         \
                T *yr = ys + r * in;                                                               \
                if (j->exclusive)                                                                  \
                    for (size_t k = 0; k < in; k++) {                                              \
                        yr[k] = (T)acc[k];                                                         \
                        acc[k] += (ACC)xr[k];                                                      \
                    }                                                                              \
                else                                                                               \
                    for (size_t k = 0; k < in; k++) {                                              \
                        acc[k] += (ACC)xr[k];                                                      \
                        yr[k] = (T)acc[k];                                                         \
                    }                                                                              \
            }                                                                                      \
        }                                                                                          \
        free(acc);                                                                                 \
    }
#define CS_FLOAT(NAME, EXPR, T, SUF, DT) CS_LOOP(NAME, T, T, SUF, DT)
#define CS_INT(NAME, EXPR, T, SUF, DT) CS_LOOP(NAME, uint64_t, T, SUF, DT)
ELEM_FLOAT_TYPES(CS_FLOAT, cs, _)
ELEM_INT_TYPES(CS_INT, cs, _)
static const ml_range_fn cs_tab[ML_DTYPE_COUNT] = {ELEM_NUM_TYPES(ELEM_ENTRY, cs, _)};

ml_status red_run_cumsum(ml_kernel_ctx *ctx) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    int64_t axis_v;
    ML_TRY(elem_scalar_i64(ctx->node, ml_input(ctx, 1), "axis", &axis_v));
    int axis = 0;
    if (x->rank > 0) ML_TRY(ml_normalize_axis(ctx->node, axis_v, x->rank, &axis));
    ml_dtype dt = x->dtype;
    ml_dtype wdt = elem_is_half(dt) ? ML_FLOAT : dt;
    ml_range_fn fn = wdt > 0 && wdt < ML_DTYPE_COUNT ? cs_tab[wdt] : NULL;
    if (!fn)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "input type %s is not supported",
                             ml_dtype_name(dt));
    red_split s = x->rank ? red_split_axis(x, axis) : (red_split){1, 1, 1};
    ml_tensor *y;
    ML_TRY(elem_output_like(ctx, 0, dt, x, &y));
    ml_tensor *fx = NULL, *fy = NULL;
    ml_status st = ML_STATUS_OK;
    atomic_int failed = 0;
    cs_job j = {x->data,
                y->data,
                s.R,
                s.inner,
                ml_attr_int(ctx->node, "exclusive", 0) != 0,
                ml_attr_int(ctx->node, "reverse", 0) != 0,
                &failed};
    if (wdt != dt) {
        st = elem_half_tensor_to_float(x, &fx);
        if (!st) st = ml_tensor_create(ML_FLOAT, x->rank, x->dims, &fy);
        if (st) goto done;
        j.x = fx->data;
        j.y = fy->data;
    }
    size_t per = s.R * s.inner + 1;
    ml_parallel_for(ctx->pool, s.outer, per >= ELEM_PAR_MIN ? 1 : ELEM_PAR_MIN / per, fn, &j);
    if (atomic_load(&failed)) st = ml_error(ML_ERR_OUT_OF_MEMORY, "out of memory in CumSum");
    if (fy) elem_float_to_half(dt, fy->data, y->data, ml_tensor_numel(y));
done:
    ml_tensor_free(fx);
    ml_tensor_free(fy);
    return st;
}
