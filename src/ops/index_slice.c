/* Slice (attribute form before opset 10, inputs after; negative steps and
 * clamping), Compress and ReverseSequence. */
#include <stdlib.h>

#include "ops/index_internal.h"
#include "ops/shape_util.h"

typedef struct {
    int rank;
    int64_t out_dims[ML_MAX_RANK], start[ML_MAX_RANK], step[ML_MAX_RANK], in_strides[ML_MAX_RANK];
    const char *src;
    char *dst;
    size_t esz;
} slice_job;

typedef struct {
    uint64_t a, b;
} slice_u128;

#define SLICE_STRIDED(T)                                                                           \
    do {                                                                                           \
        const T *s = (const T *)j->src + base;                                                     \
        T *dd = (T *)d;                                                                            \
        for (size_t o = 0; o < olast; o++) dd[o] = s[(int64_t)o * st];                             \
    } while (0)

static void slice_rows(void *arg, size_t begin, size_t end) {
    const slice_job *j = arg;
    int r = j->rank;
    size_t olast = (size_t)j->out_dims[r - 1], esz = j->esz;
    int64_t st = j->step[r - 1] * j->in_strides[r - 1];
    int64_t idx[ML_MAX_RANK];
    size_t rem = begin;
    for (int k = r - 2; k >= 0; k--) {
        idx[k] = (int64_t)(rem % (size_t)j->out_dims[k]);
        rem /= (size_t)j->out_dims[k];
    }
    for (size_t row = begin; row < end; row++) {
        int64_t base = j->start[r - 1] * j->in_strides[r - 1];
        for (int k = 0; k < r - 1; k++)
            base += (j->start[k] + idx[k] * j->step[k]) * j->in_strides[k];
        char *d = j->dst + row * olast * esz;
        if (st == 1) {
            memcpy(d, j->src + (size_t)base * esz, olast * esz);
        } else {
            switch (esz) {
            case 1:
                SLICE_STRIDED(uint8_t);
                break;
            case 2:
                SLICE_STRIDED(uint16_t);
                break;
            case 4:
                SLICE_STRIDED(uint32_t);
                break;
            case 8:
                SLICE_STRIDED(uint64_t);
                break;
            default:
                SLICE_STRIDED(slice_u128);
                break;
            }
        }
        for (int k = r - 2; k >= 0; k--) {
            if (++idx[k] < j->out_dims[k]) break;
            idx[k] = 0;
        }
    }
}

/* Reads starts/ends/axes/steps (attributes before opset 10). */
static ml_status slice_params(ml_kernel_ctx *ctx, int64_t *starts, int64_t *ends, int64_t *axes,
                              int64_t *steps, size_t *n, bool *has_axes) {
    const ml_node *node = ctx->node;
    size_t ns = 0, ne = 0, na = 0, np = 0;
    *has_axes = false;
    if (node->opset < 10) {
        const int64_t *s, *e, *a;
        ns = ml_attr_ints(node, "starts", &s);
        ne = ml_attr_ints(node, "ends", &e);
        na = ml_attr_ints(node, "axes", &a);
        if (ns > ML_MAX_RANK || ne > ML_MAX_RANK || na > ML_MAX_RANK)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "too many starts/ends/axes");
        if (ns) memcpy(starts, s, ns * sizeof *s);
        if (ne) memcpy(ends, e, ne * sizeof *e);
        if (na) memcpy(axes, a, na * sizeof *a);
        *has_axes = na > 0;
    } else {
        const ml_tensor *ts, *te, *ta = ml_input(ctx, 3), *tp = ml_input(ctx, 4);
        ML_TRY(ml_require_input(ctx, 1, &ts));
        ML_TRY(ml_require_input(ctx, 2, &te));
        ML_TRY(shape_read_ints(node, ts, "starts", ML_MAX_RANK, starts, &ns));
        ML_TRY(shape_read_ints(node, te, "ends", ML_MAX_RANK, ends, &ne));
        if (ta) {
            ML_TRY(shape_read_ints(node, ta, "axes", ML_MAX_RANK, axes, &na));
            *has_axes = true;
        }
        if (tp) ML_TRY(shape_read_ints(node, tp, "steps", ML_MAX_RANK, steps, &np));
    }
    if (ne != ns || (*has_axes && na != ns) || (np && np != ns))
        return ml_node_error(
            node, ML_ERR_INVALID_ARGUMENT,
            "starts (%zu), ends (%zu), axes (%zu) and steps (%zu) differ in length", ns, ne, na,
            np);
    if (!np)
        for (size_t i = 0; i < ns; i++) steps[i] = 1;
    *n = ns;
    return ML_STATUS_OK;
}

ml_status ml_index_slice_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    int64_t starts[ML_MAX_RANK], ends[ML_MAX_RANK], axes[ML_MAX_RANK], steps[ML_MAX_RANK];
    size_t n = 0;
    bool has_axes;
    ML_TRY(slice_params(ctx, starts, ends, axes, steps, &n, &has_axes));
    int r = x->rank;
    if (!has_axes) {
        if ((int)n > r)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%zu starts for rank %d", n, r);
        for (size_t i = 0; i < n; i++) axes[i] = (int64_t)i;
    }
    int ax[ML_MAX_RANK];
    ML_TRY(shape_normalize_axes(node, axes, n, r, ax));
    slice_job j = {.rank = r, .src = x->data, .esz = ml_dtype_size(x->dtype)};
    for (int k = 0; k < r; k++) {
        j.out_dims[k] = x->dims[k];
        j.start[k] = 0;
        j.step[k] = 1;
    }
    for (size_t i = 0; i < n; i++) {
        int k = ax[i];
        int64_t dim = x->dims[k], s = starts[i], e = ends[i], p = steps[i];
        if (p == 0) return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "steps[%zu] is 0", i);
        /* a step longer than the axis selects at most one element either way;
         * clamping keeps step * stride from overflowing */
        if (p > dim) p = dim > 0 ? dim : 1;
        if (p < -dim) p = dim > 0 ? -dim : -1;
        if (s < 0) s += dim;
        if (e < 0) e += dim;
        int64_t cnt;
        if (p > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            cnt = e > s ? (e - s - 1) / p + 1 : 0;
        } else {
            s = s < 0 ? 0 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            cnt = s > e ? (s - e - 1) / -p + 1 : 0;
        }
        if (dim == 0) cnt = 0;
        j.out_dims[k] = cnt;
        j.start[k] = cnt ? s : 0;
        j.step[k] = p;
    }
    bool whole = true;
    for (int k = 0; k < r; k++)
        whole &= j.out_dims[k] == x->dims[k] && (j.step[k] == 1 || x->dims[k] <= 1);
    if (whole) return ml_output_view(ctx, 0, x, r, x->dims);
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, r, j.out_dims, &y));
    size_t total = ml_tensor_numel(y);
    if (total == 0) return ML_STATUS_OK;
    void *dst;
    ML_TRY(shape_out_begin(node, y, &dst));
    if (r == 0) {
        memcpy(dst, x->data, j.esz);
    } else {
        j.dst = dst;
        shape_strides(r, x->dims, j.in_strides);
        size_t olast = (size_t)j.out_dims[r - 1];
        ml_parallel_for(ctx->pool, total / olast, 16384 / (olast * j.esz + 1) + 1, slice_rows, &j);
    }
    return shape_out_end(y, dst, ML_STATUS_OK);
}

ml_status ml_index_compress_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *cond;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &cond));
    if (cond->rank != 1 || cond->dtype != ML_BOOL)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "condition must be a 1-D bool tensor");
    const ml_attr *aa = ml_node_attr(node, "axis");
    int axis = -1;
    int64_t dim = (int64_t)ml_tensor_numel(x);
    if (aa) {
        ML_TRY(ml_normalize_axis(node, aa->i, x->rank, &axis));
        dim = x->dims[axis];
    }
    const uint8_t *c = cond->data;
    int64_t clen = cond->dims[0], kept = 0;
    for (int64_t i = 0; i < clen; i++) {
        if (!c[i]) continue;
        if (i >= dim)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "condition selects index %lld but the axis has %lld entries",
                                 (long long)i, (long long)dim);
        kept++;
    }
    int64_t dims[ML_MAX_RANK];
    int r;
    size_t outer = 1, inner = 1;
    if (axis < 0) {
        r = 1;
        dims[0] = kept;
    } else {
        r = x->rank;
        memcpy(dims, x->dims, sizeof(int64_t) * (size_t)r);
        dims[axis] = kept;
        outer = shape_prod(x->dims, 0, axis);
        inner = shape_prod(x->dims, axis + 1, r);
    }
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, r, dims, &y));
    if (ml_tensor_numel(y) == 0) return ML_STATUS_OK;
    void *dst;
    ML_TRY(shape_out_begin(node, y, &dst));
    size_t b = inner * ml_dtype_size(x->dtype);
    char *d = dst;
    int64_t lim = clen < dim ? clen : dim;
    for (size_t o = 0; o < outer; o++)
        for (int64_t i = 0; i < lim; i++)
            if (c[i]) {
                memcpy(d, (const char *)x->data + (o * (size_t)dim + (size_t)i) * b, b);
                d += b;
            }
    return shape_out_end(y, dst, ML_STATUS_OK);
}

ml_status ml_index_reversesequence_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *lens;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &lens));
    int64_t ta = ml_attr_int(node, "time_axis", 0), ba = ml_attr_int(node, "batch_axis", 1);
    if (x->rank < 2 || !((ta == 0 && ba == 1) || (ta == 1 && ba == 0)))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "needs rank >= 2 and time_axis/batch_axis of 0 and 1 (got %lld, %lld)",
                             (long long)ta, (long long)ba);
    int64_t T = x->dims[ta], B = x->dims[ba];
    if (lens->rank != 1 || lens->dims[0] != B)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "sequence_lens must be 1-D with %lld entries (the batch size)",
                             (long long)B);
    int64_t *len;
    ML_TRY(shape_ints_alloc(node, lens, "sequence_lens", &len));
    for (int64_t b = 0; b < B; b++)
        if (len[b] < 0 || len[b] > T) {
            ml_status st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                         "sequence_lens[%lld] = %lld is outside [0, %lld]",
                                         (long long)b, (long long)len[b], (long long)T);
            free(len);
            return st;
        }
    ml_tensor *y;
    void *dst = NULL;
    ml_status st = ml_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y);
    if (!st) st = shape_out_begin(node, y, &dst);
    if (!st) {
        size_t b_inner = shape_prod(x->dims, 2, x->rank) * ml_dtype_size(x->dtype);
        /* element (t, b) starts at t*ts + b*bs blocks */
        size_t ts = ta == 0 ? (size_t)B : 1, bs = ta == 0 ? 1 : (size_t)T;
        for (int64_t b = 0; b < B; b++)
            for (int64_t t = 0; t < T; t++) {
                int64_t src_t = t < len[b] ? len[b] - 1 - t : t;
                memcpy((char *)dst + ((size_t)t * ts + (size_t)b * bs) * b_inner,
                       (const char *)x->data + ((size_t)src_t * ts + (size_t)b * bs) * b_inner,
                       b_inner);
            }
        st = shape_out_end(y, dst, ML_STATUS_OK);
    }
    free(len);
    return st;
}
