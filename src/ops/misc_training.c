/* Optimizer ops of the ai.onnx.preview.training domain (opset 1): Adagrad,
 * Adam and Momentum (standard and Nesterov). Inputs are R (learning rate),
 * T (update count) and then n tensors of each kind; the formulas follow the
 * ONNX spec, computed in double per element. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/misc_internal.h"
#include "ops/misc_util.h"

/* Validates R/T and the groups count; returns n (tensors per group). */
static ml_status optim_prologue(ml_kernel_ctx *ctx, size_t groups, double *r, int64_t *t,
                                size_t *n) {
    const ml_node *node = ctx->node;
    const ml_tensor *R, *T;
    ML_TRY(ml_require_input(ctx, 0, &R));
    ML_TRY(ml_require_input(ctx, 1, &T));
    if (ml_tensor_numel(R) != 1 || !misc_is_float_type(R->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "R must be a float scalar");
    if (ml_tensor_numel(T) != 1 || !ml_dtype_is_integer(T->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "T must be an int64 scalar");
    *r = ml_tensor_get_f64(R, 0);
    *t = misc_get_i64(T, 0);
    size_t extra = ctx->n_inputs - 2;
    if (ctx->n_inputs < 2 + groups || extra % groups)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "expected R, T and %zu groups of equally many tensors, got %zu inputs",
                             groups, ctx->n_inputs);
    *n = extra / groups;
    if (ctx->n_outputs > (groups - 1) * *n)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "too many outputs (%zu)",
                             ctx->n_outputs);
    for (size_t i = 0; i < extra; i++) {
        const ml_tensor *x;
        ML_TRY(ml_require_input(ctx, 2 + i, &x));
        const ml_tensor *x0 = ml_input(ctx, 2 + i % *n);
        if (!misc_is_float_type(x->dtype) || !ml_shape_equal(x->rank, x->dims, x0->rank, x0->dims))
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "input %zu must be a float tensor shaped like input %zu", 2 + i,
                                 2 + i % *n);
    }
    return ML_STATUS_OK;
}

/* Loads tensor group g, item i of an optimizer's inputs as doubles. */
static double *load(const ml_kernel_ctx *ctx, size_t n, size_t g, size_t i) {
    const ml_tensor *t = ml_input(ctx, 2 + g * n + i);
    size_t m = ml_tensor_numel(t);
    double *d = malloc((m + 1) * sizeof(double));
    if (d) misc_to_f64(t, d, m);
    return d;
}

static ml_status store(ml_kernel_ctx *ctx, size_t out_i, const ml_tensor *like, const double *v) {
    if (out_i >= ctx->n_outputs || !ml_output_wanted(ctx, out_i)) return ML_STATUS_OK;
    ml_tensor *o;
    ML_TRY(ml_output_tensor(ctx, out_i, like->dtype, like->rank, like->dims, &o));
    misc_from_f64(o, v, ml_tensor_numel(like));
    return ML_STATUS_OK;
}

/* Runs fn over each of the n tensor slots; bufs[g] holds group g. */
typedef void (*optim_fn)(const ml_node *node, double r, int64_t t, size_t m, double **bufs);

static ml_status optim_run(ml_kernel_ctx *ctx, size_t groups, optim_fn fn) {
    double r = 0;
    int64_t t = 0;
    size_t n = 0;
    ML_TRY(optim_prologue(ctx, groups, &r, &t, &n));
    for (size_t i = 0; i < n; i++) {
        double *bufs[4] = {0};
        ml_status st = ML_STATUS_OK;
        for (size_t g = 0; g < groups; g++)
            if (!(bufs[g] = load(ctx, n, g, i)))
                st = ml_node_error(ctx->node, ML_ERR_OUT_OF_MEMORY, "out of memory");
        const ml_tensor *x = ml_input(ctx, 2 + i);
        if (!st) {
            fn(ctx->node, r, t, ml_tensor_numel(x), bufs);
            /* outputs: X_new for each i, then the state groups (all but G) */
            st = store(ctx, i, x, bufs[0]);
            for (size_t g = 2; g < groups && !st; g++) st = store(ctx, (g - 1) * n + i, x, bufs[g]);
        }
        for (size_t g = 0; g < groups; g++) free(bufs[g]);
        if (st) return st;
    }
    return ML_STATUS_OK;
}

static void adagrad(const ml_node *node, double R, int64_t T, size_t m, double **b) {
    double decay = ml_attr_float(node, "decay_factor", 0.0f);
    double eps = ml_attr_float(node, "epsilon", 1e-6f);
    double norm = ml_attr_float(node, "norm_coefficient", 0.0f);
    double r = R / (1.0 + (double)T * decay);
    double *X = b[0], *G = b[1], *H = b[2];
    for (size_t k = 0; k < m; k++) {
        double g = norm * X[k] + G[k];
        H[k] += g * g;
        X[k] -= r * g / (sqrt(H[k]) + eps);
    }
}

static void adam(const ml_node *node, double R, int64_t T, size_t m, double **b) {
    double alpha = ml_attr_float(node, "alpha", 0.9f), beta = ml_attr_float(node, "beta", 0.999f);
    double eps = ml_attr_float(node, "epsilon", 1e-6f);
    double norm = ml_attr_float(node, "norm_coefficient", 0.0f);
    double post = ml_attr_float(node, "norm_coefficient_post", 0.0f);
    double ra = T > 0 ? R * sqrt(1.0 - pow(beta, (double)T)) / (1.0 - pow(alpha, (double)T)) : R;
    double *X = b[0], *G = b[1], *V = b[2], *H = b[3];
    for (size_t k = 0; k < m; k++) {
        double g = norm * X[k] + G[k];
        V[k] = alpha * V[k] + (1 - alpha) * g;
        H[k] = beta * H[k] + (1 - beta) * g * g;
        double x = X[k] - ra * (V[k] / (sqrt(H[k]) + eps));
        X[k] = (1 - post) * x;
    }
}

static void momentum(const ml_node *node, double R, int64_t T, size_t m, double **b) {
    double alpha = ml_attr_float(node, "alpha", 0.9f), beta = ml_attr_float(node, "beta", 1.0f);
    double norm = ml_attr_float(node, "norm_coefficient", 0.0f);
    bool nesterov = strcmp(ml_attr_string(node, "mode", "standard"), "nesterov") == 0;
    double ba = T > 0 ? beta : 1.0;
    double *X = b[0], *G = b[1], *V = b[2];
    for (size_t k = 0; k < m; k++) {
        double g = norm * X[k] + G[k];
        V[k] = alpha * V[k] + ba * g;
        X[k] -= nesterov ? R * (g + alpha * V[k]) : R * V[k];
    }
}

ml_status misc_run_adagrad(ml_kernel_ctx *ctx) {
    return optim_run(ctx, 3, adagrad);
}
ml_status misc_run_adam(ml_kernel_ctx *ctx) {
    return optim_run(ctx, 4, adam);
}

ml_status misc_run_momentum(ml_kernel_ctx *ctx) {
    const char *mode = ml_attr_string(ctx->node, "mode", "standard");
    if (strcmp(mode, "standard") && strcmp(mode, "nesterov"))
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "mode '%s' must be standard or nesterov", mode);
    return optim_run(ctx, 3, momentum);
}
