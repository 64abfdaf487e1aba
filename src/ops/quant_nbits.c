/* com.microsoft MatMulNBits: Y = A @ dequant(B)^T (+ bias), the weight-only
 * block quantisation of exported LLMs. B is [N, k_blocks, blob] with 2/4/8-bit
 * codes packed low bits first along K; each block of block_size K-values has
 * a scale and a zero point (packed uint8 like B, or float; default
 * 2^(bits-1)). g_idx (deprecated act-order) maps each k to its block.
 *
 * The weights are dequantised to a float32 [K, N] matrix (once, at load time,
 * when B/scales/zero points are constants) and multiplied with sgemm. */
#include <cblas.h>
#include <stdlib.h>
#include <string.h>

#include "ops/quant_internal.h"

typedef struct nbits_attrs {
    int64_t K, N, bits, block, k_blocks, blob;
} nbits_attrs;

static ml_status nbits_read_attrs(const ml_node *node, nbits_attrs *a) {
    a->K = ml_attr_int(node, "K", -1);
    a->N = ml_attr_int(node, "N", -1);
    a->bits = ml_attr_int(node, "bits", 4);
    a->block = ml_attr_int(node, "block_size", -1);
    if (a->K < 1 || a->N < 1 || a->K > INT32_MAX || a->N > INT32_MAX)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "attributes K and N are required (>= 1)");
    if (a->bits != 2 && a->bits != 4 && a->bits != 8)
        return ml_node_error(node, ML_ERR_UNSUPPORTED, "bits=%lld is not supported (2, 4 or 8)",
                             (long long)a->bits);
    if (a->block < 16 || a->block > (1 << 20) || (a->block & (a->block - 1)) != 0)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "block_size must be a power of two >= 16, got %lld",
                             (long long)a->block);
    if (a->K * a->N > ((int64_t)1 << 32))
        return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED, "the %lldx%lld weight is too large",
                             (long long)a->K, (long long)a->N);
    a->k_blocks = (a->K + a->block - 1) / a->block;
    a->blob = a->block * a->bits / 8;
    return ML_STATUS_OK;
}

/* Dequantises B into a new float [K, N] matrix (caller frees). */
static ml_status nbits_dequant(const ml_node *node, const nbits_attrs *a, const ml_tensor *b,
                               const ml_tensor *scales, const ml_tensor *zp, const ml_tensor *gidx,
                               float **out) {
    *out = NULL;
    if (b->dtype != ML_UINT8 || ml_tensor_numel(b) != (size_t)(a->N * a->k_blocks * a->blob))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "B must be uint8 of shape [N=%lld, %lld blocks, %lld bytes]",
                             (long long)a->N, (long long)a->k_blocks, (long long)a->blob);
    size_t nsb = (size_t)(a->N * a->k_blocks);
    if (!nn_is_float(scales->dtype) || ml_tensor_numel(scales) != nsb)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "scales must be float with N * blocks = %zu values", nsb);
    int64_t per_byte = 8 / a->bits, zrow = (a->k_blocks + per_byte - 1) / per_byte;
    bool zp_float = zp && nn_is_float(zp->dtype);
    if (zp && !((zp_float && ml_tensor_numel(zp) == nsb) ||
                (zp->dtype == ML_UINT8 && ml_tensor_numel(zp) == (size_t)(a->N * zrow))))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "zero_points must be packed uint8 [%lld] or float [%zu]",
                             (long long)(a->N * zrow), nsb);
    if (gidx && (gidx->dtype != ML_INT32 || ml_tensor_numel(gidx) != (size_t)a->K))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "g_idx must be int32 with K values");
    if (gidx)
        for (int64_t k = 0; k < a->K; k++) {
            int32_t g = ((const int32_t *)gidx->data)[k];
            if (g < 0 || g >= a->k_blocks)
                return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                     "g_idx[%lld]=%d is not a block index below %lld", (long long)k,
                                     g, (long long)a->k_blocks);
        }
    float *w = malloc(sizeof(float) * (size_t)(a->K * a->N));
    float *sc = malloc(sizeof(float) * nsb);
    if (!w || !sc) {
        free(w);
        free(sc);
        return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory to dequantise B");
    }
    nn_convert_to_f32(scales->dtype, scales->data, sc, nsb);
    const uint8_t *B = b->data;
    unsigned mask = (1u << a->bits) - 1;
    float zdefault = (float)(1 << (a->bits - 1));
    for (int64_t n = 0; n < a->N; n++) {
        for (int64_t k = 0; k < a->K; k++) {
            int64_t blk = gidx ? ((const int32_t *)gidx->data)[k] : k / a->block;
            int64_t j = k % a->block;  /* code position inside the block's blob */
            int64_t kb = k / a->block; /* codes are stored in K order */
            uint8_t byte = B[(n * a->k_blocks + kb) * a->blob + j / per_byte];
            unsigned q = (byte >> ((j % per_byte) * a->bits)) & mask;
            float z = zdefault;
            if (zp_float) {
                z = (float)ml_tensor_get_f64(zp, (size_t)(n * a->k_blocks + blk));
            } else if (zp) {
                uint8_t zb = ((const uint8_t *)zp->data)[n * zrow + blk / per_byte];
                z = (float)((zb >> ((blk % per_byte) * a->bits)) & mask);
            }
            w[k * a->N + n] = ((float)q - z) * sc[n * a->k_blocks + blk];
        }
    }
    free(sc);
    *out = w;
    return ML_STATUS_OK;
}

static bool input_is_const_or_absent(const ml_node *node, size_t i) {
    if (i >= node->n_inputs || !node->input_names[i][0]) return true;
    return node->const_inputs && node->const_inputs[i];
}

static const ml_tensor *const_input(const ml_node *node, size_t i) {
    return i < node->n_inputs && node->input_names[i][0] ? node->const_inputs[i] : NULL;
}

ml_status nn_matmul_nbits_init(const ml_node *node, void **state) {
    *state = NULL;
    nbits_attrs a;
    ML_TRY(nbits_read_attrs(node, &a));
    for (size_t i = 1; i <= 4; i++)
        if (!input_is_const_or_absent(node, i)) return ML_STATUS_OK; /* dequantise per run */
    if (node->n_inputs < 3)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "needs inputs A, B and scales");
    float *w;
    ML_TRY(nbits_dequant(node, &a, const_input(node, 1), const_input(node, 2), const_input(node, 3),
                         const_input(node, 4), &w));
    *state = w;
    return ML_STATUS_OK;
}

ml_status nn_matmul_nbits_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    nbits_attrs a;
    ML_TRY(nbits_read_attrs(node, &a));
    const ml_tensor *x, *b, *scales, *bias = ml_input(ctx, 5);
    ML_TRY(ml_require_input(ctx, 0, &x));
    ML_TRY(ml_require_input(ctx, 1, &b));
    ML_TRY(ml_require_input(ctx, 2, &scales));
    if (!nn_is_float(x->dtype) || x->rank < 1 || x->dims[x->rank - 1] != a.K)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "A must be a float tensor whose last dim is K=%lld", (long long)a.K);
    if (bias && (!nn_is_float(bias->dtype) || ml_tensor_numel(bias) != (size_t)a.N))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "bias must be float with N=%lld values",
                             (long long)a.N);
    int64_t dims[ML_MAX_RANK];
    memcpy(dims, x->dims, sizeof(int64_t) * (size_t)x->rank);
    dims[x->rank - 1] = a.N;
    int64_t M = (int64_t)ml_tensor_numel(x) / a.K;
    if (M > INT32_MAX) return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED, "A has too many rows");
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, x->dtype, x->rank, dims, &y));
    const float *w = node->state;
    float *wown = NULL;
    if (!w) {
        ML_TRY(nbits_dequant(node, &a, b, scales, ml_input(ctx, 3), ml_input(ctx, 4), &wown));
        w = wown;
    }
    const float *fx = NULL;
    float *ox = NULL, *fy = NULL, *oy = NULL, *fb = NULL;
    ml_status st = nn_f32_view(node, x, &fx, &ox);
    if (!st) st = nn_f32_target(node, y, &fy, &oy);
    if (!st && bias) {
        fb = malloc(sizeof(float) * (size_t)a.N);
        if (!fb)
            st = ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for the bias");
        else
            nn_convert_to_f32(bias->dtype, bias->data, fb, (size_t)a.N);
    }
    if (!st) {
        if (M > 0) {
            if (fb)
                for (int64_t m = 0; m < M; m++)
                    memcpy(fy + m * a.N, fb, sizeof(float) * (size_t)a.N);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)a.N, (int)a.K, 1.0f,
                        fx, (int)a.K, w, (int)a.N, fb ? 1.0f : 0.0f, fy, (int)a.N);
        }
        nn_f32_commit(y, oy);
        oy = NULL;
    }
    free(oy);
    free(ox);
    free(fb);
    free(wown);
    return st;
}
