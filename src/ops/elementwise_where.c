/* Where(condition, X, Y): three-way broadcast select. Numeric types are
 * selected by element width; strings are copied element by element. */
#include "ops/elementwise_opt.h"

#include <string.h>

#include "ops/elem_util.h"
#include "ops/elementwise_internal.h"

/* The all-contiguous case and the masked-fill cases (one side a scalar, as
 * in attention masks) get plain loops the compiler vectorises; anything
 * else indexes with the 0/1 strides. */
#define WHERE_LOOP(FN, T)                                                                          \
    static void FN(void *arg, const void *const *in, const int64_t *st, void *out, int64_t n) {    \
        (void)arg;                                                                                 \
        const uint8_t *c = in[0];                                                                  \
        const T *x = in[1], *y = in[2];                                                            \
        T *o = out;                                                                                \
        if (st[0] && st[1] && st[2]) {                                                             \
            for (int64_t i = 0; i < n; i++) o[i] = c[i] ? x[i] : y[i];                             \
        } else if (st[0] && st[1]) {                                                               \
            const T yv = y[0];                                                                     \
            for (int64_t i = 0; i < n; i++) o[i] = c[i] ? x[i] : yv;                               \
        } else if (st[0] && st[2]) {                                                               \
            const T xv = x[0];                                                                     \
            for (int64_t i = 0; i < n; i++) o[i] = c[i] ? xv : y[i];                               \
        } else if (!st[0]) {                                                                       \
            const T *src = c[0] ? x : y;                                                           \
            int64_t ss = c[0] ? st[1] : st[2];                                                     \
            for (int64_t i = 0; i < n; i++) o[i] = src[i * ss];                                    \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) o[i] = c[i * st[0]] ? x[i * st[1]] : y[i * st[2]];     \
        }                                                                                          \
    }
WHERE_LOOP(where8, uint8_t)
WHERE_LOOP(where16, uint16_t)
WHERE_LOOP(where32, uint32_t)
WHERE_LOOP(where64, uint64_t)

typedef struct where_str {
    ml_tensor *out;
    ml_status st;
} where_str;

static void where_strings(void *arg, const void *const *in, const int64_t *st, void *out,
                          int64_t n) {
    where_str *w = arg;
    const uint8_t *c = in[0];
    const ml_str *x = in[1], *y = in[2];
    size_t base = (size_t)((ml_str *)out - (ml_str *)w->out->data);
    for (int64_t i = 0; i < n && !w->st; i++) {
        const ml_str *s = c[i * st[0]] ? &x[i * st[1]] : &y[i * st[2]];
        w->st = ml_tensor_set_string(w->out, base + (size_t)i, s->data, s->len);
    }
}

ml_status ew_where(ml_kernel_ctx *ctx) {
    const ml_tensor *c, *x, *y;
    ML_TRY(ml_require_input(ctx, 0, &c));
    ML_TRY(ml_require_input(ctx, 1, &x));
    ML_TRY(ml_require_input(ctx, 2, &y));
    if (c->dtype != ML_BOOL)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "condition must be bool, got %s",
                             ml_dtype_name(c->dtype));
    if (x->dtype != y->dtype)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "X and Y must have the same type, got %s and %s",
                             ml_dtype_name(x->dtype), ml_dtype_name(y->dtype));
    const ml_tensor *ts[3] = {c, x, y};
    elem_bcast bc;
    ML_TRY(elem_bcast_tensors(ctx->node, 3, ts, &bc));
    ml_tensor *out;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, bc.out_rank, bc.out_dims, &out));
    size_t esz = ml_dtype_size(x->dtype);
    const void *in[3] = {c->data, x->data, y->data};
    size_t isz[3] = {1, esz, esz};
    if (x->dtype == ML_STRING) {
        where_str w = {out, NULL};
        elem_bcast_run(NULL, &bc, in, isz, out->data, esz, where_strings, &w);
        return w.st;
    }
    elem_run_fn fn = esz == 1   ? where8
                     : esz == 2 ? where16
                     : esz == 4 ? where32
                     : esz == 8 ? where64
                                : NULL;
    if (!fn)
        return ml_node_error(ctx->node, ML_ERR_UNSUPPORTED, "type %s is not supported",
                             ml_dtype_name(x->dtype));
    elem_bcast_run(ctx->pool, &bc, in, isz, out->data, esz, fn, NULL);
    return ML_STATUS_OK;
}
