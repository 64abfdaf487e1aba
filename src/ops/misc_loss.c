/* NegativeLogLikelihoodLoss (12, 13) and SoftmaxCrossEntropyLoss (12, 13).
 * Both reduce to the same weighted gather over log-probabilities laid out
 * as [N, C, D] (D = product of the extra dims), computed in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/misc_internal.h"
#include "ops/misc_util.h"

typedef enum reduction { RED_NONE, RED_SUM, RED_MEAN } reduction;

static ml_status parse_reduction(const ml_node *node, reduction *out) {
    const char *r = ml_attr_string(node, "reduction", "mean");
    if (!strcmp(r, "none"))
        *out = RED_NONE;
    else if (!strcmp(r, "sum"))
        *out = RED_SUM;
    else if (!strcmp(r, "mean"))
        *out = RED_MEAN;
    else
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "reduction '%s' must be none, sum or mean", r);
    return ML_STATUS_OK;
}

/* Checks input [N,C,d...] against target [N,d...] and weight [C]. */
static ml_status check_shapes(const ml_node *node, const ml_tensor *in, const ml_tensor *tg,
                              const ml_tensor *w) {
    if (!misc_is_float_type(in->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "input must be a float tensor, got %s",
                             ml_dtype_name(in->dtype));
    if (in->rank < 2 || tg->rank != in->rank - 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "input must be [N,C,d1...] and target [N,d1...] (ranks %d and %d)",
                             in->rank, tg->rank);
    if (tg->dtype != ML_INT32 && tg->dtype != ML_INT64)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "target must be int32 or int64");
    for (int i = 0; i < tg->rank; i++)
        if (tg->dims[i] != in->dims[i == 0 ? 0 : i + 1])
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "target dim %d is %lld but input has %lld", i,
                                 (long long)tg->dims[i], (long long)in->dims[i == 0 ? 0 : i + 1]);
    if (w && (w->rank != 1 || w->dims[0] != in->dims[1] || !misc_is_float_type(w->dtype)))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "weight must be a float vector of C=%lld", (long long)in->dims[1]);
    return ML_STATUS_OK;
}

/* lp: log-probabilities [N, C, D]; writes the loss into output 0. */
static ml_status nll_core(ml_kernel_ctx *ctx, const double *lp, const ml_tensor *in,
                          const ml_tensor *tg, const ml_tensor *w, ml_dtype out_dt) {
    const ml_node *node = ctx->node;
    reduction red = RED_MEAN;
    ML_TRY(parse_reduction(node, &red));
    const ml_attr *ii = ml_node_attr(node, "ignore_index");
    bool has_ii = ii && ii->type == ML_ATTR_INT;
    int64_t ignore = has_ii ? ii->i : 0;
    const int64_t N = in->dims[0], C = in->dims[1];
    size_t D = 1;
    for (int i = 2; i < in->rank; i++) D *= (size_t)in->dims[i];
    size_t n_t = (size_t)N * D;
    double *loss = malloc((n_t + 1) * sizeof(double));
    double *wv = w ? malloc(((size_t)C + 1) * sizeof(double)) : NULL;
    if (!loss || (w && !wv)) {
        free(loss), free(wv);
        return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    if (w) misc_to_f64(w, wv, (size_t)C);
    double wsum = 0, lsum = 0;
    for (int64_t n = 0; n < N; n++)
        for (size_t d = 0; d < D; d++) {
            size_t k = (size_t)n * D + d;
            int64_t t = misc_get_i64(tg, k);
            if (has_ii && t == ignore) {
                loss[k] = 0;
                continue;
            }
            if (t < 0 || t >= C) {
                free(loss), free(wv);
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "target value %lld is outside [0, %lld)", (long long)t,
                                     (long long)C);
            }
            double wt = wv ? wv[t] : 1.0;
            loss[k] = -lp[((size_t)n * (size_t)C + (size_t)t) * D + d] * wt;
            wsum += wt;
            lsum += loss[k];
        }
    ml_tensor *out;
    ml_status st;
    if (red == RED_NONE) {
        st = ml_output_tensor(ctx, 0, out_dt, tg->rank, tg->dims, &out);
        if (!st) misc_from_f64(out, loss, n_t);
    } else {
        st = ml_output_tensor(ctx, 0, out_dt, 0, NULL, &out);
        double v = red == RED_SUM ? lsum : lsum / wsum;
        if (!st) misc_from_f64(out, &v, 1);
    }
    free(loss), free(wv);
    return st;
}

ml_status misc_run_nll_loss(ml_kernel_ctx *ctx) {
    const ml_tensor *in, *tg, *w = ml_input(ctx, 2);
    ML_TRY(ml_require_input(ctx, 0, &in));
    ML_TRY(ml_require_input(ctx, 1, &tg));
    ML_TRY(check_shapes(ctx->node, in, tg, w));
    size_t n = ml_tensor_numel(in);
    double *lp = malloc((n + 1) * sizeof(double));
    if (!lp) return ml_node_error(ctx->node, ML_ERR_OUT_OF_MEMORY, "out of memory");
    misc_to_f64(in, lp, n);
    ml_status st = nll_core(ctx, lp, in, tg, w, in->dtype);
    free(lp);
    return st;
}

ml_status misc_run_softmax_ce_loss(ml_kernel_ctx *ctx) {
    const ml_tensor *in, *tg, *w = ml_input(ctx, 2);
    ML_TRY(ml_require_input(ctx, 0, &in));
    ML_TRY(ml_require_input(ctx, 1, &tg));
    ML_TRY(check_shapes(ctx->node, in, tg, w));
    size_t n = ml_tensor_numel(in);
    double *lp = malloc((n + 1) * sizeof(double));
    if (!lp) return ml_node_error(ctx->node, ML_ERR_OUT_OF_MEMORY, "out of memory");
    misc_to_f64(in, lp, n);
    const int64_t N = in->dims[0], C = in->dims[1];
    size_t D = 1;
    for (int i = 2; i < in->rank; i++) D *= (size_t)in->dims[i];
    /* log-softmax over C (stride D) */
    for (int64_t b = 0; b < N; b++)
        for (size_t d = 0; d < D; d++) {
            double *p = lp + (size_t)b * (size_t)C * D + d;
            double mx = -INFINITY, s = 0;
            for (int64_t c = 0; c < C; c++) mx = fmax(mx, p[(size_t)c * D]);
            for (int64_t c = 0; c < C; c++) s += exp(p[(size_t)c * D] - mx);
            double lse = mx + log(s);
            for (int64_t c = 0; c < C; c++) p[(size_t)c * D] -= lse;
        }
    ml_status st = nll_core(ctx, lp, in, tg, w, in->dtype);
    if (!st && ml_output_wanted(ctx, 1)) {
        ml_tensor *out;
        st = ml_output_tensor(ctx, 1, in->dtype, in->rank, in->dims, &out);
        if (!st) misc_from_f64(out, lp, n);
    }
    free(lp);
    return st;
}
