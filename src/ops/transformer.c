/* The opset-23 transformer ops that PyTorch's exporter emits for LLMs:
 * RMSNormalization and RotaryEmbedding here, Attention in
 * transformer_attention.c. Semantics follow the ONNX reference
 * implementation (onnx/reference/ops/op_*.py). Every float type the spec
 * allows runs through float32 working buffers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/misc_util.h"
#include "ops/transformer_internal.h"

/* ---- RMSNormalization (23): Y = X / sqrt(mean(X^2 over axes >= axis) + eps) * scale ---- */

typedef struct rms_job {
    const float *x, *scale;
    float *y;
    size_t inner;
    float eps;
} rms_job;

static void rms_rows(void *arg, size_t begin, size_t end) {
    const rms_job *j = arg;
    for (size_t r = begin; r < end; r++) {
        const float *x = j->x + r * j->inner;
        float *y = j->y + r * j->inner;
        double ss = 0;
        for (size_t i = 0; i < j->inner; i++) ss += (double)x[i] * x[i];
        float inv = (float)(1.0 / sqrt(ss / (double)j->inner + (double)j->eps));
        for (size_t i = 0; i < j->inner; i++) y[i] = x[i] * inv * j->scale[i];
    }
}

/* Expands scale (broadcastable to dims[axis..rank)) to inner floats. */
static ml_status expand_scale(const ml_node *node, const ml_tensor *scale, const float *sv,
                              const ml_tensor *x, int axis, float *out, size_t inner) {
    int nr = x->rank - axis;
    if (scale->rank > nr)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "scale has rank %d, more than the %d normalised axes", scale->rank,
                             nr);
    int64_t sd[ML_MAX_RANK];
    for (int k = 0; k < nr; k++) {
        int sk = k - (nr - scale->rank);
        sd[k] = sk >= 0 ? scale->dims[sk] : 1;
        if (sd[k] != 1 && sd[k] != x->dims[axis + k])
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "scale dim %d is %lld, which does not broadcast to %lld", sk,
                                 (long long)sd[k], (long long)x->dims[axis + k]);
    }
    for (size_t i = 0; i < inner; i++) {
        size_t rem = i, src = 0, stride = 1;
        for (int k = nr - 1; k >= 0; k--) {
            size_t d = (size_t)x->dims[axis + k], c = rem % d;
            rem /= d;
            if (sd[k] != 1) src += c * stride;
            stride *= (size_t)sd[k];
        }
        out[i] = sv[src];
    }
    return NULL;
}

static ml_status rms_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *scale;
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &scale));
    if (!misc_is_float_type(x->dtype) || !misc_is_float_type(scale->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "X and scale must be float tensors");
    if (x->rank < 1)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "X must have at least one axis");
    int axis;
    ML_TRY(ml_normalize_axis(node, ml_attr_int(node, "axis", -1), x->rank, &axis));
    size_t inner = 1, rows = 1;
    for (int k = 0; k < x->rank; k++) *(k < axis ? &rows : &inner) *= (size_t)x->dims[k];
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
    if (rows * inner == 0) return NULL;
    float *xo = NULL, *so = NULL, *yo = NULL, *sx = malloc(inner * sizeof(float));
    const float *xv = misc_f32_view(x, &xo), *sv = misc_f32_view(scale, &so);
    float *yv = y->dtype == ML_FLOAT ? y->data : (yo = malloc(rows * inner * sizeof(float)));
    ml_status st = !xv || !sv || !yv || !sx ? ml_error(ML_ERR_OUT_OF_MEMORY, "RMSNormalization")
                                            : expand_scale(node, scale, sv, x, axis, sx, inner);
    if (!st) {
        rms_job j = {xv, sx, yv, inner, ml_attr_float(node, "epsilon", 1e-5f)};
        ml_parallel_for(ctx->pool, rows, inner >= 4096 ? 1 : 4096 / inner + 1, rms_rows, &j);
        if (yo) misc_from_f32(y, yo, rows * inner);
    }
    free(xo);
    free(so);
    free(yo);
    free(sx);
    return st;
}

/* ---- RotaryEmbedding (23) ---- */

/* The position of token s of batch b in the caches, or an error. */
static ml_status rope_position(const ml_node *node, const ml_tensor *pos, int64_t b, int64_t s,
                               int64_t S, int64_t max_pos, int64_t *out) {
    int64_t p = misc_get_i64(pos, (size_t)(b * S + s));
    if (p < 0 || p >= max_pos)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "position_ids[%lld][%lld] = %lld is outside the caches' %lld rows",
                             (long long)b, (long long)s, (long long)p, (long long)max_pos);
    *out = p;
    return NULL;
}

static ml_status rope_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *x, *cosc, *sinc, *pos = ml_input(ctx, 3);
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &cosc));
    ML_TRY(ml_require_input(ctx, 2, &sinc));
    if (!misc_is_float_type(x->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "X must be a float tensor");
    int64_t B, S, H, D;
    bool four = x->rank == 4;
    if (four) { /* [batch, heads, seq, head_size] */
        B = x->dims[0], H = x->dims[1], S = x->dims[2], D = x->dims[3];
    } else if (x->rank == 3) { /* [batch, seq, heads * head_size] */
        H = ml_attr_int(node, "num_heads", 0);
        B = x->dims[0], S = x->dims[1];
        if (H <= 0 || x->dims[2] % H)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "a 3-D input needs num_heads dividing its hidden size %lld",
                                 (long long)x->dims[2]);
        D = x->dims[2] / H;
    } else {
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "X must be 3-D [batch, seq, hidden] or 4-D [batch, heads, seq, "
                             "head_size], got rank %d",
                             x->rank);
    }
    int64_t rot = ml_attr_int(node, "rotary_embedding_dim", 0);
    if (rot == 0) rot = D;
    if (rot < 0 || rot > D || rot % 2)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "rotary_embedding_dim %lld must be even and at most head_size %lld",
                             (long long)rot, (long long)D);
    int64_t half = rot / 2, max_pos = 0;
    bool interleaved = ml_attr_int(node, "interleaved", 0) != 0;
    /* caches: [max_pos, half] with position_ids [batch, seq], else [batch, seq, half] */
    if (pos) {
        if (pos->rank != 2 || pos->dims[0] != B || pos->dims[1] != S ||
            (pos->dtype != ML_INT64 && pos->dtype != ML_INT32))
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "position_ids must be int64 [batch=%lld, seq=%lld]", (long long)B,
                                 (long long)S);
        if (cosc->rank != 2 || cosc->dims[1] != half)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "with position_ids, cos_cache must be [max_position, %lld]",
                                 (long long)half);
        max_pos = cosc->dims[0];
    } else if (cosc->rank != 3 || cosc->dims[0] != B || cosc->dims[1] != S ||
               cosc->dims[2] != half) {
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "without position_ids, cos_cache must be [batch=%lld, seq=%lld, %lld]",
                             (long long)B, (long long)S, (long long)half);
    }
    if (!ml_shape_equal(cosc->rank, cosc->dims, sinc->rank, sinc->dims))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "cos_cache and sin_cache must have the same shape");
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, x->dims, &y));
    size_t n = ml_tensor_numel(x);
    if (!n) return NULL;
    float *xo = NULL, *co = NULL, *so = NULL, *yo = NULL;
    const float *xv = misc_f32_view(x, &xo), *cv = misc_f32_view(cosc, &co),
                *sv = misc_f32_view(sinc, &so);
    float *yv = y->dtype == ML_FLOAT ? y->data : (yo = malloc(n * sizeof(float)));
    ml_status st =
        !xv || !cv || !sv || !yv ? ml_error(ML_ERR_OUT_OF_MEMORY, "RotaryEmbedding") : NULL;
    for (int64_t b = 0; !st && b < B; b++)
        for (int64_t s = 0; !st && s < S; s++) {
            int64_t row = b * S + s;
            if (pos) st = rope_position(node, pos, b, s, S, max_pos, &row);
            const float *c = cv + row * half, *sn = sv + row * half;
            for (int64_t h = 0; !st && h < H; h++) {
                size_t off = (size_t)(four ? ((b * H + h) * S + s) * D : ((b * S + s) * H + h) * D);
                const float *xi = xv + off;
                float *yi = yv + off;
                for (int64_t i = 0; i < half; i++) {
                    int64_t i1 = interleaved ? 2 * i : i, i2 = interleaved ? 2 * i + 1 : i + half;
                    float x1 = xi[i1], x2 = xi[i2];
                    yi[i1] = c[i] * x1 - sn[i] * x2;
                    yi[i2] = sn[i] * x1 + c[i] * x2;
                }
                for (int64_t i = rot; i < D; i++) yi[i] = xi[i];
            }
        }
    if (!st && yo) misc_from_f32(y, yo, n);
    free(xo);
    free(co);
    free(so);
    free(yo);
    return st;
}

const ml_kernel ml_kernels_transformer[] = {
    {"", "RMSNormalization", 23, 0, NULL, NULL, rms_run},
    {"", "RotaryEmbedding", 23, 0, NULL, NULL, rope_run},
    {"", "Attention", 23, 0, NULL, NULL, ml_attention_run},
    {"com.mlambda", "ScaledDotProductAttention", 1, 0, ml_sdpa_init, NULL, ml_sdpa_run},
    {0},
};
