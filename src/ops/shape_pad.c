/* Pad (constant/reflect/edge/wrap, negative pads crop) and CenterCropPad.
 *
 * Both become "output coordinate o on axis k reads input coordinate
 * map[k][o]" (or the constant when map is -1); the mapping tables are tiny
 * (sum of output dims) and the innermost in-range run is one memcpy. */
#include <stdlib.h>

#include "ops/shape_internal.h"
#include "ops/shape_util.h"

/* Largest pad (or crop) on one side of an axis, and largest padded axis. */
#define PAD_MAX ((int64_t)1 << 40)

typedef enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } pad_mode;

typedef struct {
    int rank;
    const int64_t *in_dims, *out_dims;
    int64_t in_strides[ML_MAX_RANK];
    const int64_t *map[ML_MAX_RANK]; /* per axis: output index -> input index or -1 */
    int64_t begin_last;              /* pad before the input on the last axis */
    const char *src;
    char *dst;
    size_t esz;
    const void *value; /* esz bytes */
} pad_job;

static int64_t map_index(int64_t o, int64_t begin, int64_t dim, pad_mode mode) {
    int64_t i = o - begin;
    if (i >= 0 && i < dim) return i;
    switch (mode) {
    case PAD_CONSTANT:
        return -1;
    case PAD_EDGE:
        return i < 0 ? 0 : dim - 1;
    case PAD_WRAP:
        return ((i % dim) + dim) % dim;
    case PAD_REFLECT: {
        if (dim == 1) return 0;
        int64_t period = 2 * (dim - 1);
        i = ((i % period) + period) % period;
        return i < dim ? i : period - i;
    }
    }
    return -1;
}

static void pad_rows(void *arg, size_t begin, size_t end) {
    const pad_job *j = arg;
    int r = j->rank;
    size_t esz = j->esz;
    int64_t olast = j->out_dims[r - 1], ilast = j->in_dims[r - 1];
    int64_t idx[ML_MAX_RANK];
    size_t rem = begin;
    for (int k = r - 2; k >= 0; k--) {
        idx[k] = (int64_t)(rem % (size_t)j->out_dims[k]);
        rem /= (size_t)j->out_dims[k];
    }
    /* in-range run of the last axis: [lo, hi) in output coordinates */
    int64_t lo = j->begin_last < 0 ? 0 : j->begin_last < olast ? j->begin_last : olast;
    int64_t hi = j->begin_last + ilast < olast ? j->begin_last + ilast : olast;
    if (hi < lo) hi = lo;
    const int64_t *ml = j->map[r - 1];
    for (size_t row = begin; row < end; row++) {
        char *d = j->dst + row * (size_t)olast * esz;
        int64_t off = 0;
        bool fill = false;
        for (int k = 0; k < r - 1; k++) {
            int64_t m = j->map[k][idx[k]];
            if (m < 0) {
                fill = true;
                break;
            }
            off += m * j->in_strides[k];
        }
        if (fill) {
            shape_fill(d, j->value, (size_t)olast, esz);
        } else {
            const char *s = j->src + (size_t)off * esz;
            for (int64_t o = 0; o < lo; o++)
                memcpy(d + (size_t)o * esz, ml[o] < 0 ? j->value : s + (size_t)ml[o] * esz, esz);
            if (hi > lo)
                memcpy(d + (size_t)lo * esz, s + (size_t)(lo - j->begin_last) * esz,
                       (size_t)(hi - lo) * esz);
            for (int64_t o = hi; o < olast; o++)
                memcpy(d + (size_t)o * esz, ml[o] < 0 ? j->value : s + (size_t)ml[o] * esz, esz);
        }
        for (int k = r - 2; k >= 0; k--) {
            if (++idx[k] < j->out_dims[k]) break;
            idx[k] = 0;
        }
    }
}

/* Pads x by begin[k]/end[k] (negative = crop) on every axis into output 0. */
static ml_status pad_apply(ml_kernel_ctx *ctx, const ml_tensor *x, const int64_t *begin,
                           const int64_t *end, pad_mode mode, const void *value) {
    const ml_node *node = ctx->node;
    int r = x->rank;
    int64_t od[ML_MAX_RANK];
    size_t map_len = 0;
    for (int k = 0; k < r; k++) {
        od[k] = x->dims[k] + begin[k] + end[k];
        if (od[k] < 0)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "pads %lld/%lld crop more than axis %d has (%lld)",
                                 (long long)begin[k], (long long)end[k], k, (long long)x->dims[k]);
        if (od[k] > PAD_MAX)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "padded axis %d is too large", k);
        if (mode != PAD_CONSTANT && x->dims[k] == 0 && od[k] > 0)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "cannot pad the empty axis %d in a non-constant mode", k);
        map_len += (size_t)od[k];
    }
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, r, od, &y));
    size_t total = ml_tensor_numel(y);
    if (total == 0) return ML_STATUS_OK;
    int64_t *maps = malloc(map_len * sizeof *maps);
    if (!maps) return ml_error(ML_ERR_OUT_OF_MEMORY, "Pad: index tables");
    pad_job j = {.rank = r,
                 .in_dims = x->dims,
                 .out_dims = od,
                 .begin_last = begin[r - 1],
                 .src = x->data,
                 .esz = ml_dtype_size(x->dtype),
                 .value = value};
    shape_strides(r, x->dims, j.in_strides);
    int64_t *m = maps;
    for (int k = 0; k < r; k++) {
        for (int64_t o = 0; o < od[k]; o++) m[o] = map_index(o, begin[k], x->dims[k], mode);
        j.map[k] = m;
        m += od[k];
    }
    void *dst;
    ml_status st = shape_out_begin(node, y, &dst);
    if (!st) {
        j.dst = dst;
        size_t rows = total / (size_t)od[r - 1];
        ml_parallel_for(ctx->pool, rows, 16384 / ((size_t)od[r - 1] * j.esz + 1) + 1, pad_rows, &j);
        st = shape_out_end(y, dst, ML_STATUS_OK);
    }
    free(maps);
    return st;
}

/* Writes the bytes of v converted to dtype into out (16 bytes of room). */
static void scalar_bytes(ml_dtype dtype, double v, void *out) {
    memset(out, 0, 16);
    if (dtype == ML_STRING) return;
    ml_tensor t = {.dtype = dtype, .rank = 0, .data = out};
    ml_tensor_set_f64(&t, 0, v);
}

static ml_status parse_mode(const ml_node *node, pad_mode *mode) {
    const char *ms = ml_attr_string(node, "mode", "constant");
    if (strcmp(ms, "constant") == 0)
        *mode = PAD_CONSTANT;
    else if (strcmp(ms, "reflect") == 0)
        *mode = PAD_REFLECT;
    else if (strcmp(ms, "edge") == 0)
        *mode = PAD_EDGE;
    else if (strcmp(ms, "wrap") == 0)
        *mode = PAD_WRAP;
    else
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "mode '%s' is not constant, reflect, edge or wrap", ms);
    return ML_STATUS_OK;
}

ml_status ml_shape_pad_init(const ml_node *node, void **state) {
    pad_mode mode;
    return parse_mode(node, &mode);
}

ml_status ml_shape_pad_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    int r = x->rank;
    pad_mode mode;
    ML_TRY(parse_mode(node, &mode));
    int64_t pads[SHAPE_MAX_INTS];
    size_t n_pads;
    _Alignas(16) unsigned char value[16];
    int axes[ML_MAX_RANK];
    size_t n_axes = (size_t)r;
    for (int k = 0; k < r; k++) axes[k] = k;
    if (node->opset < 11) {
        const int64_t *p;
        n_pads = ml_attr_ints(node, node->opset < 2 ? "paddings" : "pads", &p);
        if (n_pads > SHAPE_MAX_INTS)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "too many pads (%zu)", n_pads);
        if (n_pads) memcpy(pads, p, n_pads * sizeof *p);
        scalar_bytes(x->dtype, ml_attr_float(node, "value", 0.0f), value);
    } else {
        const ml_tensor *p, *cv = ml_input(ctx, 2), *ax = ml_input(ctx, 3);
        ML_TRY(ml_require_input(ctx, 1, &p));
        ML_TRY(shape_read_ints(node, p, "pads", SHAPE_MAX_INTS, pads, &n_pads));
        memset(value, 0, sizeof value);
        if (cv && ml_tensor_numel(cv) > 0) {
            if (cv->dtype != x->dtype)
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "constant_value is %s but data is %s",
                                     ml_dtype_name(cv->dtype), ml_dtype_name(x->dtype));
            memcpy(value, cv->data, ml_dtype_size(cv->dtype));
        }
        if (ax && node->opset >= 18) {
            int64_t a[ML_MAX_RANK];
            ML_TRY(shape_read_ints(node, ax, "axes", ML_MAX_RANK, a, &n_axes));
            ML_TRY(shape_normalize_axes(node, a, n_axes, r, axes));
        }
    }
    if (n_pads != 2 * n_axes)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "pads has %zu values; expected 2 * %zu (begin and end per axis)",
                             n_pads, n_axes);
    int64_t begin[ML_MAX_RANK] = {0}, end[ML_MAX_RANK] = {0};
    for (size_t i = 0; i < n_axes; i++) {
        begin[axes[i]] = pads[i];
        end[axes[i]] = pads[i + n_axes];
        /* bounded so dims + begin + end cannot overflow */
        if (pads[i] > PAD_MAX || pads[i] < -PAD_MAX || pads[i + n_axes] > PAD_MAX ||
            pads[i + n_axes] < -PAD_MAX)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "pads for axis %d are too large",
                                 axes[i]);
    }
    if (r == 0) return ml_output_view(ctx, 0, x, 0, NULL);
    bool all_zero = true;
    for (int k = 0; k < r; k++) all_zero &= begin[k] == 0 && end[k] == 0;
    if (all_zero) return ml_output_view(ctx, 0, x, r, x->dims);
    return pad_apply(ctx, x, begin, end, mode, value);
}

ml_status ml_shape_centercroppad_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *s;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &s));
    int r = x->rank;
    int64_t shape[ML_MAX_RANK];
    size_t n;
    ML_TRY(shape_read_ints(node, s, "shape", ML_MAX_RANK, shape, &n));
    int axes[ML_MAX_RANK];
    const int64_t *a;
    size_t n_axes = ml_attr_ints(node, "axes", &a);
    if (n_axes == 0) {
        n_axes = (size_t)r;
        for (int k = 0; k < r; k++) axes[k] = k;
    } else {
        ML_TRY(shape_normalize_axes(node, a, n_axes, r, axes));
    }
    if (n != n_axes)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "shape has %zu values for %zu axes", n,
                             n_axes);
    int64_t begin[ML_MAX_RANK] = {0}, end[ML_MAX_RANK] = {0};
    for (size_t i = 0; i < n_axes; i++) {
        int64_t dim = x->dims[axes[i]], t = shape[i];
        if (t < 0)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "shape[%zu] = %lld is negative", i,
                                 (long long)t);
        int64_t diff = t - dim;
        /* cropping starts at (dim - t) / 2; padding puts the smaller half first */
        begin[axes[i]] = diff >= 0 ? diff / 2 : -((-diff) / 2);
        end[axes[i]] = diff - begin[axes[i]];
    }
    if (r == 0) return ml_output_view(ctx, 0, x, 0, NULL);
    _Alignas(16) unsigned char zero[16] = {0};
    return pad_apply(ctx, x, begin, end, PAD_CONSTANT, zero);
}
