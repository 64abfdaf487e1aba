/* Helpers shared by the ai.onnx.ml kernels (see ml_internal.h). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ml_internal.h"

ml_status ml_feature_rows(const ml_node *node, const ml_tensor *x, size_t *n, size_t *c) {
    if (x->dtype == ML_STRING || x->dtype == ML_COMPLEX64 || x->dtype == ML_COMPLEX128 ||
        x->dtype == ML_UNDEFINED)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "input X must be numeric, got %s",
                             ml_dtype_name(x->dtype));
    if (x->rank == 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "input X must have shape [C] or [N, C], got a scalar");
    if (x->rank == 1) {
        *n = 1;
        *c = (size_t)x->dims[0];
        return ML_STATUS_OK;
    }
    *n = (size_t)x->dims[0];
    size_t cols = 1;
    for (int i = 1; i < x->rank; i++) cols *= (size_t)x->dims[i];
    *c = cols;
    return ML_STATUS_OK;
}

static ml_status as_real(const ml_node *node, const ml_tensor *x, ml_dtype want, const void **data,
                         void **owned) {
    *owned = NULL;
    if (x->dtype == want) {
        *data = x->data;
        return ML_STATUS_OK;
    }
    if (x->dtype == ML_STRING || x->dtype == ML_COMPLEX64 || x->dtype == ML_COMPLEX128)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "input must be numeric, got %s",
                             ml_dtype_name(x->dtype));
    size_t n = ml_tensor_numel(x);
    size_t es = want == ML_FLOAT ? sizeof(float) : sizeof(double);
    void *buf = malloc(n ? n * es : 1);
    if (!buf) return ml_error(ML_ERR_OUT_OF_MEMORY, "converting %zu features", n);
    if (want == ML_FLOAT) {
        float *f = buf;
        if (x->dtype == ML_DOUBLE) {
            const double *s = x->data;
            for (size_t i = 0; i < n; i++) f[i] = (float)s[i];
        } else if (x->dtype == ML_INT64) {
            const int64_t *s = x->data;
            for (size_t i = 0; i < n; i++) f[i] = (float)s[i];
        } else if (x->dtype == ML_INT32) {
            const int32_t *s = x->data;
            for (size_t i = 0; i < n; i++) f[i] = (float)s[i];
        } else {
            for (size_t i = 0; i < n; i++) f[i] = (float)ml_tensor_get_f64(x, i);
        }
    } else {
        double *d = buf;
        if (x->dtype == ML_FLOAT) {
            const float *s = x->data;
            for (size_t i = 0; i < n; i++) d[i] = s[i];
        } else {
            for (size_t i = 0; i < n; i++) d[i] = ml_tensor_get_f64(x, i);
        }
    }
    *data = buf;
    *owned = buf;
    return ML_STATUS_OK;
}

ml_status ml_as_f32(const ml_node *node, const ml_tensor *x, const float **data, float **owned) {
    const void *d;
    void *o;
    ML_TRY(as_real(node, x, ML_FLOAT, &d, &o));
    *data = d;
    *owned = o;
    return ML_STATUS_OK;
}

ml_status ml_as_f64(const ml_node *node, const ml_tensor *x, const double **data, double **owned) {
    const void *d;
    void *o;
    ML_TRY(as_real(node, x, ML_DOUBLE, &d, &o));
    *data = d;
    *owned = o;
    return ML_STATUS_OK;
}

ml_status ml_attr_reals(const ml_node *node, const char *name, double **out, size_t *n) {
    *out = NULL;
    *n = 0;
    char tname[128];
    snprintf(tname, sizeof tname, "%s_as_tensor", name);
    const ml_tensor *t = ml_attr_tensor(node, tname);
    if (t) {
        if (t->dtype != ML_FLOAT && t->dtype != ML_DOUBLE)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "attribute %s must be a float or double tensor, got %s", tname,
                                 ml_dtype_name(t->dtype));
        size_t k = ml_tensor_numel(t);
        double *d = malloc(k ? k * sizeof *d : 1);
        if (!d) return ml_error(ML_ERR_OUT_OF_MEMORY, "attribute %s", tname);
        for (size_t i = 0; i < k; i++) d[i] = ml_tensor_get_f64(t, i);
        *out = d;
        *n = k;
        return ML_STATUS_OK;
    }
    const float *f;
    size_t k = ml_attr_floats(node, name, &f);
    if (!k) return ML_STATUS_OK;
    double *d = malloc(k * sizeof *d);
    if (!d) return ml_error(ML_ERR_OUT_OF_MEMORY, "attribute %s", name);
    for (size_t i = 0; i < k; i++) d[i] = f[i];
    *out = d;
    *n = k;
    return ML_STATUS_OK;
}

ml_status ml_parse_post_transform(const ml_node *node, ml_post *out) {
    const char *s = ml_attr_string(node, "post_transform", "NONE");
    if (strcmp(s, "NONE") == 0)
        *out = ML_POST_NONE;
    else if (strcmp(s, "LOGISTIC") == 0)
        *out = ML_POST_LOGISTIC;
    else if (strcmp(s, "SOFTMAX") == 0)
        *out = ML_POST_SOFTMAX;
    else if (strcmp(s, "SOFTMAX_ZERO") == 0)
        *out = ML_POST_SOFTMAX_ZERO;
    else if (strcmp(s, "PROBIT") == 0)
        *out = ML_POST_PROBIT;
    else
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "post_transform '%s' is not one of NONE, LOGISTIC, SOFTMAX, "
                             "SOFTMAX_ZERO, PROBIT",
                             s);
    return ML_STATUS_OK;
}

float ml_logistic(float x) {
    /* symmetric form: exp never overflows */
    float v = 1.0f / (1.0f + expf(-fabsf(x)));
    return x < 0 ? 1.0f - v : v;
}

/* Inverse error function, the closed-form approximation (a = 0.147) used
 * by the ONNX reference and onnxruntime, so PROBIT outputs match them. */
static float erf_inv(float x) {
    float sgn = x < 0 ? -1.0f : 1.0f;
    x = (1.0f - x) * (1.0f + x);
    if (x == 0) return 0;
    float lg = logf(x);
    float v = 2.0f / (3.14159265358979f * 0.147f) + 0.5f * lg;
    float v2 = 1.0f / 0.147f * lg;
    float v3 = -v + sqrtf(v * v - v2);
    return sgn * sqrtf(v3);
}

float ml_probit(float x) {
    return 1.41421356f * erf_inv(x * 2 - 1);
}

void ml_post_apply(ml_post p, float *row, size_t n) {
    switch (p) {
    case ML_POST_NONE:
        return;
    case ML_POST_LOGISTIC:
        for (size_t i = 0; i < n; i++) row[i] = ml_logistic(row[i]);
        return;
    case ML_POST_PROBIT:
        for (size_t i = 0; i < n; i++) row[i] = ml_probit(row[i]);
        return;
    case ML_POST_SOFTMAX: {
        if (!n) return;
        float m = row[0], s = 0;
        for (size_t i = 1; i < n; i++) m = row[i] > m ? row[i] : m;
        for (size_t i = 0; i < n; i++) {
            row[i] = expf(row[i] - m);
            s += row[i];
        }
        for (size_t i = 0; i < n; i++) row[i] /= s;
        return;
    }
    case ML_POST_SOFTMAX_ZERO: {
        /* like softmax, but exact zeros (absent scores) stay zero */
        if (!n) return;
        float m = row[0], s = 0;
        for (size_t i = 1; i < n; i++) m = row[i] > m ? row[i] : m;
        float e0 = expf(-m);
        for (size_t i = 0; i < n; i++) {
            if (row[i] > 1e-7f || row[i] < -1e-7f)
                row[i] = expf(row[i] - m);
            else
                row[i] *= e0;
            s += row[i];
        }
        if (s == 0)
            for (size_t i = 0; i < n; i++) row[i] = 0.5f;
        else
            for (size_t i = 0; i < n; i++) row[i] /= s;
        return;
    }
    }
}

ml_status ml_read_labels(const ml_node *node, const char *int_name, const char *str_name,
                         bool allow_empty, ml_labels *out) {
    memset(out, 0, sizeof *out);
    const int64_t *ints;
    const ml_str *strs;
    size_t ni = ml_attr_ints(node, int_name, &ints);
    size_t ns = ml_attr_strings(node, str_name, &strs);
    if (ni && ns)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "only one of %s and %s may be set",
                             int_name, str_name);
    if (ni) {
        out->n = ni;
        out->ints = ints;
    } else if (ns) {
        out->n = ns;
        out->strings = strs;
    } else if (!allow_empty) {
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "one of %s or %s is required", int_name,
                             str_name);
    }
    return ML_STATUS_OK;
}

ml_status ml_write_labels(ml_kernel_ctx *ctx, size_t out_index, const ml_labels *labels,
                          const int64_t *idx, size_t n) {
    int64_t dims[1] = {(int64_t)n};
    ml_tensor *y;
    if (labels->strings) {
        ML_TRY(ml_output_tensor(ctx, out_index, ML_STRING, 1, dims, &y));
        for (size_t i = 0; i < n; i++) {
            const ml_str *s = &labels->strings[idx[i]];
            ML_TRY(ml_tensor_set_string(y, i, s->data, s->len));
        }
        return ML_STATUS_OK;
    }
    ML_TRY(ml_output_tensor(ctx, out_index, ML_INT64, 1, dims, &y));
    int64_t *o = y->data;
    for (size_t i = 0; i < n; i++) o[i] = labels->ints ? labels->ints[idx[i]] : idx[i];
    return ML_STATUS_OK;
}

size_t ml_rows_per_chunk(size_t row_cost) {
    /* ~32k operations per chunk keeps scheduling overhead negligible */
    size_t c = row_cost ? 32768 / row_cost : 32768;
    return c ? c : 1;
}
