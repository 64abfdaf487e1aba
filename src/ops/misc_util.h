/* Small helpers shared by the misc helper's kernels (rnn, resize, signal,
 * random, misc): dtype conversion to and from float/double working buffers
 * and integer index reads. Kernels compute in float (or double where the
 * precision matters) and convert at the edges, so every float type the spec
 * allows works without per-element dtype switches in the hot loops. */
#ifndef MLAMBDA_OPS_MISC_UTIL_H
#define MLAMBDA_OPS_MISC_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "ops/kernel.h"

static inline bool misc_is_float_type(ml_dtype dt) {
    return dt == ML_FLOAT || dt == ML_DOUBLE || dt == ML_FLOAT16 || dt == ML_BFLOAT16;
}

/* Clamps v into the range of an integer dtype (NaN -> 0) so that the
 * conversion in ml_tensor_set_f64 is always defined; other dtypes pass. */
static inline double misc_clamp_to_dtype(double v, ml_dtype dt) {
    double lo, hi;
    switch (dt) {
    case ML_UINT8:
        lo = 0, hi = 255;
        break;
    case ML_INT8:
        lo = -128, hi = 127;
        break;
    case ML_UINT16:
        lo = 0, hi = 65535;
        break;
    case ML_INT16:
        lo = -32768, hi = 32767;
        break;
    case ML_INT32:
        lo = -2147483648.0, hi = 2147483647.0;
        break;
    case ML_UINT32:
        lo = 0, hi = 4294967295.0;
        break;
    case ML_INT64:
        lo = -9223372036854775808.0, hi = 9223372036854774784.0;
        break;
    case ML_UINT64:
        lo = 0, hi = 18446744073709549568.0;
        break;
    default:
        return v;
    }
    if (v != v) return 0;
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Converts n elements of a float-typed tensor into dst. */
static inline void misc_to_f32(const ml_tensor *t, float *dst, size_t n) {
    switch (t->dtype) {
    case ML_FLOAT:
        memcpy(dst, t->data, n * sizeof(float));
        break;
    case ML_DOUBLE: {
        const double *s = t->data;
        for (size_t i = 0; i < n; i++) dst[i] = (float)s[i];
        break;
    }
    case ML_FLOAT16: {
        const uint16_t *s = t->data;
        for (size_t i = 0; i < n; i++) dst[i] = ml_fp16_to_float(s[i]);
        break;
    }
    case ML_BFLOAT16: {
        const uint16_t *s = t->data;
        for (size_t i = 0; i < n; i++) dst[i] = ml_bf16_to_float(s[i]);
        break;
    }
    default:
        for (size_t i = 0; i < n; i++) dst[i] = (float)ml_tensor_get_f64(t, i);
    }
}

static inline void misc_from_f32(ml_tensor *t, const float *src, size_t n) {
    switch (t->dtype) {
    case ML_FLOAT:
        memcpy(t->data, src, n * sizeof(float));
        break;
    case ML_DOUBLE: {
        double *d = t->data;
        for (size_t i = 0; i < n; i++) d[i] = src[i];
        break;
    }
    case ML_FLOAT16: {
        uint16_t *d = t->data;
        for (size_t i = 0; i < n; i++) d[i] = ml_float_to_fp16(src[i]);
        break;
    }
    case ML_BFLOAT16: {
        uint16_t *d = t->data;
        for (size_t i = 0; i < n; i++) d[i] = ml_float_to_bf16(src[i]);
        break;
    }
    default:
        for (size_t i = 0; i < n; i++)
            ml_tensor_set_f64(t, i, misc_clamp_to_dtype(src[i], t->dtype));
    }
}

static inline void misc_to_f64(const ml_tensor *t, double *dst, size_t n) {
    switch (t->dtype) {
    case ML_FLOAT: {
        const float *s = t->data;
        for (size_t i = 0; i < n; i++) dst[i] = s[i];
        break;
    }
    case ML_DOUBLE:
        memcpy(dst, t->data, n * sizeof(double));
        break;
    default:
        for (size_t i = 0; i < n; i++) dst[i] = ml_tensor_get_f64(t, i);
    }
}

static inline void misc_from_f64(ml_tensor *t, const double *src, size_t n) {
    switch (t->dtype) {
    case ML_FLOAT: {
        float *d = t->data;
        for (size_t i = 0; i < n; i++) d[i] = (float)src[i];
        break;
    }
    case ML_DOUBLE:
        memcpy(t->data, src, n * sizeof(double));
        break;
    default:
        for (size_t i = 0; i < n; i++)
            ml_tensor_set_f64(t, i, misc_clamp_to_dtype(src[i], t->dtype));
    }
}

/* A float view of a tensor: borrows the data when it already is float32,
 * otherwise converts into *owned (freed by the caller with free()). Returns
 * NULL only when the conversion buffer cannot be allocated. */
static inline const float *misc_f32_view(const ml_tensor *t, float **owned) {
    *owned = NULL;
    if (t->dtype == ML_FLOAT) return t->data;
    size_t n = ml_tensor_numel(t);
    *owned = malloc((n ? n : 1) * sizeof(float));
    if (!*owned) return NULL;
    misc_to_f32(t, *owned, n);
    return *owned;
}

/* Converts a double to an integer clamped to [lo, hi] (NaN -> lo): casting
 * an out-of-range or NaN double to int64 is undefined, and coordinates
 * computed from hostile inputs can be either. */
static inline int64_t misc_f2i(double v, int64_t lo, int64_t hi) {
    if (!(v >= (double)lo)) return lo;
    if (!(v <= (double)hi)) return hi;
    return (int64_t)v;
}

/* Element i of an integer tensor (int32/int64 and the other int widths). */
static inline int64_t misc_get_i64(const ml_tensor *t, size_t i) {
    switch (t->dtype) {
    case ML_INT64:
        return ((const int64_t *)t->data)[i];
    case ML_INT32:
        return ((const int32_t *)t->data)[i];
    default:
        return (int64_t)ml_tensor_get_f64(t, i);
    }
}

#endif
