/* BatchNormalization (inference, and training_mode statistics when asked),
 * InstanceNormalization, LRN and MeanVarianceNormalization. LayerNorm and
 * GroupNorm live in norm_layer.c. Data is float32 (other float types are
 * converted); statistics are accumulated in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/families.h"
#include "ops/norm_internal.h"

/* Reads a float-family tensor as a freshly allocated double array. */
double *nn_norm_load_f64(const ml_tensor *t) {
    size_t n = ml_tensor_numel(t);
    double *d = malloc((n ? n : 1) * sizeof(double));
    if (!d) return NULL;
    for (size_t i = 0; i < n; i++) d[i] = ml_tensor_get_f64(t, i);
    return d;
}

/* ---- BatchNormalization ---- */

typedef struct bn_job {
    const float *x;
    float *y;
    const float *a, *b; /* per-channel (or per-element) multiplier and offset */
    int64_t C, sp;
    bool per_element; /* spatial=0 statistics of shape [C, D...] */
} bn_job;

static void bn_planes(void *arg, size_t begin, size_t end) {
    const bn_job *j = arg;
    for (size_t p = begin; p < end; p++) {
        int64_t c = (int64_t)p % j->C;
        const float *x = j->x + (int64_t)p * j->sp;
        float *y = j->y + (int64_t)p * j->sp;
        if (j->per_element) {
            const float *a = j->a + c * j->sp, *b = j->b + c * j->sp;
            for (int64_t i = 0; i < j->sp; i++) y[i] = x[i] * a[i] + b[i];
        } else {
            float a = j->a[c], b = j->b[c];
            for (int64_t i = 0; i < j->sp; i++) y[i] = x[i] * a + b;
        }
    }
}

static ml_status batchnorm_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *in[4];
    ML_TRY(ml_require_input(ctx, 0, &x));
    for (size_t i = 0; i < 4; i++) ML_TRY(ml_require_input(ctx, i + 1, &in[i]));
    if (!nn_is_float(x->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "X must be a float type, got %s",
                             ml_dtype_name(x->dtype));
    if (x->rank < 2)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "X must be [N, C, ...], got rank %d",
                             x->rank);
    int64_t N = x->dims[0], C = x->dims[1], sp = nn_prod(x->rank - 2, x->dims + 2);
    bool training = node->opset >= 14 && ml_attr_int(node, "training_mode", 0) != 0;
    double eps = ml_attr_float(node, "epsilon", 1e-5f);
    double momentum = ml_attr_float(node, "momentum", 0.9f);
    size_t ns = ml_tensor_numel(in[0]);
    int64_t csp = nn_mul_sat(C, sp);
    bool per_element = !training && ns != (size_t)C && ns == (size_t)csp;
    size_t nstat = per_element ? (size_t)csp : (size_t)C;
    for (size_t i = 0; i < 4; i++)
        if (!nn_is_float(in[i]->dtype) || ml_tensor_numel(in[i]) != nstat)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "input %zu must be a float tensor of %zu values (C=%lld), got %zu",
                                 i + 1, nstat, (long long)C, ml_tensor_numel(in[i]));
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
    const float *fx = NULL;
    float *ox = NULL, *fy = NULL, *oy = NULL;
    double *st4[4] = {0}, *bmean = NULL, *bvar = NULL;
    float *a = malloc(nstat * sizeof(float) + 1), *b = malloc(nstat * sizeof(float) + 1);
    ml_status st = (a && b) ? ML_STATUS_OK
                            : ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for statistics");
    for (size_t i = 0; i < 4 && !st; i++)
        if (!(st4[i] = nn_norm_load_f64(in[i])))
            st = ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for statistics");
    if (!st) st = nn_f32_view(node, x, &fx, &ox);
    if (!st) st = nn_f32_target(node, y, &fy, &oy);
    if (!st && training) {
        bmean = calloc((size_t)C + 1, sizeof(double));
        bvar = calloc((size_t)C + 1, sizeof(double));
        if (!bmean || !bvar)
            st = ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for statistics");
        double cnt = (double)nn_mul_sat(N, sp);
        for (int64_t c = 0; c < C && !st && ml_tensor_numel(x) > 0; c++) {
            double s = 0, s2 = 0;
            for (int64_t n = 0; n < N; n++) s += nn_sum_f32(fx + (n * C + c) * sp, sp);
            double mean = cnt > 0 ? s / cnt : 0;
            for (int64_t n = 0; n < N; n++) s2 += nn_sqdev_f32(fx + (n * C + c) * sp, sp, mean);
            bmean[c] = mean;
            bvar[c] = cnt > 0 ? s2 / cnt : 0;
        }
    }
    if (!st) {
        const double *mean = training ? bmean : st4[2], *var = training ? bvar : st4[3];
        for (size_t i = 0; i < nstat; i++) {
            double inv = 1.0 / sqrt(var[i] + eps);
            a[i] = (float)(st4[0][i] * inv);
            b[i] = (float)(st4[1][i] - mean[i] * st4[0][i] * inv);
        }
        bn_job j = {fx, fy, a, b, C, sp, per_element};
        if (ml_tensor_numel(y) > 0) /* N * C may be huge when the input is empty */
            ml_parallel_for(ctx->pool, (size_t)(N * C), (size_t)(16384 / (sp + 1)) + 1, bn_planes,
                            &j);
        nn_f32_commit(y, oy);
        oy = NULL;
    }
    if (!st && training) {
        for (size_t o = 1; o <= 2 && !st; o++) {
            if (!ml_output_wanted(ctx, o)) continue;
            const ml_tensor *prev = in[o + 1];
            ml_tensor *r;
            st = ml_output_tensor(ctx, o, prev->dtype, prev->rank, prev->dims, &r);
            const double *cur = o == 1 ? bmean : bvar, *old = st4[o + 1];
            for (int64_t c = 0; c < C && !st; c++)
                ml_tensor_set_f64(r, (size_t)c, old[c] * momentum + cur[c] * (1.0 - momentum));
        }
    }
    free(oy);
    free(ox);
    free(a);
    free(b);
    free(bmean);
    free(bvar);
    for (size_t i = 0; i < 4; i++) free(st4[i]);
    return st;
}

/* ---- InstanceNormalization ---- */

typedef struct in_job {
    const float *x, *scale, *bias;
    float *y;
    int64_t C, sp;
    double eps;
} in_job;

static void instnorm_planes(void *arg, size_t begin, size_t end) {
    const in_job *j = arg;
    for (size_t p = begin; p < end; p++) {
        int64_t c = (int64_t)p % j->C;
        const float *x = j->x + (int64_t)p * j->sp;
        float *y = j->y + (int64_t)p * j->sp;
        double mean = j->sp ? nn_sum_f32(x, j->sp) / (double)j->sp : 0;
        double s2 = nn_sqdev_f32(x, j->sp, mean);
        double var = j->sp ? s2 / (double)j->sp : 0;
        float a = (float)(j->scale[c] / sqrt(var + j->eps));
        float b = (float)(j->bias[c] - mean * a);
        for (int64_t i = 0; i < j->sp; i++) y[i] = x[i] * a + b;
    }
}

static ml_status instnorm_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *sc, *bi;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &sc));
    ML_TRY(ml_require_input(ctx, 2, &bi));
    if (!nn_is_float(x->dtype) || x->rank < 2)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "X must be a float tensor [N, C, ...] (got %s of rank %d)",
                             ml_dtype_name(x->dtype), x->rank);
    int64_t C = x->dims[1];
    if (!nn_is_float(sc->dtype) || !nn_is_float(bi->dtype) || ml_tensor_numel(sc) != (size_t)C ||
        ml_tensor_numel(bi) != (size_t)C)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "scale and B must have C=%lld values",
                             (long long)C);
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
    if (ml_tensor_numel(y) == 0) return ML_STATUS_OK; /* loops below may span huge empty dims */
    const float *fx = NULL, *fs = NULL, *fb = NULL;
    float *ox = NULL, *os = NULL, *ob = NULL, *fy = NULL, *oy = NULL;
    ml_status st = nn_f32_view(node, x, &fx, &ox);
    if (!st) st = nn_f32_view(node, sc, &fs, &os);
    if (!st) st = nn_f32_view(node, bi, &fb, &ob);
    if (!st) st = nn_f32_target(node, y, &fy, &oy);
    if (!st) {
        in_job j = {fx,
                    fs,
                    fb,
                    fy,
                    C,
                    nn_prod(x->rank - 2, x->dims + 2),
                    ml_attr_float(node, "epsilon", 1e-5f)};
        ml_parallel_for(ctx->pool, (size_t)(x->dims[0] * C), (size_t)(16384 / (j.sp + 1)) + 1,
                        instnorm_planes, &j);
        nn_f32_commit(y, oy);
    } else {
        free(oy);
    }
    free(ox);
    free(os);
    free(ob);
    return st;
}

/* ---- LRN ---- */

static ml_status lrn_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (!nn_is_float(x->dtype) || x->rank < 2)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "X must be a float tensor [N, C, ...] (got %s of rank %d)",
                             ml_dtype_name(x->dtype), x->rank);
    int64_t size = ml_attr_int(node, "size", 0);
    if (size < 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "attribute 'size' must be >= 1, got %lld", (long long)size);
    double alpha = ml_attr_float(node, "alpha", 1e-4f), beta = ml_attr_float(node, "beta", 0.75f),
           bias = ml_attr_float(node, "bias", 1.0f);
    int64_t N = x->dims[0], C = x->dims[1], sp = nn_prod(x->rank - 2, x->dims + 2);
    int64_t lo = (size - 1) / 2, hi = size - 1 - lo; /* floor and ceil of (size-1)/2 */
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
    if (ml_tensor_numel(y) == 0) return ML_STATUS_OK; /* loops below may span huge empty dims */
    const float *fx = NULL;
    float *ox = NULL, *fy = NULL, *oy = NULL;
    ML_TRY(nn_f32_view(node, x, &fx, &ox));
    ml_status st = nn_f32_target(node, y, &fy, &oy);
    float *sq = NULL, *acc = NULL;
    if (!st) {
        sq = malloc(sizeof(float) * (size_t)(C * sp + 1));
        acc = malloc(sizeof(float) * (size_t)(sp + 1));
        if (!sq || !acc) st = ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for LRN sums");
    }
    if (!st) {
        float k = (float)(alpha / (double)size), fb = (float)bias, fbeta = (float)beta;
        for (int64_t n = 0; n < N; n++) {
            const float *xn = fx + n * C * sp;
            float *yn = fy + n * C * sp;
            for (int64_t i = 0; i < C * sp; i++) sq[i] = xn[i] * xn[i];
            for (int64_t c = 0; c < C; c++) {
                /* window sums per spatial position: vectorisable adds of planes */
                int64_t c0 = c - lo < 0 ? 0 : c - lo, c1 = c + hi >= C ? C - 1 : c + hi;
                memset(acc, 0, sizeof(float) * (size_t)sp);
                for (int64_t q = c0; q <= c1; q++) {
                    const float *p = sq + q * sp;
                    for (int64_t i = 0; i < sp; i++) acc[i] += p[i];
                }
                const float *xc = xn + c * sp;
                float *yc = yn + c * sp;
                if (fbeta == 0.75f) /* the usual beta: base^-3/4 from two square roots */
                    for (int64_t i = 0; i < sp; i++) {
                        float base = fb + k * acc[i], r = sqrtf(base);
                        yc[i] = xc[i] / (r * sqrtf(r));
                    }
                else
                    for (int64_t i = 0; i < sp; i++) yc[i] = xc[i] * powf(fb + k * acc[i], -fbeta);
            }
        }
        nn_f32_commit(y, oy);
    } else {
        free(oy);
    }
    free(sq);
    free(acc);
    free(ox);
    return st;
}

/* ---- MeanVarianceNormalization ---- */

static ml_status mvn_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (!nn_is_float(x->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "X must be a float tensor, got %s",
                             ml_dtype_name(x->dtype));
    const int64_t *axes;
    static const int64_t dflt_axes[] = {0, 2, 3};
    size_t na = ml_attr_ints(node, "axes", &axes);
    if (!axes) {
        axes = dflt_axes;
        na = 3;
    }
    bool reduce[ML_MAX_RANK] = {false};
    for (size_t i = 0; i < na; i++) {
        int a;
        ML_TRY(ml_normalize_axis(node, axes[i], x->rank, &a));
        reduce[a] = true;
    }
    /* kept-index stride of every axis: 0 for reduced axes */
    int64_t kstride[ML_MAX_RANK], nkept = 1;
    for (int i = x->rank - 1; i >= 0; i--) {
        kstride[i] = reduce[i] ? 0 : nkept;
        if (!reduce[i]) nkept *= x->dims[i];
    }
    size_t n = ml_tensor_numel(x);
    int64_t cnt = nkept ? (int64_t)n / nkept : 0;
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
    if (ml_tensor_numel(y) == 0) return ML_STATUS_OK; /* loops below may span huge empty dims */
    const float *fx = NULL;
    float *ox = NULL, *fy = NULL, *oy = NULL;
    ML_TRY(nn_f32_view(node, x, &fx, &ox));
    ml_status st = nn_f32_target(node, y, &fy, &oy);
    double *mean = calloc((size_t)nkept + 1, sizeof(double)),
           *var = calloc((size_t)nkept + 1, sizeof(double));
    int64_t *kidx = malloc((n + 1) * sizeof(int64_t));
    if (!st && (!mean || !var || !kidx))
        st = ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for statistics");
    if (!st) {
        int64_t idx[ML_MAX_RANK] = {0}, k = 0;
        for (size_t e = 0; e < n; e++) {
            kidx[e] = k;
            for (int d = x->rank - 1; d >= 0; d--) {
                k += kstride[d];
                if (++idx[d] < x->dims[d]) break;
                k -= idx[d] * kstride[d];
                idx[d] = 0;
            }
        }
        for (size_t e = 0; e < n; e++) mean[kidx[e]] += fx[e];
        for (int64_t i = 0; i < nkept; i++) mean[i] /= (double)cnt;
        for (size_t e = 0; e < n; e++) {
            double d = fx[e] - mean[kidx[e]];
            var[kidx[e]] += d * d;
        }
        for (int64_t i = 0; i < nkept; i++) var[i] = sqrt(var[i] / (double)cnt) + 1e-9;
        for (size_t e = 0; e < n; e++) fy[e] = (float)((fx[e] - mean[kidx[e]]) / var[kidx[e]]);
        nn_f32_commit(y, oy);
        oy = NULL;
    }
    free(oy);
    free(ox);
    free(mean);
    free(var);
    free(kidx);
    return st;
}

const ml_kernel ml_kernels_norm[] = {
    {"", "BatchNormalization", 1, 0, NULL, NULL, batchnorm_run},
    {"", "InstanceNormalization", 1, 0, NULL, NULL, instnorm_run},
    {"", "LRN", 1, 0, NULL, NULL, lrn_run},
    {"", "MeanVarianceNormalization", 9, 0, NULL, NULL, mvn_run},
    {"", "LayerNormalization", 17, 0, NULL, NULL, nn_layernorm_run},
    {"", "GroupNormalization", 18, 0, NULL, NULL, nn_groupnorm_run},
    /* onnxruntime contrib forms found in optimised transformer exports */
    {"", "SimplifiedLayerNormalization", 1, 0, NULL, NULL, nn_layernorm_run},
    {"com.microsoft", "LayerNormalization", 1, 0, NULL, NULL, nn_layernorm_run},
    {"com.microsoft", "SimplifiedLayerNormalization", 1, 0, NULL, NULL, nn_layernorm_run},
    {"com.microsoft", "SkipLayerNormalization", 1, 0, NULL, NULL, nn_skip_layernorm_run},
    {"com.microsoft", "SkipSimplifiedLayerNormalization", 1, 0, NULL, NULL, nn_skip_layernorm_run},
    {0},
};
