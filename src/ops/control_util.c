/* Tensor slicing and joining for the control-flow and sequence kernels
 * (see control_util.h). */
#include "ops/control_util.h"

#include <string.h>

static ml_status copy_block(ml_tensor *dst, size_t doff, const ml_tensor *src, size_t soff,
                            size_t count) {
    if (!count) return ML_STATUS_OK;
    if (src->dtype == ML_STRING) {
        const ml_str *s = (const ml_str *)src->data + soff;
        for (size_t i = 0; i < count; i++)
            ML_TRY(ml_tensor_set_string(dst, doff + i, s[i].data, s[i].len));
        return ML_STATUS_OK;
    }
    size_t es = ml_dtype_size(src->dtype);
    memcpy((char *)dst->data + doff * es, (const char *)src->data + soff * es, count * es);
    return ML_STATUS_OK;
}

static size_t prod(const int64_t *d, int from, int to) {
    size_t p = 1;
    for (int i = from; i < to; i++) p *= (size_t)d[i];
    return p;
}

ml_status ml_ctl_slice(const ml_tensor *t, int axis, int64_t start, int64_t len, bool keep_axis,
                       ml_tensor **out) {
    *out = NULL;
    if (axis < 0 || axis >= t->rank || start < 0 || len < 0 || start + len > t->dims[axis])
        return ml_error(ML_ERR_INVALID_ARGUMENT, "slice [%lld, +%lld) on axis %d is out of range",
                        (long long)start, (long long)len, axis);
    int64_t dims[ML_MAX_RANK];
    int r = 0;
    for (int i = 0; i < t->rank; i++) {
        if (i == axis) {
            if (keep_axis) dims[r++] = len;
        } else {
            dims[r++] = t->dims[i];
        }
    }
    ml_tensor *o;
    ML_TRY(ml_tensor_create(t->dtype, r, dims, &o));
    size_t outer = prod(t->dims, 0, axis), inner = prod(t->dims, axis + 1, t->rank);
    size_t L = (size_t)t->dims[axis];
    for (size_t b = 0; b < outer; b++) {
        ml_status st = copy_block(o, b * (size_t)len * inner, t, (b * L + (size_t)start) * inner,
                                  (size_t)len * inner);
        if (st) {
            ml_tensor_free(o);
            return st;
        }
    }
    *out = o;
    return ML_STATUS_OK;
}

ml_status ml_ctl_join(const ml_tensor *const *ts, size_t n, int axis, bool new_axis, bool reverse,
                      ml_tensor **out) {
    *out = NULL;
    if (n == 0) return ml_error(ML_ERR_INVALID_ARGUMENT, "nothing to join");
    const ml_tensor *t0 = ts[0];
    int rank = t0->rank + (new_axis ? 1 : 0);
    if (rank > ML_MAX_RANK || axis < 0 || axis >= (rank ? rank : 1))
        return ml_error(ML_ERR_INVALID_ARGUMENT, "axis %d is out of range for rank %d", axis, rank);
    int64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        const ml_tensor *t = ts[i];
        bool ok = t->dtype == t0->dtype && t->rank == t0->rank;
        for (int d = 0; ok && d < t0->rank; d++)
            if (d != axis || new_axis) ok = t->dims[d] == t0->dims[d];
        if (!ok) {
            char a[128], b[128];
            return ml_error(
                ML_ERR_INVALID_ARGUMENT, "cannot join %s %s with %s %s on axis %d",
                ml_dtype_name(t0->dtype), ml_shape_format(t0->rank, t0->dims, a, sizeof a),
                ml_dtype_name(t->dtype), ml_shape_format(t->rank, t->dims, b, sizeof b), axis);
        }
        total += new_axis ? 1 : t->dims[axis];
    }
    int64_t dims[ML_MAX_RANK];
    for (int d = 0, s = 0; d < rank; d++) {
        if (d == axis) {
            dims[d] = total;
            if (!new_axis) s++;
        } else {
            dims[d] = t0->dims[s++];
        }
    }
    ml_tensor *o;
    ML_TRY(ml_tensor_create(t0->dtype, rank, dims, &o));
    /* per outer index, each input contributes a contiguous run */
    size_t outer = prod(dims, 0, axis), inner = prod(dims, axis + 1, rank);
    size_t row = (size_t)total * inner, pos = 0;
    for (size_t k = 0; k < n; k++) {
        const ml_tensor *t = ts[reverse ? n - 1 - k : k];
        size_t run = (new_axis ? 1 : (size_t)t->dims[axis]) * inner;
        for (size_t b = 0; b < outer; b++) {
            ml_status st = copy_block(o, b * row + pos, t, b * run, run);
            if (st) {
                ml_tensor_free(o);
                return st;
            }
        }
        pos += run;
    }
    *out = o;
    return ML_STATUS_OK;
}
