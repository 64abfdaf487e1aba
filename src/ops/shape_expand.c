/* Expand and Tile: both write out[o] = in[o mod in_dims] per axis (Expand
 * only ever repeats size-1 axes), so one row-copy routine serves both. */
#include "ops/shape_internal.h"
#include "ops/shape_util.h"

typedef struct {
    int rank;
    int64_t in_dims[ML_MAX_RANK], out_dims[ML_MAX_RANK], in_strides[ML_MAX_RANK];
    const char *src;
    char *dst;
    size_t esz;
} tile_job;

static void tile_rows(void *arg, size_t begin, size_t end) {
    const tile_job *j = arg;
    int r = j->rank;
    size_t esz = j->esz;
    size_t olast = (size_t)j->out_dims[r - 1], ilast = (size_t)j->in_dims[r - 1];
    int64_t idx[ML_MAX_RANK];
    size_t rem = begin;
    for (int k = r - 2; k >= 0; k--) {
        idx[k] = (int64_t)(rem % (size_t)j->out_dims[k]);
        rem /= (size_t)j->out_dims[k];
    }
    for (size_t row = begin; row < end; row++) {
        int64_t off = 0;
        for (int k = 0; k < r - 1; k++) off += (idx[k] % j->in_dims[k]) * j->in_strides[k];
        const char *s = j->src + (size_t)off * esz;
        char *d = j->dst + row * olast * esz;
        if (ilast == 1)
            shape_fill(d, s, olast, esz);
        else
            for (size_t o = 0; o < olast; o += ilast) memcpy(d + o * esz, s, ilast * esz);
        for (int k = r - 2; k >= 0; k--) {
            if (++idx[k] < j->out_dims[k]) break;
            idx[k] = 0;
        }
    }
}

/* x (rank <= r, leading axes treated as 1) repeated into output 0 of shape
 * out_dims; every out dim is a multiple of the matching in dim. */
static ml_status tile_to_output(ml_kernel_ctx *ctx, const ml_tensor *x, int r,
                                const int64_t *out_dims) {
    /* nothing repeated (Expand(x, Shape(x)) is common in exported graphs) */
    if (ml_shape_equal(x->rank, x->dims, r, out_dims))
        return ml_output_view(ctx, 0, x, r, out_dims);
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, r, out_dims, &y));
    size_t total = ml_tensor_numel(y);
    if (total == 0) return ML_STATUS_OK;
    tile_job j = {.rank = r, .src = x->data, .esz = ml_dtype_size(x->dtype)};
    for (int k = 0; k < r; k++) {
        int xi = k - (r - x->rank);
        j.in_dims[k] = xi >= 0 ? x->dims[xi] : 1;
        j.out_dims[k] = out_dims[k];
    }
    shape_strides(r, j.in_dims, j.in_strides);
    void *dst;
    ML_TRY(shape_out_begin(ctx->node, y, &dst));
    j.dst = dst;
    if (r == 0) {
        memcpy(dst, x->data, j.esz);
    } else {
        size_t rows = total / (size_t)out_dims[r - 1];
        ml_parallel_for(ctx->pool, rows, 16384 / ((size_t)out_dims[r - 1] * j.esz + 1) + 1,
                        tile_rows, &j);
    }
    return shape_out_end(y, dst, ML_STATUS_OK);
}

ml_status ml_shape_expand_run(ml_kernel_ctx *ctx) {
    const ml_tensor *x, *s;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &s));
    int64_t shape[ML_MAX_RANK], dims[ML_MAX_RANK];
    size_t n;
    ML_TRY(shape_read_ints(ctx->node, s, "shape", ML_MAX_RANK, shape, &n));
    for (size_t i = 0; i < n; i++)
        if (shape[i] < 0)
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                                 "shape[%zu] = %lld is negative", i, (long long)shape[i]);
    int r;
    ml_status st = ml_shape_broadcast(x->rank, x->dims, (int)n, shape, &r, dims);
    if (st) return ml_status_wrap(st, "Expand node '%s'", ctx->node->name);
    /* a 0 in the target only broadcasts against an input dim of 1 or 0 */
    for (int k = 0; k < r; k++) {
        int xi = k - (r - x->rank);
        if (xi >= 0 && x->dims[xi] == 0) dims[k] = 0;
    }
    return tile_to_output(ctx, x, r, dims);
}

ml_status ml_shape_tile_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *rep;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &rep));
    int64_t reps[ML_MAX_RANK], dims[ML_MAX_RANK];
    size_t n;
    if (node->opset < 6) {
        /* Tile-1: a scalar count 'tiles' along the scalar 'axis' input */
        const ml_tensor *ax;
        ML_TRY(ml_require_input(ctx, 2, &ax));
        int64_t tiles, axis;
        int a;
        ML_TRY(shape_read_scalar_int(node, rep, "tiles", &tiles));
        ML_TRY(shape_read_scalar_int(node, ax, "axis", &axis));
        ML_TRY(ml_normalize_axis(node, axis, x->rank, &a));
        n = (size_t)x->rank;
        for (size_t i = 0; i < n; i++) reps[i] = 1;
        reps[a] = tiles;
    } else {
        ML_TRY(shape_read_ints(node, rep, "repeats", ML_MAX_RANK, reps, &n));
    }
    if (n != (size_t)x->rank)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "repeats has %zu values but the input has rank %d", n, x->rank);
    for (int k = 0; k < x->rank; k++) {
        if (reps[k] < 0 || (x->dims[k] > 0 && reps[k] > ((int64_t)1 << 40) / x->dims[k]))
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "repeats[%d] = %lld is invalid", k,
                                 (long long)reps[k]);
        dims[k] = x->dims[k] * reps[k];
    }
    return tile_to_output(ctx, x, x->rank, dims);
}
