/* OneHot and NonZero. */
#include <math.h>
#include <stdlib.h>

#include "ops/index_internal.h"
#include "ops/shape_util.h"

/* Output elements OneHot may create from a runtime depth. */
#define ONEHOT_MAX_ELEMS ((size_t)1 << 31)

ml_status ml_index_onehot_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *ind, *dt, *vals;
    ML_TRY(ml_require_input(ctx, 0, &ind));
    ML_TRY(ml_require_input(ctx, 1, &dt));
    ML_TRY(ml_require_input(ctx, 2, &vals));
    if (ind->dtype == ML_STRING || ind->dtype == ML_BOOL)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "indices must be numeric");
    if (ml_tensor_numel(vals) != 2)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "values must hold [off_value, on_value], got %zu elements",
                             ml_tensor_numel(vals));
    int64_t depth;
    ML_TRY(shape_read_scalar_int(node, dt, "depth", &depth));
    if (depth <= 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "depth must be positive, got %lld",
                             (long long)depth);
    int r = ind->rank + 1;
    if (r > ML_MAX_RANK)
        return ml_node_error(node, ML_ERR_UNSUPPORTED, "output rank %d is over the limit", r);
    int64_t axis = ml_attr_int(node, "axis", -1);
    if (axis < -r || axis >= r)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "axis %lld is out of range for rank %d",
                             (long long)axis, r);
    if (axis < 0) axis += r;
    int64_t dims[ML_MAX_RANK];
    for (int i = 0, k = 0; i < r; i++) dims[i] = i == axis ? depth : ind->dims[k++];
    size_t numel;
    if (!ml_shape_numel(r, dims, &numel) || numel > ONEHOT_MAX_ELEMS)
        return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED, "output would exceed %zu elements",
                             ONEHOT_MAX_ELEMS);
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, vals->dtype, r, dims, &y));
    void *dst;
    ML_TRY(shape_out_begin(node, y, &dst));
    size_t esz = ml_dtype_size(vals->dtype);
    const char *off = vals->data, *on = off + esz;
    shape_fill(dst, off, numel, esz);
    size_t outer = shape_prod(ind->dims, 0, (int)axis),
           inner = shape_prod(ind->dims, (int)axis, ind->rank);
    bool is_int = ml_dtype_is_integer(ind->dtype);
    for (size_t o = 0; o < outer; o++)
        for (size_t i = 0; i < inner; i++) {
            size_t e = o * inner + i;
            int64_t v;
            if (ind->dtype == ML_INT64)
                v = ((const int64_t *)ind->data)[e];
            else if (ind->dtype == ML_INT32)
                v = ((const int32_t *)ind->data)[e];
            else {
                double d = ml_tensor_get_f64(ind, e);
                if (!is_int && !(fabs(d) < 9e18)) continue; /* NaN/huge: no hot position */
                v = (int64_t)d;
            }
            if (v < 0) v += depth;
            if (v < 0 || v >= depth) continue;
            memcpy((char *)dst + ((o * (size_t)depth + (size_t)v) * inner + i) * esz, on, esz);
        }
    return shape_out_end(y, dst, ML_STATUS_OK);
}

static bool is_nonzero(const ml_tensor *x, size_t i) {
    const void *d = x->data;
    switch (x->dtype) {
    case ML_FLOAT:
        return ((const float *)d)[i] != 0;
    case ML_DOUBLE:
        return ((const double *)d)[i] != 0;
    case ML_FLOAT16:
    case ML_BFLOAT16:
        return (((const uint16_t *)d)[i] & 0x7fff) != 0;
    case ML_STRING:
        return ((const ml_str *)d)[i].len != 0;
    case ML_BOOL:
    case ML_INT8:
    case ML_UINT8:
        return ((const uint8_t *)d)[i] != 0;
    case ML_INT16:
    case ML_UINT16:
        return ((const uint16_t *)d)[i] != 0;
    case ML_INT32:
    case ML_UINT32:
        return ((const uint32_t *)d)[i] != 0;
    case ML_INT64:
    case ML_UINT64:
        return ((const uint64_t *)d)[i] != 0;
    case ML_COMPLEX64:
        return ((const float *)d)[2 * i] != 0 || ((const float *)d)[2 * i + 1] != 0;
    case ML_COMPLEX128:
        return ((const double *)d)[2 * i] != 0 || ((const double *)d)[2 * i + 1] != 0;
    default:
        return false;
    }
}

ml_status ml_index_nonzero_run(ml_kernel_ctx *ctx) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    size_t n = ml_tensor_numel(x), nnz = 0;
    if (x->dtype == ML_FLOAT) {
        const float *f = x->data;
        for (size_t i = 0; i < n; i++) nnz += f[i] != 0;
    } else {
        for (size_t i = 0; i < n; i++) nnz += is_nonzero(x, i);
    }
    /* a scalar is treated as a 1-element vector, as onnxruntime does */
    int rank = x->rank ? x->rank : 1;
    int64_t dims[2] = {rank, (int64_t)nnz};
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, ML_INT64, 2, dims, &y));
    int64_t *out = y->data;
    int64_t c[ML_MAX_RANK] = {0};
    size_t k = 0;
    for (size_t i = 0; i < n && k < nnz; i++) {
        if (is_nonzero(x, i)) {
            for (int a = 0; a < x->rank; a++) out[(size_t)a * nnz + k] = c[a];
            if (x->rank == 0) out[k] = 0;
            k++;
        }
        for (int a = x->rank - 1; a >= 0; a--) {
            if (++c[a] < x->dims[a]) break;
            c[a] = 0;
        }
    }
    return ML_STATUS_OK;
}
