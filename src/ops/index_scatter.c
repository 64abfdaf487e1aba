/* Scatter (deprecated), ScatterElements, ScatterND with the optional
 * reduction (none/add/mul at 16, max/min at 18). The output starts as a
 * copy of data; updates are applied in index order, so with reduction none
 * the last duplicate index wins, like the reference implementation. */
#include <stdlib.h>

#include "ops/index_internal.h"
#include "ops/shape_util.h"

typedef enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN } reduction;

static ml_status parse_reduction(const ml_node *node, reduction *out) {
    *out = RED_NONE;
    if (node->opset < 16) return ML_STATUS_OK;
    const char *s = ml_attr_string(node, "reduction", "none");
    if (strcmp(s, "none") == 0) return ML_STATUS_OK;
    if (strcmp(s, "add") == 0)
        *out = RED_ADD;
    else if (strcmp(s, "mul") == 0)
        *out = RED_MUL;
    else if (strcmp(s, "max") == 0 && node->opset >= 18)
        *out = RED_MAX;
    else if (strcmp(s, "min") == 0 && node->opset >= 18)
        *out = RED_MIN;
    else
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "reduction '%s' is not supported at opset %d (none, add, mul%s)", s,
                             node->opset, node->opset >= 18 ? ", max, min" : "");
    return ML_STATUS_OK;
}

#define REDUCE_T(T)                                                                                \
    static void reduce_##T(void *d_, const void *s_, size_t n, reduction red) {                    \
        T *d = d_;                                                                                 \
        const T *s = s_;                                                                           \
        for (size_t i = 0; i < n; i++) switch (red) {                                              \
            case RED_ADD:                                                                          \
                d[i] = (T)(d[i] + s[i]);                                                           \
                break;                                                                             \
            case RED_MUL:                                                                          \
                d[i] = (T)(d[i] * s[i]);                                                           \
                break;                                                                             \
            case RED_MAX:                                                                          \
                d[i] = s[i] > d[i] ? s[i] : d[i];                                                  \
                break;                                                                             \
            case RED_MIN:                                                                          \
                d[i] = s[i] < d[i] ? s[i] : d[i];                                                  \
                break;                                                                             \
            default:                                                                               \
                d[i] = s[i];                                                                       \
            }                                                                                      \
    }
REDUCE_T(float)
REDUCE_T(double)
REDUCE_T(int8_t)
REDUCE_T(uint8_t)
REDUCE_T(int16_t)
REDUCE_T(uint16_t)
REDUCE_T(int32_t)
REDUCE_T(uint32_t)
REDUCE_T(int64_t)
REDUCE_T(uint64_t)

/* Slow path for float16/bfloat16/bool: through double. */
static void reduce_f64(ml_tensor *out, size_t di, const ml_tensor *src, size_t si, size_t n,
                       reduction red) {
    for (size_t i = 0; i < n; i++) {
        double a = ml_tensor_get_f64(out, di + i), b = ml_tensor_get_f64(src, si + i), r = b;
        if (red == RED_ADD)
            r = a + b;
        else if (red == RED_MUL)
            r = a * b;
        else if (red == RED_MAX)
            r = a > b ? a : b;
        else if (red == RED_MIN)
            r = a < b ? a : b;
        ml_tensor_set_f64(out, di + i, r);
    }
}

/* out[di..di+n) = red(out[...], src[si..si+n)); out is a non-string tensor. */
static void apply(ml_tensor *out, size_t di, const ml_tensor *src, size_t si, size_t n,
                  reduction red) {
    size_t esz = ml_dtype_size(out->dtype);
    void *d = (char *)out->data + di * esz;
    const void *s = (const char *)src->data + si * esz;
    if (red == RED_NONE) {
        memcpy(d, s, n * esz);
        return;
    }
    switch (out->dtype) {
    case ML_FLOAT:
        reduce_float(d, s, n, red);
        break;
    case ML_DOUBLE:
        reduce_double(d, s, n, red);
        break;
    case ML_INT8:
        reduce_int8_t(d, s, n, red);
        break;
    case ML_UINT8:
        reduce_uint8_t(d, s, n, red);
        break;
    case ML_INT16:
        reduce_int16_t(d, s, n, red);
        break;
    case ML_UINT16:
        reduce_uint16_t(d, s, n, red);
        break;
    case ML_INT32:
        reduce_int32_t(d, s, n, red);
        break;
    case ML_UINT32:
        reduce_uint32_t(d, s, n, red);
        break;
    case ML_INT64:
        reduce_int64_t(d, s, n, red);
        break;
    case ML_UINT64:
        reduce_uint64_t(d, s, n, red);
        break;
    default:
        reduce_f64(out, di, src, si, n, red);
    }
}

/* Output 0 as a copy of data, plus (for strings) the staging array that the
 * scatter writes ml_str records into. */
static ml_status start_output(ml_kernel_ctx *ctx, const ml_tensor *x, reduction red, ml_tensor **y,
                              void **dst) {
    if (x->dtype == ML_STRING && red != RED_NONE)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "reductions are not defined for strings");
    if (x->dtype == ML_COMPLEX64 || x->dtype == ML_COMPLEX128)
        if (red != RED_NONE)
            return ml_node_error(ctx->node, ML_ERR_UNSUPPORTED, "reductions on complex numbers");
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, y));
    ML_TRY(shape_out_begin(ctx->node, *y, dst));
    memcpy(*dst, x->data, ml_tensor_nbytes(x));
    return ML_STATUS_OK;
}

ml_status ml_index_scatter_init(const ml_node *node, void **state) {
    reduction red;
    return parse_reduction(node, &red);
}

ml_status ml_index_scatterelements_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *ind, *upd;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &ind));
    ML_TRY(ml_require_input(ctx, 2, &upd));
    reduction red;
    ML_TRY(parse_reduction(node, &red));
    int r = x->rank, axis;
    if (r == 0 || ind->rank != r || !ml_shape_equal(ind->rank, ind->dims, upd->rank, upd->dims))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "data, indices and updates must have the same rank >= 1, and indices "
                             "the same shape as updates");
    if (upd->dtype != x->dtype)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "updates are %s but data is %s",
                             ml_dtype_name(upd->dtype), ml_dtype_name(x->dtype));
    ML_TRY(ml_normalize_axis(node, ml_attr_int(node, "axis", 0), r, &axis));
    for (int k = 0; k < r; k++)
        if (k != axis && ind->dims[k] > x->dims[k])
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "indices dim %d (%lld) exceeds the data dim (%lld)", k,
                                 (long long)ind->dims[k], (long long)x->dims[k]);
    int64_t *idx;
    ML_TRY(index_prepare(node, ind, "indices", x->dims[axis], &idx));
    ml_tensor *y;
    void *dst = NULL;
    ml_status st = start_output(ctx, x, red, &y, &dst);
    if (!st) {
        int64_t xs[ML_MAX_RANK], c[ML_MAX_RANK] = {0};
        shape_strides(r, x->dims, xs);
        size_t n = ml_tensor_numel(ind), esz = ml_dtype_size(x->dtype);
        for (size_t e = 0; e < n; e++) {
            int64_t off = 0;
            for (int k = 0; k < r; k++) off += (k == axis ? idx[e] : c[k]) * xs[k];
            if (x->dtype == ML_STRING || red == RED_NONE)
                memcpy((char *)dst + (size_t)off * esz, (const char *)upd->data + e * esz, esz);
            else
                apply(y, (size_t)off, upd, e, 1, red);
            for (int k = r - 1; k >= 0; k--) {
                if (++c[k] < ind->dims[k]) break;
                c[k] = 0;
            }
        }
        st = shape_out_end(y, dst, ML_STATUS_OK);
    } else if (dst) {
        st = shape_out_end(y, dst, st);
    }
    free(idx);
    return st;
}

ml_status ml_index_scatternd_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *ind, *upd;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &ind));
    ML_TRY(ml_require_input(ctx, 2, &upd));
    reduction red;
    ML_TRY(parse_reduction(node, &red));
    int r = x->rank, q = ind->rank;
    if (r < 1 || q < 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "data and indices must have rank >= 1");
    int64_t m = ind->dims[q - 1];
    if (m < 1 || m > r)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "indices last dim %lld must be in [1, %d]", (long long)m, r);
    /* updates.shape == indices.shape[:-1] + data.shape[m:] */
    int64_t ud[ML_MAX_RANK];
    int ur = 0;
    for (int i = 0; i < q - 1; i++) ud[ur++] = ind->dims[i];
    for (int i = (int)m; i < r && ur < ML_MAX_RANK; i++) ud[ur++] = x->dims[i];
    if (!ml_shape_equal(ur, ud, upd->rank, upd->dims) || upd->dtype != x->dtype) {
        char a[256], b[256];
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "updates must be %s %s, got %s %s",
                             ml_dtype_name(x->dtype), ml_shape_format(ur, ud, a, sizeof a),
                             ml_dtype_name(upd->dtype),
                             ml_shape_format(upd->rank, upd->dims, b, sizeof b));
    }
    int64_t *idx;
    ML_TRY(shape_ints_alloc(node, ind, "indices", &idx));
    int64_t xs[ML_MAX_RANK];
    shape_strides(r, x->dims, xs);
    size_t n_tuples = shape_prod(ind->dims, 0, q - 1);
    size_t slice = shape_prod(x->dims, (int)m, r), esz = ml_dtype_size(x->dtype);
    ml_status st = ML_STATUS_OK;
    for (size_t t = 0; t < n_tuples && !st; t++) {
        int64_t off = 0;
        for (int64_t j = 0; j < m; j++) {
            int64_t dim = x->dims[j], v = idx[t * (size_t)m + (size_t)j];
            if (v < 0) v += dim;
            if (v < 0 || v >= dim) {
                st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                   "index %lld is out of range for data axis %lld of size %lld",
                                   (long long)idx[t * (size_t)m + (size_t)j], (long long)j,
                                   (long long)dim);
                break;
            }
            off += v * xs[j];
        }
        idx[t] = off;
    }
    ml_tensor *y;
    void *dst = NULL;
    if (!st) st = start_output(ctx, x, red, &y, &dst);
    if (!st) {
        for (size_t t = 0; t < n_tuples; t++) {
            if (x->dtype == ML_STRING || red == RED_NONE)
                memcpy((char *)dst + (size_t)idx[t] * esz,
                       (const char *)upd->data + t * slice * esz, slice * esz);
            else
                apply(y, (size_t)idx[t], upd, t * slice, slice, red);
        }
        st = shape_out_end(y, dst, ML_STATUS_OK);
    } else if (dst) {
        st = shape_out_end(y, dst, st);
    }
    free(idx);
    return st;
}
