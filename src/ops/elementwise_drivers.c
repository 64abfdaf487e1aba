/* Table-driven runners for unary, binary and variadic elementwise ops
 * (declared in elem_util.h). Typed loops live in the op files; this file
 * validates dtypes and shapes, allocates outputs and handles half types. */
#include "ops/elementwise_opt.h"

#include <string.h>

#include "ops/elem_util.h"

#define HALF_CHUNK 512

typedef struct map_job {
    elem_map_fn fn;
    void *arg;
    const char *in;
    char *out;
    size_t isz, osz;
    ml_dtype in_dt, out_dt;
    bool half;
} map_job;

static void map_range(void *p, size_t b, size_t e) {
    const map_job *j = p;
    if (!j->half) {
        j->fn(j->arg, j->in + b * j->isz, j->out + b * j->osz, e - b);
        return;
    }
    float tin[HALF_CHUNK], tout[HALF_CHUNK];
    for (size_t s = b; s < e; s += HALF_CHUNK) {
        size_t n = e - s < HALF_CHUNK ? e - s : HALF_CHUNK;
        elem_half_to_float(j->in_dt, (const uint16_t *)(j->in + s * j->isz), tin, n);
        if (elem_is_half(j->out_dt)) {
            j->fn(j->arg, tin, tout, n);
            elem_float_to_half(j->out_dt, tout, (uint16_t *)(j->out + s * j->osz), n);
        } else {
            j->fn(j->arg, tin, j->out + s * j->osz, n);
        }
    }
}

static ml_status lookup(const ml_node *node, const void *const *tab, ml_dtype dt, bool *half,
                        const void **fn) {
    *half = false;
    *fn = NULL;
    if (dt > ML_UNDEFINED && dt < ML_DTYPE_COUNT) *fn = tab[dt];
    if (!*fn && elem_is_half(dt) && tab[ML_FLOAT]) {
        *half = true;
        *fn = tab[ML_FLOAT];
    }
    if (!*fn)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "input type %s is not supported by this operator", ml_dtype_name(dt));
    return ML_STATUS_OK;
}

ml_status elem_unary_tensor(ml_kernel_ctx *ctx, const ml_tensor *x, const elem_map_fn *tab,
                            ml_dtype out_dt, void *arg) {
    return elem_unary_chunked(ctx, x, tab, out_dt, arg, ELEM_PAR_MIN);
}

ml_status elem_unary_heavy(ml_kernel_ctx *ctx, const elem_map_fn *tab, void *arg) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    return elem_unary_chunked(ctx, x, tab, ML_UNDEFINED, arg, ELEM_PAR_MIN_HEAVY);
}

ml_status elem_unary_chunked(ml_kernel_ctx *ctx, const ml_tensor *x, const elem_map_fn *tab,
                             ml_dtype out_dt, void *arg, size_t min_chunk) {
    bool half;
    const void *fn;
    ML_TRY(lookup(ctx->node, (const void *const *)tab, x->dtype, &half, &fn));
    if (out_dt == ML_UNDEFINED) out_dt = x->dtype;
    ml_tensor *y;
    ML_TRY(elem_output_like(ctx, 0, out_dt, x, &y));
    map_job j = {.fn = (elem_map_fn)fn,
                 .arg = arg,
                 .in = x->data,
                 .out = y->data,
                 .isz = ml_dtype_size(x->dtype),
                 .osz = ml_dtype_size(out_dt),
                 .in_dt = x->dtype,
                 .out_dt = out_dt,
                 .half = half};
    ml_parallel_for(ctx->pool, ml_tensor_numel(x), min_chunk, map_range, &j);
    return ML_STATUS_OK;
}

ml_status elem_unary(ml_kernel_ctx *ctx, const elem_map_fn *tab, ml_dtype out_dt, void *arg) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    return elem_unary_tensor(ctx, x, tab, out_dt, arg);
}

/* Pre-opset-7 Add/Mul/...: with broadcast=1, B's shape matches a contiguous
 * run of A's dims starting at `axis` (default: aligned to the end). */
static ml_status legacy_b_dims(const ml_node *node, const ml_tensor *a, const ml_tensor *b,
                               int *rank, int64_t *dims) {
    *rank = b->rank;
    memcpy(dims, b->dims, sizeof(int64_t) * (size_t)b->rank);
    if (node->opset >= 7 || ml_attr_int(node, "broadcast", 0) == 0) return ML_STATUS_OK;
    const ml_attr *ax = ml_node_attr(node, "axis");
    if (!ax) return ML_STATUS_OK;
    int64_t axis = ax->i < 0 ? ax->i + a->rank : ax->i;
    if (axis < 0 || axis + b->rank > a->rank)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "legacy broadcast axis %lld does not fit B (rank %d) into A (rank %d)",
                             (long long)ax->i, b->rank, a->rank);
    *rank = a->rank;
    for (int d = 0; d < a->rank; d++)
        dims[d] = (d >= axis && d < axis + b->rank) ? b->dims[d - axis] : 1;
    return ML_STATUS_OK;
}

ml_status elem_binary(ml_kernel_ctx *ctx, const elem_run_fn *tab, ml_dtype out_dt, void *arg) {
    const ml_tensor *a, *b;
    ML_TRY(ml_require_input(ctx, 0, &a));
    ML_TRY(ml_require_input(ctx, 1, &b));
    return elem_binary_tensors(ctx, a, b, tab, out_dt, arg);
}

ml_status elem_binary_tensors(ml_kernel_ctx *ctx, const ml_tensor *a, const ml_tensor *b,
                              const elem_run_fn *tab, ml_dtype out_dt, void *arg) {
    if (a->dtype != b->dtype)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "inputs must have the same type, got %s and %s",
                             ml_dtype_name(a->dtype), ml_dtype_name(b->dtype));
    bool half;
    const void *fnp;
    ML_TRY(lookup(ctx->node, (const void *const *)tab, a->dtype, &half, &fnp));
    elem_run_fn fn = (elem_run_fn)fnp;
    if (out_dt == ML_UNDEFINED) out_dt = a->dtype;

    int rb;
    int64_t bdims[ML_MAX_RANK];
    ML_TRY(legacy_b_dims(ctx->node, a, b, &rb, bdims));
    int ranks[2] = {a->rank, rb};
    const int64_t *dims[2] = {a->dims, bdims};
    elem_bcast bc;
    ML_TRY(elem_bcast_init(ctx->node, 2, ranks, dims, &bc));
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, out_dt, bc.out_rank, bc.out_dims, &y));

    if (!half) {
        const void *in[2] = {a->data, b->data};
        size_t isz[2] = {ml_dtype_size(a->dtype), ml_dtype_size(b->dtype)};
        elem_bcast_run(ctx->pool, &bc, in, isz, y->data, ml_dtype_size(out_dt), fn, arg);
        return ML_STATUS_OK;
    }
    ml_tensor *fa = NULL, *fb = NULL, *fy = NULL;
    ml_status st = elem_half_tensor_to_float(a, &fa);
    if (!st) st = elem_half_tensor_to_float(b, &fb);
    bool half_out = elem_is_half(out_dt);
    if (!st && half_out) st = ml_tensor_create(ML_FLOAT, y->rank, y->dims, &fy);
    if (!st) {
        const void *in[2] = {fa->data, fb->data};
        size_t isz[2] = {sizeof(float), sizeof(float)};
        void *out = half_out ? fy->data : y->data;
        elem_bcast_run(ctx->pool, &bc, in, isz, out,
                       half_out ? sizeof(float) : ml_dtype_size(out_dt), fn, arg);
        if (half_out) elem_float_to_half(out_dt, fy->data, y->data, bc.numel);
    }
    ml_tensor_free(fa);
    ml_tensor_free(fb);
    ml_tensor_free(fy);
    return st;
}

static void copy_run(void *arg, const void *const *in, const int64_t *st, void *out, int64_t n) {
    size_t sz = *(const size_t *)arg;
    if (st[0])
        memcpy(out, in[0], (size_t)n * sz);
    else
        for (int64_t i = 0; i < n; i++) memcpy((char *)out + (size_t)i * sz, in[0], sz);
}

typedef struct scale_job {
    ml_dtype dt;
    void *data;
    double scale;
} scale_job;

static void scale_range(void *p, size_t b, size_t e) {
    const scale_job *j = p;
    if (j->dt == ML_DOUBLE) {
        double *d = j->data;
        for (size_t i = b; i < e; i++) d[i] *= j->scale;
    } else if (j->dt == ML_FLOAT) {
        float *d = j->data, s = (float)j->scale;
        for (size_t i = b; i < e; i++) d[i] *= s;
    } else {
        for (size_t i = b; i < e; i++)
            elem_store_f64(j->dt, j->data, i, elem_load_f64(j->dt, j->data, i) * j->scale);
    }
}

ml_status elem_variadic(ml_kernel_ctx *ctx, const elem_run_fn *tab, double scale) {
    size_t n = ctx->n_inputs;
    if (n == 0) return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "needs at least 1 input");
    const ml_tensor *x0;
    ML_TRY(ml_require_input(ctx, 0, &x0));
    ml_dtype dt = x0->dtype;
    int rank = x0->rank;
    int64_t dims[ML_MAX_RANK];
    memcpy(dims, x0->dims, sizeof(int64_t) * (size_t)rank);
    for (size_t i = 1; i < n; i++) {
        const ml_tensor *x;
        ML_TRY(ml_require_input(ctx, i, &x));
        if (x->dtype != dt)
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                                 "all inputs must have one type: input 0 is %s, input %zu is %s",
                                 ml_dtype_name(dt), i, ml_dtype_name(x->dtype));
        int r2;
        int64_t d2[ML_MAX_RANK];
        ml_status st = ml_shape_broadcast(rank, dims, x->rank, x->dims, &r2, d2);
        if (st)
            return ml_status_wrap(st, "%s node '%s': input %zu", ctx->node->op_type,
                                  ctx->node->name, i);
        rank = r2;
        memcpy(dims, d2, sizeof(int64_t) * (size_t)rank);
    }
    /* two inputs (the common case): one direct pass, no copy + in-place fold */
    if (n == 2 && scale == 1.0)
        return elem_binary_tensors(ctx, x0, ml_input(ctx, 1), tab, ML_UNDEFINED, NULL);
    bool half;
    const void *fnp;
    ML_TRY(lookup(ctx->node, (const void *const *)tab, dt, &half, &fnp));
    elem_run_fn fn = (elem_run_fn)fnp;
    ml_tensor *y, *work = NULL;
    ML_TRY(ml_output_tensor(ctx, 0, dt, rank, dims, &y));
    ml_status st = ML_STATUS_OK;
    ml_dtype wdt = half ? ML_FLOAT : dt;
    void *wdata = y->data;
    if (half) {
        ML_TRY(ml_tensor_create(ML_FLOAT, rank, dims, &work));
        wdata = work->data;
    }
    size_t wsz = ml_dtype_size(wdt);
    for (size_t i = 0; i < n && !st; i++) {
        const ml_tensor *x = ml_input(ctx, i);
        ml_tensor *fx = NULL;
        if (half) st = elem_half_tensor_to_float(x, &fx);
        if (st) break;
        const void *xdata = fx ? fx->data : x->data;
        elem_bcast bc;
        if (i == 0) {
            int ranks[2] = {rank, x->rank};
            const int64_t *ds[2] = {dims, x->dims};
            st = elem_bcast_init(ctx->node, 2, ranks, ds, &bc);
            if (!st) {
                /* broadcast-copy input 0 into the work buffer */
                bc.n_in = 1;
                for (int d = 0; d < bc.rank; d++) bc.strides[0][d] = bc.strides[1][d];
                const void *in[1] = {xdata};
                size_t isz[1] = {wsz};
                elem_bcast_run(ctx->pool, &bc, in, isz, wdata, wsz, copy_run, &wsz);
            }
        } else {
            int ranks[2] = {rank, x->rank};
            const int64_t *ds[2] = {dims, x->dims};
            st = elem_bcast_init(ctx->node, 2, ranks, ds, &bc);
            if (!st) {
                const void *in[2] = {wdata, xdata};
                size_t isz[2] = {wsz, wsz};
                elem_bcast_run(ctx->pool, &bc, in, isz, wdata, wsz, fn, NULL);
            }
        }
        ml_tensor_free(fx);
    }
    if (!st && scale != 1.0) {
        size_t numel = 0;
        ml_shape_numel(rank, dims, &numel);
        scale_job j = {wdt, wdata, scale};
        elem_parallel(ctx->pool, numel, scale_range, &j);
    }
    if (!st && half) elem_float_to_half(dt, work->data, y->data, ml_tensor_numel(y));
    ml_tensor_free(work);
    return st;
}
