/* LinearClassifier and LinearRegressor: scores = X * coefficients^T +
 * intercepts (one OpenBLAS sgemm per batch), then the post transform. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ml_internal.h"

typedef struct linear_state {
    float *coef; /* [k, c] row-major, owned */
    size_t n_coef;
    float *bias; /* [k] owned, or NULL */
    size_t k;    /* score columns before any binary expansion; 0 = from coef / C */
    ml_post post;
    ml_labels labels; /* classifier only; borrowed from the node's attributes */
} linear_state;

void ml_linear_destroy(void *state) {
    linear_state *s = state;
    if (!s) return;
    free(s->coef);
    free(s->bias);
    free(s);
}

static ml_status copy_floats(const ml_node *node, const char *name, float **out, size_t *n) {
    double *d;
    ML_TRY(ml_attr_reals(node, name, &d, n));
    *out = malloc(*n ? *n * sizeof **out : 1);
    if (!*out) {
        free(d);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "attribute %s", name);
    }
    for (size_t i = 0; i < *n; i++) (*out)[i] = (float)d[i];
    free(d);
    return ML_STATUS_OK;
}

static ml_status linear_init(const ml_node *node, void **state, bool classifier) {
    linear_state *s = calloc(1, sizeof *s);
    if (!s) return ml_error(ML_ERR_OUT_OF_MEMORY, "linear model state");
    ml_status st = copy_floats(node, "coefficients", &s->coef, &s->n_coef);
    size_t n_bias = 0;
    if (!st) st = copy_floats(node, "intercepts", &s->bias, &n_bias);
    if (!st) st = ml_parse_post_transform(node, &s->post);
    if (!st && s->n_coef == 0)
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "the coefficients attribute is required");
    if (!st && classifier) {
        st = ml_read_labels(node, "classlabels_ints", "classlabels_strings", true, &s->labels);
        s->k = n_bias;
    } else if (!st) {
        int64_t targets = ml_attr_int(node, "targets", 1);
        if (targets <= 0 || (size_t)targets > s->n_coef)
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                               "targets %lld does not fit %zu coefficients", (long long)targets,
                               s->n_coef);
        s->k = (size_t)targets;
    }
    if (!st && n_bias && s->k && n_bias != s->k)
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                           "intercepts has %zu entries, expected %zu", n_bias, s->k);
    if (!st && n_bias == 0) {
        free(s->bias);
        s->bias = NULL;
    }
    if (st) {
        ml_linear_destroy(s);
        return st;
    }
    *state = s;
    return ML_STATUS_OK;
}

ml_status ml_linear_classifier_init(const ml_node *node, void **state) {
    return linear_init(node, state, true);
}
ml_status ml_linear_regressor_init(const ml_node *node, void **state) {
    return linear_init(node, state, false);
}

/* Raw scores [n, k] = X W^T + b into out. */
static void linear_scores(const linear_state *s, const float *x, size_t n, size_t c, size_t k,
                          float *out) {
    if (n == 0 || k == 0) return;
    if (c == 0) {
        memset(out, 0, n * k * sizeof *out);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)n, (int)k, (int)c, 1.0f, x,
                    (int)c, s->coef, (int)c, 0.0f, out, (int)k);
    }
    if (s->bias)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < k; j++) out[i * k + j] += s->bias[j];
}

/* Checks X against the coefficients; returns rows, features and k. */
static ml_status linear_prepare(ml_kernel_ctx *ctx, const linear_state *s, const float **x,
                                float **owned, size_t *n, size_t *c, size_t *k) {
    const ml_tensor *xt;
    ML_TRY(ml_require_input(ctx, 0, &xt));
    ML_TRY(ml_feature_rows(ctx->node, xt, n, c));
    *k = s->k;
    if (!*k) *k = *c ? s->n_coef / *c : 0;
    if (*k == 0 || *k * *c != s->n_coef)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "X has %zu features per row, which does not divide the %zu "
                             "coefficients into rows",
                             *c, s->n_coef);
    if (*n > INT32_MAX || *c > INT32_MAX || *k > INT32_MAX)
        return ml_node_error(ctx->node, ML_ERR_RESOURCE_EXHAUSTED, "X is too large");
    return ml_as_f32(ctx->node, xt, x, owned);
}

ml_status ml_linear_regressor_run(ml_kernel_ctx *ctx) {
    const linear_state *s = ctx->node->state;
    const float *x;
    float *owned;
    size_t n, c, k;
    ML_TRY(linear_prepare(ctx, s, &x, &owned, &n, &c, &k));
    int64_t dims[2] = {(int64_t)n, (int64_t)k};
    ml_tensor *y;
    ml_status st = ml_output_tensor(ctx, 0, ML_FLOAT, 2, dims, &y);
    if (!st) {
        linear_scores(s, x, n, c, k, y->data);
        if (s->post != ML_POST_NONE)
            for (size_t i = 0; i < n; i++) ml_post_apply(s->post, (float *)y->data + i * k, k);
    }
    free(owned);
    return st;
}

ml_status ml_linear_classifier_run(ml_kernel_ctx *ctx) {
    const linear_state *s = ctx->node->state;
    const float *x;
    float *owned;
    size_t n, c, k;
    ML_TRY(linear_prepare(ctx, s, &x, &owned, &n, &c, &k));
    ml_status st = ML_STATUS_OK;
    bool binary = k == 1 && s->labels.n == 2; /* one score expands to [-s, s] */
    size_t cols = binary ? 2 : k;
    if (!binary && s->labels.n && s->labels.n != k && k != 1) {
        free(owned);
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "%zu score columns but %zu class labels", k, s->labels.n);
    }
    int64_t dims[2] = {(int64_t)n, (int64_t)cols};
    ml_tensor *z = NULL;
    float *scores;
    if (ctx->n_outputs > 1) {
        st = ml_output_tensor(ctx, 1, ML_FLOAT, 2, dims, &z);
        scores = z ? z->data : NULL;
    } else {
        size_t total = n * cols;
        scores = malloc(total ? total * sizeof *scores : 1);
        if (!scores) st = ml_error(ML_ERR_OUT_OF_MEMORY, "linear scores");
    }
    int64_t *idx = st ? NULL : malloc(n ? n * sizeof *idx : 1);
    if (!st && !idx) st = ml_error(ML_ERR_OUT_OF_MEMORY, "linear labels");
    if (st) goto done;
    linear_scores(s, x, n, c, k, scores);
    if (binary)
        for (size_t i = n; i-- > 0;) { /* expand in place, back to front */
            float v = scores[i];
            scores[2 * i] = -v;
            scores[2 * i + 1] = v;
        }
    for (size_t i = 0; i < n; i++) {
        float *row = scores + i * cols;
        ml_post_apply(s->post, row, cols);
        if (cols == 1) {
            float thr = s->post == ML_POST_NONE ? 0.0f : 0.5f;
            idx[i] = row[0] >= thr ? 1 : 0;
            continue;
        }
        size_t best = 0;
        for (size_t j = 1; j < cols; j++)
            if (row[j] > row[best]) best = j;
        idx[i] = (int64_t)best;
    }
    if (cols == 1) {
        /* single score: the first label when positive, else 0 / "" */
        dims[0] = (int64_t)n;
        ml_tensor *y;
        if (s->labels.strings) {
            st = ml_output_tensor(ctx, 0, ML_STRING, 1, dims, &y);
            for (size_t i = 0; i < n && !st; i++)
                st = idx[i] ? ml_tensor_set_string(y, i, s->labels.strings[0].data,
                                                   s->labels.strings[0].len)
                            : ml_tensor_set_string(y, i, "", 0);
        } else {
            st = ml_output_tensor(ctx, 0, ML_INT64, 1, dims, &y);
            for (size_t i = 0; i < n && !st; i++)
                ((int64_t *)y->data)[i] = idx[i] ? (s->labels.n ? s->labels.ints[0] : 1) : 0;
        }
    } else {
        st = ml_write_labels(ctx, 0, &s->labels, idx, n);
    }
done:
    free(idx);
    if (!z) free(scores);
    free(owned);
    return st;
}
