/* RandomUniform, RandomNormal, their *Like forms, Bernoulli and Multinomial.
 *
 * Each run draws from its own splitmix64 stream, so concurrent runs of one
 * model never share generator state. With a `seed` attribute the stream
 * starts from that seed on every run (reproducible outputs); without one it
 * starts from a process-wide counter mixed with the clock. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "core/clock.h"
#include "ops/families.h"
#include "ops/misc_util.h"

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t rng_next(rng *r) {
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [0, 1). */
static double rng_uniform(rng *r) {
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

static double rng_normal(rng *r) {
    double u1 = rng_uniform(r), u2 = rng_uniform(r);
    if (u1 < 1e-300) u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

static void rng_init(const ml_node *node, rng *r) {
    const ml_attr *a = ml_node_attr(node, "seed");
    if (a && (a->type == ML_ATTR_FLOAT || a->type == ML_ATTR_INT)) {
        double sd = a->type == ML_ATTR_FLOAT ? (double)a->f : (double)a->i;
        uint64_t bits;
        memcpy(&bits, &sd, sizeof bits);
        r->s = bits ^ 0x5DEECE66Dull;
    } else {
        static atomic_uint_fast64_t counter;
        uint64_t c = atomic_fetch_add(&counter, 1);
        r->s = ml_now_ns() ^ (c * 0xD1B54A32D192ED03ull) ^ (uint64_t)(uintptr_t)node;
    }
    rng_next(r);
}

/* Reads the dtype attribute (default dflt) and checks it is allowed. */
static ml_status float_dtype(const ml_node *node, ml_dtype dflt, ml_dtype *out) {
    int64_t v = ml_attr_int(node, "dtype", dflt);
    if (v != ML_FLOAT && v != ML_DOUBLE && v != ML_FLOAT16 && v != ML_BFLOAT16)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "dtype %lld must be float16, float or double", (long long)v);
    *out = (ml_dtype)v;
    return ML_STATUS_OK;
}

/* Fills a new output with n draws of kind 0 (uniform [a,b)) or 1 (normal(a, b)). */
static ml_status fill_random(ml_kernel_ctx *ctx, ml_dtype dt, int rank, const int64_t *dims,
                             int kind, double a, double b) {
    ml_tensor *Y;
    ML_TRY(ml_output_tensor(ctx, 0, dt, rank, dims, &Y));
    size_t n = ml_tensor_numel(Y);
    rng r;
    rng_init(ctx->node, &r);
    if (dt == ML_FLOAT) {
        float *y = Y->data;
        for (size_t i = 0; i < n; i++)
            y[i] = (float)(kind == 0 ? a + (b - a) * rng_uniform(&r) : a + b * rng_normal(&r));
        return ML_STATUS_OK;
    }
    for (size_t i = 0; i < n; i++)
        ml_tensor_set_f64(Y, i, kind == 0 ? a + (b - a) * rng_uniform(&r) : a + b * rng_normal(&r));
    return ML_STATUS_OK;
}

static ml_status shape_attr(const ml_node *node, int *rank, const int64_t **dims) {
    size_t n = ml_attr_ints(node, "shape", dims);
    if (!*dims || n > ML_MAX_RANK)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "the shape attribute is required (at most %d dims)", ML_MAX_RANK);
    for (size_t i = 0; i < n; i++)
        if ((*dims)[i] < 0)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "shape[%zu] is negative", i);
    *rank = (int)n;
    return ML_STATUS_OK;
}

static ml_status run_uniform(ml_kernel_ctx *ctx) {
    ml_dtype dt = ML_FLOAT;
    int rank = 0;
    const int64_t *dims = NULL;
    ML_TRY(float_dtype(ctx->node, ML_FLOAT, &dt));
    ML_TRY(shape_attr(ctx->node, &rank, &dims));
    return fill_random(ctx, dt, rank, dims, 0, ml_attr_float(ctx->node, "low", 0.0f),
                       ml_attr_float(ctx->node, "high", 1.0f));
}

static ml_status run_normal(ml_kernel_ctx *ctx) {
    ml_dtype dt = ML_FLOAT;
    int rank = 0;
    const int64_t *dims = NULL;
    ML_TRY(float_dtype(ctx->node, ML_FLOAT, &dt));
    ML_TRY(shape_attr(ctx->node, &rank, &dims));
    return fill_random(ctx, dt, rank, dims, 1, ml_attr_float(ctx->node, "mean", 0.0f),
                       ml_attr_float(ctx->node, "scale", 1.0f));
}

static ml_status like_dtype(ml_kernel_ctx *ctx, const ml_tensor **x, ml_dtype *dt) {
    ML_TRY(ml_require_input(ctx, 0, x));
    ml_dtype d = misc_is_float_type((*x)->dtype) ? (*x)->dtype : ML_FLOAT;
    if (!ml_node_attr(ctx->node, "dtype") && !misc_is_float_type((*x)->dtype))
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "input is %s: give a float dtype attribute",
                             ml_dtype_name((*x)->dtype));
    return float_dtype(ctx->node, d, dt);
}

static ml_status run_uniform_like(ml_kernel_ctx *ctx) {
    const ml_tensor *x = NULL;
    ml_dtype dt = ML_FLOAT;
    ML_TRY(like_dtype(ctx, &x, &dt));
    return fill_random(ctx, dt, x->rank, x->dims, 0, ml_attr_float(ctx->node, "low", 0.0f),
                       ml_attr_float(ctx->node, "high", 1.0f));
}

static ml_status run_normal_like(ml_kernel_ctx *ctx) {
    const ml_tensor *x = NULL;
    ml_dtype dt = ML_FLOAT;
    ML_TRY(like_dtype(ctx, &x, &dt));
    return fill_random(ctx, dt, x->rank, x->dims, 1, ml_attr_float(ctx->node, "mean", 0.0f),
                       ml_attr_float(ctx->node, "scale", 1.0f));
}

static ml_status run_bernoulli(ml_kernel_ctx *ctx) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (!misc_is_float_type(x->dtype))
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "input probabilities must be float, got %s", ml_dtype_name(x->dtype));
    int64_t dv = ml_attr_int(ctx->node, "dtype", x->dtype);
    if (!ml_dtype_valid((int)dv) || dv == ML_STRING || dv == ML_UNDEFINED || dv == ML_COMPLEX64 ||
        dv == ML_COMPLEX128)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT, "dtype %lld is not numeric",
                             (long long)dv);
    ml_tensor *Y;
    ML_TRY(ml_output_tensor(ctx, 0, (ml_dtype)dv, x->rank, x->dims, &Y));
    size_t n = ml_tensor_numel(x);
    double *p = malloc((n + 1) * sizeof(double));
    if (!p) return ml_node_error(ctx->node, ML_ERR_OUT_OF_MEMORY, "out of memory");
    misc_to_f64(x, p, n);
    rng r;
    rng_init(ctx->node, &r);
    for (size_t i = 0; i < n; i++) p[i] = rng_uniform(&r) < p[i] ? 1.0 : 0.0;
    misc_from_f64(Y, p, n);
    free(p);
    return ML_STATUS_OK;
}

static ml_status run_multinomial(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    if (x->rank != 2 || !misc_is_float_type(x->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "input must be float [batch_size, class_size]");
    int64_t dv = ml_attr_int(node, "dtype", ML_INT32);
    if (dv != ML_INT32 && dv != ML_INT64)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "dtype must be int32 or int64");
    int64_t ss = ml_attr_int(node, "sample_size", 1);
    if (ss < 0 || ss > ((int64_t)1 << 30))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "sample_size %lld is invalid",
                             (long long)ss);
    const int64_t B = x->dims[0], C = x->dims[1];
    if (C == 0 && B > 0 && ss > 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "cannot sample from 0 classes");
    int64_t od[2] = {B, ss};
    ml_tensor *Y;
    ML_TRY(ml_output_tensor(ctx, 0, (ml_dtype)dv, 2, od, &Y));
    size_t n = ml_tensor_numel(x);
    double *lp = malloc((n + 1) * sizeof(double)), *cdf = malloc(((size_t)C + 1) * sizeof(double));
    if (!lp || !cdf) {
        free(lp), free(cdf);
        return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "out of memory");
    }
    misc_to_f64(x, lp, n);
    rng r;
    rng_init(node, &r);
    for (int64_t b = 0; b < B; b++) {
        /* input holds unnormalised log-probabilities */
        double mx = -INFINITY, acc = 0;
        for (int64_t c = 0; c < C; c++) mx = fmax(mx, lp[b * C + c]);
        for (int64_t c = 0; c < C; c++) cdf[c] = (acc += exp(lp[b * C + c] - mx));
        for (int64_t k = 0; k < ss; k++) {
            double u = rng_uniform(&r) * acc;
            int64_t lo = 0, hi = C > 0 ? C - 1 : 0;
            while (lo < hi) {
                int64_t mid = (lo + hi) / 2;
                if (cdf[mid] > u)
                    hi = mid;
                else
                    lo = mid + 1;
            }
            if (dv == ML_INT32)
                ((int32_t *)Y->data)[b * ss + k] = (int32_t)lo;
            else
                ((int64_t *)Y->data)[b * ss + k] = lo;
        }
    }
    free(lp), free(cdf);
    return ML_STATUS_OK;
}

const ml_kernel ml_kernels_random[] = {
    {"", "RandomUniform", 1, 0, NULL, NULL, run_uniform},
    {"", "RandomNormal", 1, 0, NULL, NULL, run_normal},
    {"", "RandomUniformLike", 1, 0, NULL, NULL, run_uniform_like},
    {"", "RandomNormalLike", 1, 0, NULL, NULL, run_normal_like},
    {"", "Bernoulli", 15, 0, NULL, NULL, run_bernoulli},
    {"", "Multinomial", 7, 0, NULL, NULL, run_multinomial},
    {0},
};
