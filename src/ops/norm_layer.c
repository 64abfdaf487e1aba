/* LayerNormalization (opset 17: axis, epsilon, stash_type, Mean/InvStdDev
 * outputs) and GroupNormalization (opset 18: per-group scale/bias; per-channel
 * scale/bias of size C, as opset 21 defines, are accepted too). */
#include "ops/elementwise_opt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/elem_util.h"
#include "ops/norm_internal.h"

/* Index map broadcasting a tensor of shape sd (rank sr) onto the trailing
 * shape td (rank tr, numel n): map[i] = element of the small tensor used at
 * position i. Fails when the shapes do not broadcast. */
static bool bcast_map(int sr, const int64_t *sd, int tr, const int64_t *td, int64_t n,
                      int64_t *map) {
    int64_t sdims[ML_MAX_RANK];
    /* drop leading 1s the small tensor may have beyond the target rank */
    while (sr > tr) {
        if (sd[0] != 1) return false;
        sd++;
        sr--;
    }
    for (int i = 0; i < tr; i++) {
        int k = i - (tr - sr);
        sdims[i] = k >= 0 ? sd[k] : 1;
        if (sdims[i] != 1 && sdims[i] != td[i]) return false;
    }
    int64_t stride[ML_MAX_RANK], acc = 1;
    for (int i = tr - 1; i >= 0; i--) {
        stride[i] = sdims[i] == 1 ? 0 : acc;
        acc *= sdims[i];
    }
    int64_t idx[ML_MAX_RANK] = {0}, off = 0;
    for (int64_t e = 0; e < n; e++) {
        map[e] = off;
        for (int d = tr - 1; d >= 0; d--) {
            off += stride[d];
            if (++idx[d] < td[d]) break;
            off -= idx[d] * stride[d];
            idx[d] = 0;
        }
    }
    return true;
}

typedef struct ln_job {
    const float *x, *scale, *bias; /* scale/bias already expanded to inner */
    float *y, *mean, *inv;
    int64_t inner;
    double eps;
    bool rms; /* SimplifiedLayerNormalization: no mean subtraction */
} ln_job;

/* Row statistics: 16 float lanes within blocks of LN_BLOCK values (one or
 * two vector registers, no float<->double conversions in the inner loop),
 * the blocks summed in double so long rows keep their accuracy. */
#define LN_BLOCK 256

static inline __attribute__((always_inline)) double ln_sum(const float *x, int64_t n) {
    double s = 0;
    for (int64_t b = 0; b < n; b += LN_BLOCK) {
        int64_t m = n - b < LN_BLOCK ? n - b : LN_BLOCK;
        const float *p = x + b;
        float acc[16] = {0};
        int64_t i = 0;
        for (; i + 16 <= m; i += 16)
            for (int k = 0; k < 16; k++) acc[k] += p[i + k];
        for (int k = 0; i < m; i++, k++) acc[k] += p[i];
        float t = 0;
        for (int k = 0; k < 16; k++) t += acc[k];
        s += t;
    }
    return s;
}

static inline __attribute__((always_inline)) double ln_sqdev(const float *x, int64_t n,
                                                             float mean) {
    double s = 0;
    for (int64_t b = 0; b < n; b += LN_BLOCK) {
        int64_t m = n - b < LN_BLOCK ? n - b : LN_BLOCK;
        const float *p = x + b;
        float acc[16] = {0};
        int64_t i = 0;
        for (; i + 16 <= m; i += 16)
            for (int k = 0; k < 16; k++) {
                float d = p[i + k] - mean;
                acc[k] += d * d;
            }
        for (int k = 0; i < m; i++, k++) {
            float d = p[i] - mean;
            acc[k] += d * d;
        }
        float t = 0;
        for (int k = 0; k < 16; k++) t += acc[k];
        s += t;
    }
    return s;
}

ELEM_CLONES static void ln_rows(void *arg, size_t begin, size_t end) {
    const ln_job *j = arg;
    for (size_t r = begin; r < end; r++) {
        const float *x = j->x + (int64_t)r * j->inner;
        float *y = j->y + (int64_t)r * j->inner;
        double mean = (j->inner && !j->rms) ? ln_sum(x, j->inner) / (double)j->inner : 0;
        double s2 = ln_sqdev(x, j->inner, (float)mean);
        double inv = 1.0 / sqrt((j->inner ? s2 / (double)j->inner : 0) + j->eps);
        float fm = (float)mean, fi = (float)inv;
        if (j->bias)
            for (int64_t i = 0; i < j->inner; i++)
                y[i] = (x[i] - fm) * fi * j->scale[i] + j->bias[i];
        else
            for (int64_t i = 0; i < j->inner; i++) y[i] = (x[i] - fm) * fi * j->scale[i];
        if (j->mean) j->mean[r] = fm;
        if (j->inv) j->inv[r] = fi;
    }
}

/* True when t has the normalised shape td itself (ignoring leading 1s), so
 * its elements are already the expanded values. */
static bool param_is_dense(const ml_tensor *t, int tr, const int64_t *td) {
    int sr = t->rank;
    const int64_t *sd = t->dims;
    while (sr > 0 && sd[0] == 1) sd++, sr--;
    while (tr > 0 && td[0] == 1) td++, tr--;
    return ml_shape_equal(sr, sd, tr, td);
}

/* Expands a scale/bias tensor to `inner` float values along the normalised
 * dims: *out points at t's own data when it is float and already dense (no
 * copy, *owned NULL), else at a new array also returned in *owned. */
static ml_status expand_param(const ml_node *node, const ml_tensor *t, int tr, const int64_t *td,
                              int64_t inner, const float **out, float **owned) {
    *out = NULL;
    *owned = NULL;
    if (t->dtype == ML_FLOAT && param_is_dense(t, tr, td)) {
        *out = t->data;
        return ML_STATUS_OK;
    }
    if (!nn_is_float(t->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "scale/bias must be float, got %s",
                             ml_dtype_name(t->dtype));
    float *v = malloc(sizeof(float) * (size_t)(inner + 1));
    int64_t *map = malloc(sizeof(int64_t) * (size_t)(inner + 1));
    float *src = malloc(sizeof(float) * (ml_tensor_numel(t) + 1));
    if (!v || !map || !src) {
        free(v);
        free(map);
        free(src);
        return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for scale/bias");
    }
    nn_convert_to_f32(t->dtype, t->data, src, ml_tensor_numel(t));
    if (!bcast_map(t->rank, t->dims, tr, td, inner, map)) {
        free(v);
        free(map);
        free(src);
        char sb[128], tb[128];
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "scale/bias of shape %s does not broadcast to the normalised shape %s",
                             ml_shape_format(t->rank, t->dims, sb, sizeof sb),
                             ml_shape_format(tr, td, tb, sizeof tb));
    }
    for (int64_t i = 0; i < inner; i++) v[i] = src[map[i]];
    free(map);
    free(src);
    *out = v;
    *owned = v;
    return ML_STATUS_OK;
}

ml_status nn_layernorm_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *sc, *bi = ml_input(ctx, 2);
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &sc));
    if (!nn_is_float(x->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "X must be a float tensor, got %s",
                             ml_dtype_name(x->dtype));
    if (x->rank < 1) return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "X must have rank >= 1");
    int axis;
    ML_TRY(ml_normalize_axis(node, ml_attr_int(node, "axis", -1), x->rank, &axis));
    int64_t outer = nn_prod(axis, x->dims), inner = nn_prod(x->rank - axis, x->dims + axis);
    ml_dtype stash = ml_attr_int(node, "stash_type", 1) == 1 ? ML_FLOAT : x->dtype;
    int64_t sdims[ML_MAX_RANK];
    for (int i = 0; i < x->rank; i++) sdims[i] = i < axis ? x->dims[i] : 1;
    ml_tensor *y, *tm = NULL, *ti = NULL;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
    if (strcmp(node->op_type, "SimplifiedLayerNormalization") == 0) {
        /* com.microsoft-style RMSNorm: outputs Y and InvStdDev */
        if (ml_output_wanted(ctx, 1)) ML_TRY(ml_output_tensor(ctx, 1, stash, x->rank, sdims, &ti));
    } else {
        if (ml_output_wanted(ctx, 1)) ML_TRY(ml_output_tensor(ctx, 1, stash, x->rank, sdims, &tm));
        if (ml_output_wanted(ctx, 2)) ML_TRY(ml_output_tensor(ctx, 2, stash, x->rank, sdims, &ti));
    }
    /* rows of an empty input may still be countless; only statistics outputs bound them */
    if (ml_tensor_numel(y) == 0 && !tm && !ti) return ML_STATUS_OK;
    const float *scale = NULL, *bias = NULL;
    float *oscale = NULL, *obias = NULL, *ox = NULL, *fy = NULL, *oy = NULL, *fm = NULL, *om = NULL,
          *fi = NULL, *oi = NULL;
    const float *fx = NULL;
    ml_status st = expand_param(node, sc, x->rank - axis, x->dims + axis, inner, &scale, &oscale);
    if (!st && bi)
        st = expand_param(node, bi, x->rank - axis, x->dims + axis, inner, &bias, &obias);
    if (!st) st = nn_f32_view(node, x, &fx, &ox);
    if (!st) st = nn_f32_target(node, y, &fy, &oy);
    if (!st && tm) st = nn_f32_target(node, tm, &fm, &om);
    if (!st && ti) st = nn_f32_target(node, ti, &fi, &oi);
    if (!st) {
        bool rms = strcmp(node->op_type, "SimplifiedLayerNormalization") == 0;
        ln_job j = {fx, scale, bias, fy, fm, fi, inner, ml_attr_float(node, "epsilon", 1e-5f), rms};
        ml_parallel_for(ctx->pool, (size_t)outer, (size_t)(16384 / (inner + 1)) + 1, ln_rows, &j);
        nn_f32_commit(y, oy);
        if (tm) nn_f32_commit(tm, om);
        if (ti) nn_f32_commit(ti, oi);
    } else {
        free(oy);
        free(om);
        free(oi);
    }
    free(ox);
    free(oscale);
    free(obias);
    return st;
}

/* One broadcast run of input + skip (float). */
ELEM_CLONES static void skip_add_run(void *arg, const void *const *in, const int64_t *st, void *out,
                                     int64_t n) {
    (void)arg;
    const float *a = in[0], *b = in[1];
    float *o = out;
    if (st[0] && st[1])
        for (int64_t i = 0; i < n; i++) o[i] = a[i] + b[i];
    else
        for (int64_t i = 0; i < n; i++) o[i] = a[i * st[0]] + b[i * st[1]];
}

/* com.microsoft SkipLayerNormalization / SkipSimplifiedLayerNormalization:
 * LayerNorm (or RMSNorm) over the last dim of input + skip (+ bias), with
 * gamma/beta of size H. Outputs: output, mean, inv_std_var,
 * input_skip_bias_sum (all but the first optional). input and skip broadcast
 * like Add (onnxruntime only needs skip of shape [B,S,H], [1,S,H] or [S,H];
 * the graph optimiser's Add + LayerNormalization fusion needs the rest). */
ml_status nn_skip_layernorm_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    bool rms = strcmp(node->op_type, "SkipSimplifiedLayerNormalization") == 0;
    const ml_tensor *x, *skip, *gamma, *beta = NULL, *bias;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &skip));
    ML_TRY(ml_require_input(ctx, 2, &gamma));
    if (!rms) beta = ml_input(ctx, 3);
    bias = ml_input(ctx, rms ? 3 : 4);
    if (!nn_is_float(x->dtype) || skip->dtype != x->dtype)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "input and skip must be float tensors of one type (got %s and %s)",
                             ml_dtype_name(x->dtype), ml_dtype_name(skip->dtype));
    elem_bcast bc;
    const ml_tensor *pair[2] = {x, skip};
    ML_TRY(elem_bcast_tensors(node, 2, pair, &bc));
    if (bc.out_rank < 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "input and skip must have rank >= 1");
    int rank = bc.out_rank;
    const int64_t *dims = bc.out_dims;
    int64_t H = dims[rank - 1];
    size_t n = bc.numel;
    const ml_tensor *vec[3] = {gamma, beta, bias};
    for (int i = 0; i < 3; i++)
        if (vec[i] && (ml_tensor_numel(vec[i]) != (size_t)H || !nn_is_float(vec[i]->dtype)))
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "gamma, beta and bias must be float with hidden size %lld values",
                                 (long long)H);
    int64_t rows = H ? (int64_t)n / H : 0;
    int64_t sdims[ML_MAX_RANK];
    for (int i = 0; i < rank; i++) sdims[i] = i < rank - 1 ? dims[i] : 1;
    ml_tensor *y, *tm = NULL, *ti = NULL, *tsum = NULL;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, rank, dims, &y));
    if (n == 0) return ML_STATUS_OK; /* loops below may span huge empty dims */
    if (ml_output_wanted(ctx, 1)) ML_TRY(ml_output_tensor(ctx, 1, ML_FLOAT, rank, sdims, &tm));
    if (ml_output_wanted(ctx, 2)) ML_TRY(ml_output_tensor(ctx, 2, ML_FLOAT, rank, sdims, &ti));
    if (ml_output_wanted(ctx, 3)) ML_TRY(ml_output_tensor(ctx, 3, x->dtype, rank, dims, &tsum));
    const float *vals[3] = {NULL, NULL, NULL};
    float *owned[3] = {NULL, NULL, NULL}; /* float copies of non-float params */
    const float *fx = NULL, *fs = NULL;
    float *ox = NULL, *os = NULL, *fy = NULL, *oy = NULL, *fm = NULL, *om = NULL, *fi = NULL,
          *oi = NULL;
    ml_status st = ML_STATUS_OK;
    for (int i = 0; i < 3 && !st; i++)
        if (vec[i]) st = nn_f32_view(node, vec[i], &vals[i], &owned[i]);
    if (!st) st = nn_f32_view(node, x, &fx, &ox);
    if (!st) st = nn_f32_view(node, skip, &fs, &os);
    if (!st) st = nn_f32_target(node, y, &fy, &oy);
    if (!st && tm) st = nn_f32_target(node, tm, &fm, &om);
    if (!st && ti) st = nn_f32_target(node, ti, &fi, &oi);
    if (!st) {
        /* the sum goes straight into y, normalised there in place (ln_rows
         * reads a row completely before writing it) */
        const void *in[2] = {fx, fs};
        size_t sz[2] = {sizeof(float), sizeof(float)};
        elem_bcast_run(ctx->pool, &bc, in, sz, fy, sizeof(float), skip_add_run, NULL);
        if (vals[2])
            for (int64_t r = 0; r < rows; r++)
                for (int64_t i = 0; i < H; i++) fy[r * H + i] += vals[2][i];
        if (tsum) nn_convert_from_f32(tsum->dtype, fy, tsum->data, n);
        ln_job j = {fy, vals[0], vals[1], fy, fm, fi, H, ml_attr_float(node, "epsilon", 1e-12f),
                    rms};
        ml_parallel_for(ctx->pool, (size_t)rows, (size_t)(16384 / (H + 1)) + 1, ln_rows, &j);
        nn_f32_commit(y, oy);
        if (tm) nn_f32_commit(tm, om);
        if (ti) nn_f32_commit(ti, oi);
    } else {
        free(oy);
        free(om);
        free(oi);
    }
    free(ox);
    free(os);
    for (int i = 0; i < 3; i++) free(owned[i]);
    return st;
}

ml_status nn_groupnorm_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *sc, *bi;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &sc));
    ML_TRY(ml_require_input(ctx, 2, &bi));
    if (!nn_is_float(x->dtype) || x->rank < 2)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "X must be a float tensor [N, C, ...] (got %s of rank %d)",
                             ml_dtype_name(x->dtype), x->rank);
    int64_t N = x->dims[0], C = x->dims[1], sp = nn_prod(x->rank - 2, x->dims + 2);
    int64_t G = ml_attr_int(node, "num_groups", 0);
    if (G < 1 || C % G != 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "num_groups %lld must be >= 1 and divide the %lld channels",
                             (long long)G, (long long)C);
    size_t ns = ml_tensor_numel(sc);
    bool per_channel = ns == (size_t)C;
    if ((ns != (size_t)G && !per_channel) || ml_tensor_numel(bi) != ns || !nn_is_float(sc->dtype) ||
        !nn_is_float(bi->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "scale and bias must be float with num_groups=%lld (or C=%lld) values",
                             (long long)G, (long long)C);
    double eps = ml_attr_float(node, "epsilon", 1e-5f);
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
    if (ml_tensor_numel(y) == 0) return ML_STATUS_OK; /* loops below may span huge empty dims */
    const float *fx = NULL;
    float *ox = NULL, *fy = NULL, *oy = NULL;
    double *s = nn_norm_load_f64(sc), *b = nn_norm_load_f64(bi);
    ml_status st = (s && b) ? ML_STATUS_OK : ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory");
    if (!st) st = nn_f32_view(node, x, &fx, &ox);
    if (!st) st = nn_f32_target(node, y, &fy, &oy);
    if (!st) {
        int64_t cg = C / G, gsz = cg * sp;
        for (int64_t n = 0; n < N; n++)
            for (int64_t g = 0; g < G; g++) {
                const float *xp = fx + (n * C + g * cg) * sp;
                float *yp = fy + (n * C + g * cg) * sp;
                double mean = gsz ? nn_sum_f32(xp, gsz) / (double)gsz : 0;
                double s2 = nn_sqdev_f32(xp, gsz, mean);
                double inv = 1.0 / sqrt((gsz ? s2 / (double)gsz : 0) + eps);
                for (int64_t c = 0; c < cg; c++) {
                    int64_t pi = per_channel ? g * cg + c : g;
                    float a = (float)(s[pi] * inv), off = (float)(b[pi] - mean * s[pi] * inv);
                    for (int64_t i = 0; i < sp; i++) yp[c * sp + i] = xp[c * sp + i] * a + off;
                }
            }
        nn_f32_commit(y, oy);
    } else {
        free(oy);
    }
    free(ox);
    free(s);
    free(b);
    return st;
}
