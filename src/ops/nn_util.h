/* Helpers shared by the nn kernels (linalg, conv, pool, norm, quant):
 * float-family dtype conversion and the spatial geometry (kernel, strides,
 * dilations, pads, auto_pad, ceil_mode) of convolution and pooling.
 *
 * Float16/bfloat16 (and, for the float32-only kernels, double) are computed by
 * converting to float32 scratch buffers: kernels then have one fast inner loop. */
#ifndef MLAMBDA_OPS_NN_UTIL_H
#define MLAMBDA_OPS_NN_UTIL_H

#include <stdlib.h>
#include <string.h>

#include "ops/kernel.h"

static inline bool nn_is_float(ml_dtype dt) {
    return dt == ML_FLOAT || dt == ML_DOUBLE || dt == ML_FLOAT16 || dt == ML_BFLOAT16;
}

/* Converts n elements of any numeric tensor data to float32. */
static inline void nn_convert_to_f32(ml_dtype dt, const void *src, float *dst, size_t n) {
    switch (dt) {
    case ML_FLOAT:
        memcpy(dst, src, n * sizeof(float));
        break;
    case ML_DOUBLE:
        for (size_t i = 0; i < n; i++) dst[i] = (float)((const double *)src)[i];
        break;
    case ML_FLOAT16:
        for (size_t i = 0; i < n; i++) dst[i] = ml_fp16_to_float(((const uint16_t *)src)[i]);
        break;
    case ML_BFLOAT16:
        for (size_t i = 0; i < n; i++) dst[i] = ml_bf16_to_float(((const uint16_t *)src)[i]);
        break;
    case ML_UINT8:
        for (size_t i = 0; i < n; i++) dst[i] = ((const uint8_t *)src)[i];
        break;
    case ML_INT8:
        for (size_t i = 0; i < n; i++) dst[i] = ((const int8_t *)src)[i];
        break;
    case ML_INT32:
        for (size_t i = 0; i < n; i++) dst[i] = (float)((const int32_t *)src)[i];
        break;
    default: {
        ml_tensor t = {.dtype = dt, .rank = 1, .dims = {(int64_t)n}, .data = (void *)src};
        for (size_t i = 0; i < n; i++) dst[i] = (float)ml_tensor_get_f64(&t, i);
    }
    }
}

/* Converts n float32 values into data of dtype dt (a float-family dtype). */
static inline void nn_convert_from_f32(ml_dtype dt, const float *src, void *dst, size_t n) {
    switch (dt) {
    case ML_FLOAT:
        memcpy(dst, src, n * sizeof(float));
        break;
    case ML_DOUBLE:
        for (size_t i = 0; i < n; i++) ((double *)dst)[i] = src[i];
        break;
    case ML_FLOAT16:
        for (size_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = ml_float_to_fp16(src[i]);
        break;
    case ML_BFLOAT16:
        for (size_t i = 0; i < n; i++) ((uint16_t *)dst)[i] = ml_float_to_bf16(src[i]);
        break;
    default: {
        ml_tensor t = {.dtype = dt, .rank = 1, .dims = {(int64_t)n}, .data = dst};
        for (size_t i = 0; i < n; i++) ml_tensor_set_f64(&t, i, src[i]);
    }
    }
}

/* A float32 view of a tensor: its own data when it is FLOAT (no copy), else
 * a converted copy returned in *owned (caller frees; NULL when not copied). */
static inline ml_status nn_f32_view(const ml_node *node, const ml_tensor *t, const float **out,
                                    float **owned) {
    *owned = NULL;
    if (t->dtype == ML_FLOAT) {
        *out = (const float *)t->data;
        return ML_STATUS_OK;
    }
    size_t n = ml_tensor_numel(t);
    float *buf = malloc((n ? n : 1) * sizeof(float));
    if (!buf)
        return ml_node_error(node, ML_ERR_OUT_OF_MEMORY,
                             "no memory to convert a %zu-element %s input", n,
                             ml_dtype_name(t->dtype));
    nn_convert_to_f32(t->dtype, t->data, buf, n);
    *out = buf;
    *owned = buf;
    return ML_STATUS_OK;
}

/* Where a kernel writes float32 results for output t: t's data when FLOAT,
 * else a scratch buffer (*owned) that nn_f32_commit converts into t. */
static inline ml_status nn_f32_target(const ml_node *node, ml_tensor *t, float **out,
                                      float **owned) {
    *owned = NULL;
    if (t->dtype == ML_FLOAT) {
        *out = (float *)t->data;
        return ML_STATUS_OK;
    }
    size_t n = ml_tensor_numel(t);
    float *buf = malloc((n ? n : 1) * sizeof(float));
    if (!buf)
        return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for a %zu-element output", n);
    *out = buf;
    *owned = buf;
    return ML_STATUS_OK;
}

/* Converts the scratch of nn_f32_target into t and frees it. */
static inline void nn_f32_commit(ml_tensor *t, float *owned) {
    if (!owned) return;
    nn_convert_from_f32(t->dtype, owned, t->data, ml_tensor_numel(t));
    free(owned);
}

/* Float body of a conv-like op: f(dims, x, w, b) -> y on float views of the
 * tensors (float16/bfloat16 converted through scratch), with the weights
 * packed at load time (node->state) used instead of w when present. */
typedef ml_status (*nn_conv_like_f32)(const ml_node *node, ml_threadpool *pool, const void *dims,
                                      const float *x, const float *w, const float *b, float *y);

static inline ml_status nn_run_conv_like_f32(const ml_node *node, ml_threadpool *pool,
                                             const void *dims, const ml_tensor *x,
                                             const ml_tensor *w, const ml_tensor *b, ml_tensor *y,
                                             nn_conv_like_f32 f) {
    const float *fx = NULL, *fw = NULL, *fb = NULL;
    float *ox = NULL, *ow = NULL, *ob = NULL, *fy = NULL, *oy = NULL;
    ml_status st = nn_f32_view(node, x, &fx, &ox);
    if (!st && node->state)
        fw = (const float *)node->state; /* packed at load time */
    else if (!st)
        st = nn_f32_view(node, w, &fw, &ow);
    if (!st && b) st = nn_f32_view(node, b, &fb, &ob);
    if (!st) st = nn_f32_target(node, y, &fy, &oy);
    if (!st) st = f(node, pool, dims, fx, fw, fb, fy);
    if (!st)
        nn_f32_commit(y, oy);
    else
        free(oy);
    free(ox);
    free(ow);
    free(ob);
    return st;
}

/* Sum of n floats, and sum of squared deviations from mean, with eight
 * independent double accumulators: no single add chain (so the loop
 * pipelines and vectorises) and double keeps long sums accurate. */
static inline double nn_sum_f32(const float *x, int64_t n) {
    int64_t i = 0;
    double s = 0;
    if (n >= 256) {
        /* 32 lanes for long runs: at -O2 on baseline x86-64 (GCC 12) this
         * halves the time of 8 (measured: 32 x 1024 floats, 11.0 -> 5.4
         * us); short runs (7x7 planes) keep 8, whose tail is shorter */
        double w[32] = {0};
        for (; i + 32 <= n; i += 32)
            for (int k = 0; k < 32; k++) w[k] += x[i + k];
        for (int h = 16; h >= 1; h /= 2)
            for (int k = 0; k < h; k++) w[k] += w[k + h];
        s = w[0];
    }
    double a[8] = {0};
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) a[k] += x[i + k];
    for (; i < n; i++) s += x[i];
    return s + (((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])));
}

static inline double nn_sqdev_f32(const float *x, int64_t n, double mean) {
    double a[8] = {0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) {
            double d = x[i + k] - mean;
            a[k] += d * d;
        }
    double s = 0;
    for (; i < n; i++) s += (x[i] - mean) * (x[i] - mean);
    return s + (((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7])));
}

/* kernel->init helper: when input i is a constant float16/bfloat16 tensor
 * (typically weights), keeps a float32 copy as the node state so runs skip
 * the conversion. Release with free(). */
static inline ml_status nn_pack_f32_init(const ml_node *node, size_t i, void **state) {
    *state = NULL;
    if (!node->const_inputs || i >= node->n_inputs || !node->const_inputs[i]) return ML_STATUS_OK;
    const ml_tensor *t = node->const_inputs[i];
    if (t->dtype != ML_FLOAT16 && t->dtype != ML_BFLOAT16) return ML_STATUS_OK;
    const float *view;
    float *owned;
    ML_TRY(nn_f32_view(node, t, &view, &owned));
    *state = owned;
    return ML_STATUS_OK;
}

/* Product of n non-negative sizes, saturating at NN_PROD_MAX so that
 * hostile shapes cannot overflow; callers compare against their limits. */
#define NN_PROD_MAX ((int64_t)1 << 61)
static inline int64_t nn_prod(int n, const int64_t *v) {
    int64_t p = 1;
    for (int i = 0; i < n; i++) {
        if (v[i] == 0) return 0;
        if (p > NN_PROD_MAX / v[i])
            p = NN_PROD_MAX;
        else
            p *= v[i];
    }
    return p;
}

/* a * b for non-negative sizes, saturating at NN_PROD_MAX. */
static inline int64_t nn_mul_sat(int64_t a, int64_t b) {
    if (a == 0 || b == 0) return 0;
    return a > NN_PROD_MAX / b ? NN_PROD_MAX : a * b;
}

/* ---- spatial geometry of Conv / pooling ---- */

/* Size bound for any one spatial parameter: keeps products well inside int64. */
#define NN_MAX_SPATIAL ((int64_t)1 << 30)

/* Load-time check of the spatial attributes shared by Conv/ConvTranspose and
 * the pools, so a bad model fails to load with a clear message instead of
 * failing every request. Shape-dependent checks happen at run time. */
static inline ml_status nn_check_spatial_attrs(const ml_node *node, bool need_kernel) {
    const char *ap = ml_attr_string(node, "auto_pad", "NOTSET");
    if (ap[0] && strcmp(ap, "NOTSET") != 0 && strcmp(ap, "SAME_UPPER") != 0 &&
        strcmp(ap, "SAME_LOWER") != 0 && strcmp(ap, "VALID") != 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "auto_pad '%s' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID",
                             ap);
    static const char *const positive[] = {"kernel_shape", "strides", "dilations"};
    for (size_t a = 0; a < 3; a++) {
        const int64_t *v;
        size_t n = ml_attr_ints(node, positive[a], &v);
        if (a == 0 && need_kernel && n == 0)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "attribute 'kernel_shape' is required");
        for (size_t i = 0; i < n; i++)
            if (v[i] < 1 || v[i] > NN_MAX_SPATIAL)
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "%s[%zu]=%lld must be in 1..2^30", positive[a], i,
                                     (long long)v[i]);
    }
    const int64_t *pads;
    size_t np = ml_attr_ints(node, "pads", &pads);
    if (np % 2 != 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "pads needs an even count, got %zu",
                             np);
    for (size_t i = 0; i < np; i++)
        if (pads[i] < 0 || pads[i] > NN_MAX_SPATIAL)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "pads[%zu]=%lld must be in 0..2^30",
                                 i, (long long)pads[i]);
    if (ml_attr_int(node, "group", 1) < 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "group must be >= 1");
    return ML_STATUS_OK;
}

typedef struct nn_geom {
    int nsp;                  /* number of spatial dims */
    int64_t in[ML_MAX_RANK];  /* input spatial sizes */
    int64_t k[ML_MAX_RANK];   /* kernel sizes */
    int64_t s[ML_MAX_RANK];   /* strides */
    int64_t d[ML_MAX_RANK];   /* dilations */
    int64_t pb[ML_MAX_RANK];  /* pads at the beginning */
    int64_t pe[ML_MAX_RANK];  /* pads at the end */
    int64_t out[ML_MAX_RANK]; /* output spatial sizes */
} nn_geom;

/* Reads strides/dilations/pads/auto_pad from node and computes output sizes
 * (ceil_mode rounds up, with windows starting in the end padding dropped as
 * the ONNX reference does). kernel[] holds nsp kernel sizes. */
static inline ml_status nn_geom_init(const ml_node *node, int nsp, const int64_t *in_sp,
                                     const int64_t *kernel, bool ceil_mode, nn_geom *g) {
    memset(g, 0, sizeof *g);
    g->nsp = nsp;
    const int64_t *strides, *dil, *pads;
    size_t ns = ml_attr_ints(node, "strides", &strides);
    size_t nd = ml_attr_ints(node, "dilations", &dil);
    size_t np = ml_attr_ints(node, "pads", &pads);
    if (ns && ns != (size_t)nsp)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "strides has %zu values but the input has %d spatial dims", ns, nsp);
    if (nd && nd != (size_t)nsp)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "dilations has %zu values but the input has %d spatial dims", nd, nsp);
    if (np && np != 2 * (size_t)nsp)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "pads has %zu values but needs %d (begin and end per spatial dim)", np,
                             2 * nsp);
    const char *ap = ml_attr_string(node, "auto_pad", "NOTSET");
    int mode; /* 0 NOTSET, 1 SAME_UPPER, 2 SAME_LOWER, 3 VALID */
    if (strcmp(ap, "NOTSET") == 0 || ap[0] == '\0')
        mode = 0;
    else if (strcmp(ap, "SAME_UPPER") == 0)
        mode = 1;
    else if (strcmp(ap, "SAME_LOWER") == 0)
        mode = 2;
    else if (strcmp(ap, "VALID") == 0)
        mode = 3;
    else
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "auto_pad '%s' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID",
                             ap);
    for (int i = 0; i < nsp; i++) {
        g->in[i] = in_sp[i];
        g->k[i] = kernel[i];
        g->s[i] = ns ? strides[i] : 1;
        g->d[i] = nd ? dil[i] : 1;
        g->pb[i] = (np && mode == 0) ? pads[i] : 0;
        g->pe[i] = (np && mode == 0) ? pads[i + nsp] : 0;
        if (g->k[i] < 1 || g->k[i] > NN_MAX_SPATIAL || g->s[i] < 1 || g->s[i] > NN_MAX_SPATIAL ||
            g->d[i] < 1 || g->d[i] > NN_MAX_SPATIAL || g->pb[i] < 0 || g->pb[i] > NN_MAX_SPATIAL ||
            g->pe[i] < 0 || g->pe[i] > NN_MAX_SPATIAL || g->in[i] > NN_MAX_SPATIAL)
            return ml_node_error(
                node, ML_ERR_INVALID_ARGUMENT,
                "spatial dim %d: kernel %lld, stride %lld, dilation %lld must be >= 1 "
                "and pads %lld/%lld >= 0 (all below 2^30)",
                i, (long long)g->k[i], (long long)g->s[i], (long long)g->d[i], (long long)g->pb[i],
                (long long)g->pe[i]);
        int64_t dk = (g->k[i] - 1) * g->d[i] + 1; /* dilated kernel extent */
        if (mode == 1 || mode == 2) {
            int64_t out = (g->in[i] + g->s[i] - 1) / g->s[i];
            int64_t total = (out - 1) * g->s[i] + dk - g->in[i];
            if (total < 0) total = 0;
            g->pb[i] = mode == 1 ? total / 2 : (total + 1) / 2;
            g->pe[i] = total - g->pb[i];
            g->out[i] = out;
            continue;
        }
        int64_t span = g->in[i] + g->pb[i] + g->pe[i] - dk;
        if (span < 0)
            return ml_node_error(
                node, ML_ERR_INVALID_ARGUMENT,
                "spatial dim %d: the kernel extent %lld exceeds the padded input %lld", i,
                (long long)dk, (long long)(g->in[i] + g->pb[i] + g->pe[i]));
        int64_t out = span / g->s[i] + 1;
        if (ceil_mode && span % g->s[i] != 0) {
            out++;
            /* a window may not start in the end padding */
            if ((out - 1) * g->s[i] >= g->in[i] + g->pb[i]) out--;
        }
        g->out[i] = out;
    }
    if (nn_prod(nsp, g->out) > ((int64_t)1 << 40))
        return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED,
                             "the output would have more than 2^40 positions per channel");
    return ML_STATUS_OK;
}

#endif
