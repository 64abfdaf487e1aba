/* Ops whose output shares the input's storage (zero-copy views) or only
 * describes its shape: Reshape, Flatten, Squeeze, Unsqueeze, Identity,
 * Shape, Size, Dropout (inference). */
#include <stdlib.h>

#include "core/clock.h"
#include "ops/shape_internal.h"
#include "ops/shape_util.h"

static ml_status view_or_error(ml_kernel_ctx *ctx, const ml_tensor *x, int rank,
                               const int64_t *dims) {
    size_t n;
    if (!ml_shape_numel(rank, dims, &n) || n != ml_tensor_numel(x)) {
        char a[256], b[256];
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "cannot reshape %s (%zu elements) to %s",
                             ml_shape_format(x->rank, x->dims, a, sizeof a), ml_tensor_numel(x),
                             ml_shape_format(rank, dims, b, sizeof b));
    }
    return ml_output_view(ctx, 0, x, rank, dims);
}

/* ---- Reshape ---- */

ml_status ml_shape_reshape_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    int64_t shape[ML_MAX_RANK];
    size_t n;
    if (node->opset < 5) {
        const int64_t *a;
        n = ml_attr_ints(node, "shape", &a);
        if (n > ML_MAX_RANK)
            return ml_node_error(node, ML_ERR_UNSUPPORTED, "shape has rank %zu, limit %d", n,
                                 ML_MAX_RANK);
        if (n) memcpy(shape, a, n * sizeof *a);
    } else {
        const ml_tensor *s;
        ML_TRY(ml_require_input(ctx, 1, &s));
        ML_TRY(shape_read_ints(node, s, "shape", ML_MAX_RANK, shape, &n));
    }
    bool allowzero = node->opset >= 14 && ml_attr_int(node, "allowzero", 0) != 0;
    int infer = -1;
    size_t known = 1;
    bool has_zero = false;
    for (size_t i = 0; i < n; i++) {
        int64_t v = shape[i];
        if (v == 0 && !allowzero) {
            if ((int)i >= x->rank)
                return ml_node_error(
                    node, ML_ERR_INVALID_ARGUMENT,
                    "shape[%zu] is 0 (copy the input dim) but the input has rank %d", i, x->rank);
            shape[i] = v = x->dims[i];
        } else if (v == -1) {
            if (infer >= 0)
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "shape has more than one -1");
            infer = (int)i;
            continue;
        } else if (v < -1) {
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "shape[%zu] is %lld; dims must be >= -1", i, (long long)v);
        }
        if (v == 0) has_zero = true;
        if (v > 0 && known > (SIZE_MAX / 16) / (size_t)v)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "shape is too large");
        known *= (size_t)v;
    }
    if (infer >= 0) {
        size_t total = ml_tensor_numel(x);
        if (allowzero && has_zero)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "shape has both -1 and 0 while allowzero=1");
        if (known == 0 || total % known != 0) {
            char a[256];
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "cannot infer the -1 dim: %zu elements of %s do not divide by %zu",
                                 total, ml_shape_format(x->rank, x->dims, a, sizeof a), known);
        }
        shape[infer] = (int64_t)(total / known);
    }
    return view_or_error(ctx, x, (int)n, shape);
}

/* ---- Flatten ---- */

ml_status ml_shape_flatten_run(ml_kernel_ctx *ctx) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    int64_t axis = ml_attr_int(ctx->node, "axis", 1);
    if (axis < 0) axis += x->rank;
    if (axis < 0 || axis > x->rank)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "axis %lld is out of range [-%d, %d]",
                             (long long)ml_attr_int(ctx->node, "axis", 1), x->rank, x->rank);
    int64_t dims[2] = {(int64_t)shape_prod(x->dims, 0, (int)axis),
                       (int64_t)shape_prod(x->dims, (int)axis, x->rank)};
    return view_or_error(ctx, x, 2, dims);
}

/* ---- Squeeze / Unsqueeze ---- */

/* Axes from the attribute (opset < 13) or the optional second input. */
static ml_status read_axes(ml_kernel_ctx *ctx, int64_t *axes, size_t *n, bool *given) {
    const ml_node *node = ctx->node;
    *n = 0;
    *given = false;
    if (node->opset < 13) {
        const int64_t *a;
        const ml_attr *at = ml_node_attr(node, "axes");
        *n = ml_attr_ints(node, "axes", &a);
        if (*n > ML_MAX_RANK)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "too many axes (%zu)", *n);
        if (*n) memcpy(axes, a, *n * sizeof *a);
        *given = at != NULL;
        return ML_STATUS_OK;
    }
    const ml_tensor *t = ml_input(ctx, 1);
    if (!t) return ML_STATUS_OK;
    *given = true;
    return shape_read_ints(node, t, "axes", ML_MAX_RANK, axes, n);
}

ml_status ml_shape_squeeze_run(ml_kernel_ctx *ctx) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    int64_t axes[ML_MAX_RANK];
    size_t n;
    bool given;
    ML_TRY(read_axes(ctx, axes, &n, &given));
    bool drop[ML_MAX_RANK] = {0};
    if (n == 0) {
        for (int i = 0; i < x->rank; i++) drop[i] = x->dims[i] == 1;
    } else {
        int norm[ML_MAX_RANK];
        ML_TRY(shape_normalize_axes(ctx->node, axes, n, x->rank, norm));
        for (size_t i = 0; i < n; i++) {
            if (x->dims[norm[i]] != 1)
                return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                                     "cannot squeeze axis %d: its dim is %lld, not 1", norm[i],
                                     (long long)x->dims[norm[i]]);
            drop[norm[i]] = true;
        }
    }
    int64_t dims[ML_MAX_RANK];
    int r = 0;
    for (int i = 0; i < x->rank; i++)
        if (!drop[i]) dims[r++] = x->dims[i];
    return view_or_error(ctx, x, r, dims);
}

ml_status ml_shape_unsqueeze_run(ml_kernel_ctx *ctx) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    int64_t axes[ML_MAX_RANK];
    size_t n;
    bool given;
    ML_TRY(read_axes(ctx, axes, &n, &given));
    if (!given) return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "axes are required");
    int r = x->rank + (int)n;
    if (r > ML_MAX_RANK)
        return ml_node_error(ctx->node, ML_ERR_UNSUPPORTED, "output rank %d is over the limit %d",
                             r, ML_MAX_RANK);
    int norm[ML_MAX_RANK];
    ML_TRY(shape_normalize_axes(ctx->node, axes, n, r, norm));
    bool ins[ML_MAX_RANK] = {0};
    for (size_t i = 0; i < n; i++) ins[norm[i]] = true;
    int64_t dims[ML_MAX_RANK];
    for (int i = 0, k = 0; i < r; i++) dims[i] = ins[i] ? 1 : x->dims[k++];
    return view_or_error(ctx, x, r, dims);
}

/* ---- Identity ---- */

ml_status ml_shape_identity_run(ml_kernel_ctx *ctx) {
    const ml_value *v = ml_input_value(ctx, 0);
    if (!v) return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "input 0 is required");
    if (v->kind == ML_VALUE_TENSOR)
        return ml_output_view(ctx, 0, v->tensor, v->tensor->rank, v->tensor->dims);
    ml_value *c;
    ML_TRY(ml_value_clone(v, &c));
    return ml_set_output(ctx, 0, c);
}

/* ---- Shape / Size ---- */

ml_status ml_shape_shape_run(ml_kernel_ctx *ctx) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    int64_t r = x->rank, start = 0, end = r;
    if (ctx->node->opset >= 15) {
        start = ml_attr_int(ctx->node, "start", 0);
        end = ml_attr_int(ctx->node, "end", r);
        if (start < 0) start += r;
        if (end < 0) end += r;
        start = start < 0 ? 0 : start > r ? r : start;
        end = end < 0 ? 0 : end > r ? r : end;
        if (end < start) end = start;
    }
    int64_t len = end - start;
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, ML_INT64, 1, &len, &y));
    for (int64_t i = 0; i < len; i++) ML_TENSOR_DATA(y, int64_t)[i] = x->dims[start + i];
    return ML_STATUS_OK;
}

ml_status ml_shape_size_run(ml_kernel_ctx *ctx) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, ML_INT64, 0, NULL, &y));
    ML_TENSOR_DATA(y, int64_t)[0] = (int64_t)ml_tensor_numel(x);
    return ML_STATUS_OK;
}

/* ---- Dropout ---- */

/* MT19937 seeded like numpy's RandomState(seed): training-mode masks then
 * match the reference (np.random.seed(seed); uniform(0, 1, shape) >= ratio). */
typedef struct {
    uint32_t mt[624];
    int pos;
} mt19937;

static void mt_seed(mt19937 *m, uint32_t seed) {
    m->mt[0] = seed;
    for (int i = 1; i < 624; i++)
        m->mt[i] = 1812433253u * (m->mt[i - 1] ^ (m->mt[i - 1] >> 30)) + (uint32_t)i;
    m->pos = 624;
}

static uint32_t mt_next(mt19937 *m) {
    if (m->pos >= 624) {
        for (int k = 0; k < 624; k++) {
            uint32_t y = (m->mt[k] & 0x80000000u) | (m->mt[(k + 1) % 624] & 0x7fffffffu);
            m->mt[k] = m->mt[(k + 397) % 624] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
        }
        m->pos = 0;
    }
    uint32_t y = m->mt[m->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    return y ^ (y >> 18);
}

/* numpy's random_sample: 53 random bits in [0, 1). */
static double mt_uniform(mt19937 *m) {
    uint32_t a = mt_next(m) >> 5, b = mt_next(m) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
}

ml_status ml_shape_dropout_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (!ml_dtype_is_float(x->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "data must be floating point, got %s",
                             ml_dtype_name(x->dtype));
    bool training = false;
    double ratio = ml_attr_float(node, "ratio", 0.5f);
    if (node->opset >= 12) {
        const ml_tensor *r = ml_input(ctx, 1), *tm = ml_input(ctx, 2);
        ratio = 0.5;
        if (r) {
            if (ml_tensor_numel(r) != 1 || !ml_dtype_is_float(r->dtype))
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "ratio must be a float scalar");
            ratio = ml_tensor_get_f64(r, 0);
        }
        if (tm) {
            if (ml_tensor_numel(tm) != 1 || tm->dtype != ML_BOOL)
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "training_mode must be a bool scalar");
            training = ML_TENSOR_DATA(tm, uint8_t)[0] != 0;
        }
    }
    size_t n = ml_tensor_numel(x);
    bool want_mask = ml_output_wanted(ctx, 1);
    ml_dtype mask_dt = node->opset >= 10 ? ML_BOOL : x->dtype;
    if (!training || ratio == 0) {
        ML_TRY(ml_output_view(ctx, 0, x, x->rank, x->dims));
        if (!want_mask) return ML_STATUS_OK;
        ml_tensor *m;
        ML_TRY(ml_output_tensor(ctx, 1, mask_dt, x->rank, x->dims, &m));
        if (mask_dt == ML_BOOL)
            memset(m->data, 1, n);
        else
            for (size_t i = 0; i < n; i++) ml_tensor_set_f64(m, i, 1.0);
        return ML_STATUS_OK;
    }
    if (!(ratio > 0 && ratio < 1))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "ratio %g must be in [0, 1)", ratio);
    ml_tensor *y, *m = NULL;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
    if (want_mask) ML_TRY(ml_output_tensor(ctx, 1, ML_BOOL, x->rank, x->dims, &m));
    /* without a seed attribute every run draws a different mask */
    uint32_t seed = ml_node_attr(node, "seed") ? (uint32_t)ml_attr_int(node, "seed", 0)
                                               : (uint32_t)(ml_now_ns() ^ (ml_now_ns() >> 32));
    mt19937 rng;
    mt_seed(&rng, seed);
    double scale = 1.0 / (1.0 - ratio);
    for (size_t i = 0; i < n; i++) {
        bool keep = mt_uniform(&rng) >= ratio;
        ml_tensor_set_f64(y, i, keep ? ml_tensor_get_f64(x, i) * scale : 0.0);
        if (m) ML_TENSOR_DATA(m, uint8_t)[i] = keep;
    }
    return ML_STATUS_OK;
}
