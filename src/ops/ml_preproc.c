/* Feature preprocessing of the ai.onnx.ml domain: Scaler, Normalizer,
 * Binarizer, Imputer, ArrayFeatureExtractor, FeatureVectorizer. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ml_internal.h"

/* Y = (X - offset) * scale per column; offset/scale hold 1 or C values. */
ml_status ml_scaler_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    size_t n, c;
    ML_TRY(ml_feature_rows(node, x, &n, &c));
    const float *offset, *scale;
    size_t no = ml_attr_floats(node, "offset", &offset);
    size_t ns = ml_attr_floats(node, "scale", &scale);
    if ((no != 0 && no != 1 && no != c) || (ns != 0 && ns != 1 && ns != c))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "offset (%zu values) and scale (%zu values) must have 1 or %zu values",
                             no, ns, c);
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, ML_FLOAT, x->rank, x->dims, &y));
    const float *xf;
    float *owned;
    ML_TRY(ml_as_f32(node, x, &xf, &owned));
    float *o = y->data;
    for (size_t i = 0; i < n; i++) {
        const float *xr = xf + i * c;
        float *orow = o + i * c;
        for (size_t j = 0; j < c; j++) {
            float off = no == 0 ? 0.0f : offset[no == 1 ? 0 : j];
            float sc = ns == 0 ? 1.0f : scale[ns == 1 ? 0 : j];
            orow[j] = (xr[j] - off) * sc;
        }
    }
    free(owned);
    return ML_STATUS_OK;
}

/* Per-row MAX (largest |x|), L1 or L2 normalisation; zero rows stay zero. */
ml_status ml_normalizer_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const char *norm = ml_attr_string(node, "norm", "MAX");
    int kind;
    if (strcmp(norm, "MAX") == 0)
        kind = 0;
    else if (strcmp(norm, "L1") == 0)
        kind = 1;
    else if (strcmp(norm, "L2") == 0)
        kind = 2;
    else
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "norm '%s' is not one of MAX, L1, L2",
                             norm);
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    size_t n, c;
    ML_TRY(ml_feature_rows(node, x, &n, &c));
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, ML_FLOAT, x->rank, x->dims, &y));
    const double *xd;
    double *owned;
    ML_TRY(ml_as_f64(node, x, &xd, &owned));
    float *o = y->data;
    for (size_t i = 0; i < n; i++) {
        const double *r = xd + i * c;
        double d = 0;
        for (size_t j = 0; j < c; j++) {
            double a = fabs(r[j]);
            if (kind == 0)
                d = a > d ? a : d;
            else if (kind == 1)
                d += a;
            else
                d += a * a;
        }
        if (kind == 2) d = sqrt(d);
        for (size_t j = 0; j < c; j++) o[i * c + j] = (float)(d != 0 ? r[j] / d : r[j]);
    }
    free(owned);
    return ML_STATUS_OK;
}

ml_status ml_binarizer_run(ml_kernel_ctx *ctx) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (x->dtype != ML_FLOAT && x->dtype != ML_DOUBLE && x->dtype != ML_INT64 &&
        x->dtype != ML_INT32)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "X must be float, double, int64 or int32, got %s",
                             ml_dtype_name(x->dtype));
    double thr = ml_attr_float(ctx->node, "threshold", 0.0f);
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
    size_t n = ml_tensor_numel(x);
    if (x->dtype == ML_FLOAT) {
        const float *a = x->data;
        float *o = y->data, t = (float)thr;
        for (size_t i = 0; i < n; i++) o[i] = a[i] > t ? 1.0f : 0.0f;
    } else {
        for (size_t i = 0; i < n; i++) ml_tensor_set_f64(y, i, ml_tensor_get_f64(x, i) > thr);
    }
    return ML_STATUS_OK;
}

/* Replaces elements equal to replaced_value_float/_int64 (every NaN when
 * replaced_value_float is NaN) by the column's imputed value. */
ml_status ml_imputer_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    size_t n, c;
    ML_TRY(ml_feature_rows(node, x, &n, &c));
    bool is_float = x->dtype == ML_FLOAT || x->dtype == ML_DOUBLE;
    if (!is_float && x->dtype != ML_INT64 && x->dtype != ML_INT32)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "X must be float, double, int64 or int32, got %s",
                             ml_dtype_name(x->dtype));
    const float *fv;
    const int64_t *iv;
    size_t nf = ml_attr_floats(node, "imputed_value_floats", &fv);
    size_t ni = ml_attr_ints(node, "imputed_value_int64s", &iv);
    size_t nv = is_float ? nf : ni;
    if (nv == 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s input needs the %s attribute",
                             ml_dtype_name(x->dtype),
                             is_float ? "imputed_value_floats" : "imputed_value_int64s");
    if (nv != 1 && nv != c)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "%zu imputed values for %zu columns (need 1 or %zu)", nv, c, c);
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
    size_t total = n * c;
    if (is_float) {
        double rep = ml_attr_float(node, "replaced_value_float", 0.0f);
        bool nan = isnan(rep);
        for (size_t i = 0; i < total; i++) {
            double v = ml_tensor_get_f64(x, i);
            bool hit = nan ? isnan(v) : v == rep;
            ml_tensor_set_f64(y, i, hit ? fv[nv == 1 ? 0 : i % c] : v);
        }
    } else {
        int64_t rep = ml_attr_int(node, "replaced_value_int64", 0);
        for (size_t i = 0; i < total; i++) {
            int64_t v = x->dtype == ML_INT64 ? ((const int64_t *)x->data)[i]
                                             : ((const int32_t *)x->data)[i];
            int64_t r = v == rep ? iv[nv == 1 ? 0 : i % c] : v;
            if (x->dtype == ML_INT64)
                ((int64_t *)y->data)[i] = r;
            else
                ((int32_t *)y->data)[i] = (int32_t)r;
        }
    }
    return ML_STATUS_OK;
}

/* Selects columns Y (int64) of the last axis of X; a 1-D X gives [1, k]. */
ml_status ml_array_feature_extractor_run(ml_kernel_ctx *ctx) {
    const ml_tensor *x, *yi;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &yi));
    if (yi->dtype != ML_INT64)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "indices must be int64, got %s",
                             ml_dtype_name(yi->dtype));
    if (x->rank == 0)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "X must have at least one axis");
    size_t k = ml_tensor_numel(yi);
    const int64_t *idx = yi->data;
    int64_t last = x->dims[x->rank - 1];
    for (size_t i = 0; i < k; i++)
        if (idx[i] < 0 || idx[i] >= last)
            return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                                 "index %lld is out of range [0, %lld)", (long long)idx[i],
                                 (long long)last);
    int64_t dims[ML_MAX_RANK];
    int rank = x->rank;
    if (rank == 1) {
        rank = 2;
        dims[0] = 1;
        dims[1] = (int64_t)k;
    } else {
        memcpy(dims, x->dims, sizeof(int64_t) * (size_t)rank);
        dims[rank - 1] = (int64_t)k;
    }
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, rank, dims, &y));
    size_t rows = 1;
    for (int i = 0; i < x->rank - 1; i++) rows *= (size_t)x->dims[i];
    if (x->dtype == ML_STRING) {
        const ml_str *in = x->data;
        for (size_t r = 0; r < rows; r++)
            for (size_t i = 0; i < k; i++) {
                const ml_str *s = &in[r * (size_t)last + (size_t)idx[i]];
                ML_TRY(ml_tensor_set_string(y, r * k + i, s->data, s->len));
            }
        return ML_STATUS_OK;
    }
    size_t es = ml_dtype_size(x->dtype);
    const char *in = x->data;
    char *o = y->data;
    for (size_t r = 0; r < rows; r++)
        for (size_t i = 0; i < k; i++)
            memcpy(o + (r * k + i) * es, in + (r * (size_t)last + (size_t)idx[i]) * es, es);
    return ML_STATUS_OK;
}

/* Concatenates the inputs' columns into float [N, sum(inputdimensions)],
 * truncating or zero-padding each input to its declared width. */
ml_status ml_feature_vectorizer_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const int64_t *widths;
    size_t nw = ml_attr_ints(node, "inputdimensions", &widths);
    if (nw != ctx->n_inputs)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "inputdimensions has %zu entries for %zu inputs", nw, ctx->n_inputs);
    size_t total = 0, n = 0;
    for (size_t i = 0; i < nw; i++) {
        if (widths[i] < 0 || widths[i] > (1 << 24))
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "inputdimensions[%zu] = %lld", i,
                                 (long long)widths[i]);
        total += (size_t)widths[i];
        const ml_tensor *x;
        ML_TRY(ml_require_input(ctx, i, &x));
        size_t rows, c;
        ML_TRY(ml_feature_rows(node, x, &rows, &c));
        if (i == 0)
            n = rows;
        else if (rows != n)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "input %zu has %zu rows, input 0 has %zu", i, rows, n);
    }
    int64_t dims[2] = {(int64_t)n, (int64_t)total};
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, ML_FLOAT, 2, dims, &y));
    float *o = y->data;
    size_t col = 0;
    for (size_t i = 0; i < nw; i++) {
        const ml_tensor *x = ml_input(ctx, i);
        size_t rows, c;
        ML_TRY(ml_feature_rows(node, x, &rows, &c));
        const float *xf;
        float *owned;
        ML_TRY(ml_as_f32(node, x, &xf, &owned));
        size_t w = (size_t)widths[i], copy = c < w ? c : w;
        for (size_t r = 0; r < n; r++) {
            float *dst = o + r * total + col;
            memcpy(dst, xf + r * c, copy * sizeof *dst);
            for (size_t j = copy; j < w; j++) dst[j] = 0;
        }
        free(owned);
        col += w;
    }
    return ML_STATUS_OK;
}
