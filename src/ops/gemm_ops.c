/* MatMul / Gemm / com.microsoft FusedGemm / com.mlambda MatMulBiasAct on the
 * engine's own GEMM (gemm_fast.h): constant weights packed once at load,
 * bias, beta * C and activation fused into the GEMM's epilogue. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/linalg_internal.h"
#include "ops/nn_util.h"

/* Largest float weight given a packed second copy: beyond this the memory
 * costs more than the faster kernel saves (the strided path needs none). */
#define DENSE_PACK_MAX ((size_t)1 << 26)

void nn_dense_free(void *state) {
    nn_dense_state *s = state;
    if (!s) return;
    nn_pack_release(s->bp);
    nn_pack_release(s->b32);
    free(s);
}

/* Packs constant input 1 (2-D, float family) as a GEMM B when it is one. */
static ml_status dense_pack_b(const ml_node *node, bool trans, nn_dense_state *s) {
    if (!node->const_inputs || node->n_inputs < 2 || !node->const_inputs[1]) return ML_STATUS_OK;
    const ml_tensor *b = node->const_inputs[1];
    if (b->rank != 2 || !nn_is_float(b->dtype) || b->dtype == ML_DOUBLE) return ML_STATUS_OK;
    if (b->dims[0] > INT32_MAX || b->dims[1] > INT32_MAX || ml_tensor_numel(b) > DENSE_PACK_MAX)
        return ML_STATUS_OK;
    return nn_pack_acquire(node, b, trans ? NN_PACK_GEMM_BT : NN_PACK_GEMM_B, &s->bp);
}

static ml_status dense_new(const ml_node *node, void **state, nn_dense_state **out) {
    nn_blas_init();
    *state = NULL;
    nn_dense_state *s = calloc(1, sizeof *s);
    if (!s) return ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for the node state");
    *out = s;
    *state = s;
    return ML_STATUS_OK;
}

ml_status nn_matmul_init(const ml_node *node, void **state) {
    nn_dense_state *s = NULL;
    ML_TRY(dense_new(node, state, &s));
    ml_status st = dense_pack_b(node, false, s);
    /* a float16/bfloat16 B that is not 2-D still skips its per-run conversion */
    if (!st && !s->bp && node->const_inputs && node->n_inputs >= 2 && node->const_inputs[1]) {
        const ml_tensor *b = node->const_inputs[1];
        if (b->dtype == ML_FLOAT16 || b->dtype == ML_BFLOAT16)
            st = nn_pack_acquire(node, b, NN_PACK_F32, &s->b32);
    }
    if (st) {
        nn_dense_free(s);
        *state = NULL;
    }
    return st;
}

ml_status nn_gemm_init(const ml_node *node, void **state) {
    nn_dense_state *s = NULL;
    ML_TRY(dense_new(node, state, &s));
    ml_status st = dense_pack_b(node, ml_attr_int(node, "transB", 0) != 0, s);
    if (st) {
        nn_dense_free(s);
        *state = NULL;
    }
    return st;
}

ml_status nn_fused_gemm_init(const ml_node *node, void **state) {
    nn_dense_state *s = NULL;
    ML_TRY(nn_gemm_init(node, state));
    s = *state;
    /* onnxruntime's FusedGemm: activation_alpha / _beta parameterise it
     * (leaky_relu_alpha is the older name of the LeakyRelu slope) */
    ml_status st = nn_act_parse(node, ml_attr_string(node, "activation", ""), NULL, 0, &s->act);
    /* parameters given override the defaults nn_act_parse filled in */
    if (ml_node_attr(node, "activation_alpha"))
        s->act.a = ml_attr_float(node, "activation_alpha", s->act.a);
    else if (ml_node_attr(node, "leaky_relu_alpha"))
        s->act.a = ml_attr_float(node, "leaky_relu_alpha", s->act.a);
    if (ml_node_attr(node, "activation_beta"))
        s->act.b = ml_attr_float(node, "activation_beta", s->act.b);
    if (st) {
        nn_dense_free(s);
        *state = NULL;
    }
    return st;
}

ml_status nn_mmba_init(const ml_node *node, void **state) {
    nn_dense_state *s = NULL;
    ML_TRY(dense_new(node, state, &s));
    const float *params;
    size_t n = ml_attr_floats(node, "activation_params", &params);
    ml_status st = nn_act_parse(node, ml_attr_string(node, "activation", ""), params, n, &s->act);
    if (!st) st = dense_pack_b(node, false, s);
    if (st) {
        nn_dense_free(s);
        *state = NULL;
    }
    return st;
}

static const nn_act no_act = {NN_ACT_NONE, 0.0f, 0.0f};

/* With AVX2 only, OpenBLAS's sgemv beats the own kernel on a single row
 * (measured 1.4x), so a float32 B is then read in place (nn_gemm hands such
 * a product to BLAS) instead of through the packed copy. */
static bool row_prefers_blas(int64_t rows, ml_dtype b_dtype) {
    return rows == 1 && b_dtype == ML_FLOAT && nn_gemm_isa() == 1;
}

static const nn_act *dense_act(const ml_node *node) {
    const nn_dense_state *s = node->state;
    return s ? &s->act : &no_act;
}

ml_status nn_gemm_float(ml_kernel_ctx *ctx, const ml_tensor *a, const ml_tensor *b,
                        const ml_tensor *c, ml_tensor *y, bool ta, bool tb, float alpha, float beta,
                        int64_t cM, int64_t cN) {
    const ml_node *node = ctx->node;
    const nn_dense_state *s = node->state;
    int M = (int)y->dims[0], N = (int)y->dims[1];
    int K = (int)(ta ? a->dims[0] : a->dims[1]);
    const float *fa = NULL, *fb = NULL, *fc = NULL;
    float *oa = NULL, *ob = NULL, *oc = NULL, *Y = NULL, *oy = NULL, *vec = NULL;
    ml_status st = nn_f32_view(node, a, &fa, &oa);
    nn_gemm_opnd A = {.p = fa, .rs = ta ? 1 : a->dims[1], .cs = ta ? a->dims[1] : 1}, B;
    if (!st && s && s->bp && !row_prefers_blas(M, b->dtype)) {
        B = (nn_gemm_opnd){.p = s->bp, .packed = true};
    } else if (!st) {
        st = nn_f32_view(node, b, &fb, &ob);
        B = (nn_gemm_opnd){.p = fb, .rs = tb ? 1 : b->dims[1], .cs = tb ? b->dims[1] : 1};
    }
    if (!st && c) st = nn_f32_view(node, c, &fc, &oc);
    if (!st) st = nn_f32_target(node, y, &Y, &oy);
    nn_gemm_epi e = {.alpha = alpha, .act = *dense_act(node)};
    if (!st && fc && beta != 0.0f) {
        if (cM == M && cN == N && M > 1) {
            e.cin = fc;
            e.ldcin = N;
            e.beta = beta;
        } else {
            /* a row, column or scalar C: a beta-scaled bias vector */
            bool col = cM == 1; /* varies along N (or a scalar) */
            int len = col ? N : M;
            vec = malloc(sizeof(float) * (size_t)len + 1);
            if (!vec) {
                st = ml_node_error(node, ML_ERR_OUT_OF_MEMORY, "no memory for the C vector");
            } else {
                for (int i = 0; i < len; i++) {
                    float v = col ? fc[cN == 1 ? 0 : i] : fc[(int64_t)i * cN];
                    vec[i] = beta * v;
                }
                if (col)
                    e.bias_col = vec;
                else
                    e.bias_row = vec;
            }
        }
    }
    if (!st) {
        nn_gemm(ctx->pool, M, N, K, &A, &B, Y, N, &e);
        nn_f32_commit(y, oy);
    } else {
        free(oy);
    }
    free(vec);
    free(oa);
    free(ob);
    free(oc);
    return st;
}

ml_status nn_matmul_packed(ml_kernel_ctx *ctx, const nn_matmul_plan *p, const ml_tensor *a,
                           const float *bias, ml_tensor *y) {
    const ml_node *node = ctx->node;
    const nn_dense_state *s = node->state;
    const float *fa = NULL;
    float *oa = NULL, *Y = NULL, *oy = NULL;
    /* B is 2-D, so every batch comes from A and they fold into M */
    int64_t rows = p->n_batch * p->M;
    ML_TRY(nn_f32_view(node, a, &fa, &oa));
    ml_status st = nn_f32_target(node, y, &Y, &oy);
    if (!st) {
        nn_gemm_opnd A = {.p = fa, .rs = p->K, .cs = 1}, B = {.p = s->bp, .packed = true};
        const ml_tensor *b = node->const_inputs[1]; /* what bp was packed from */
        if (row_prefers_blas(rows, b->dtype)) B = (nn_gemm_opnd){.p = b->data, .rs = p->N, .cs = 1};
        nn_gemm_epi e = {.alpha = 1.0f, .bias_col = bias, .act = s->act};
        nn_gemm(ctx->pool, (int)rows, (int)p->N, (int)p->K, &A, &B, Y, p->N, &e);
        nn_f32_commit(y, oy);
    }
    free(oa);
    return st;
}

/* com.mlambda MatMulBiasAct: act(A @ B + bias), A of any rank >= 1 (MatMul
 * semantics), B 2-D, bias optional [N]. Made by the graph optimiser from
 * MatMul (+ Add) (+ activation). */
ml_status nn_mmba_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *a, *b, *bias = ml_input(ctx, 2);
    ML_TRY(ml_require_input(ctx, 0, &a));
    ML_TRY(ml_require_input(ctx, 1, &b));
    if (!nn_is_float(a->dtype) || a->dtype == ML_DOUBLE || b->dtype != a->dtype ||
        (bias && bias->dtype != a->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "A, B and bias must share one of float, float16, bfloat16 (got %s, "
                             "%s)",
                             ml_dtype_name(a->dtype), ml_dtype_name(b->dtype));
    if (b->rank != 2)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "B must be 2-D, got rank %d", b->rank);
    nn_matmul_plan p;
    ML_TRY(nn_matmul_shapes(node, a, b, &p));
    if (bias && (ml_tensor_numel(bias) != (size_t)p.N || bias->rank != 1))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "bias must be 1-D with N=%lld values, got %zu", (long long)p.N,
                             ml_tensor_numel(bias));
    if (p.n_batch * p.M > INT32_MAX)
        return ml_node_error(node, ML_ERR_RESOURCE_EXHAUSTED, "more than 2^31 rows in one product");
    ml_tensor *y;
    ML_TRY(ml_output_tensor(ctx, 0, a->dtype, p.out_rank, p.out_dims, &y));
    if (ml_tensor_numel(y) == 0) return ML_STATUS_OK;
    const float *fbias = NULL;
    float *obias = NULL;
    if (bias) ML_TRY(nn_f32_view(node, bias, &fbias, &obias));
    const nn_dense_state *s = node->state;
    ml_status st;
    if (s->bp) {
        st = nn_matmul_packed(ctx, &p, a, fbias, y);
    } else {
        const float *fa = NULL, *fb = NULL;
        float *oa = NULL, *ob = NULL, *Y = NULL, *oy = NULL;
        st = nn_f32_view(node, a, &fa, &oa);
        if (!st) st = nn_f32_view(node, b, &fb, &ob);
        if (!st) st = nn_f32_target(node, y, &Y, &oy);
        if (!st) {
            nn_gemm_opnd A = {.p = fa, .rs = p.K, .cs = 1}, B = {.p = fb, .rs = p.N, .cs = 1};
            nn_gemm_epi e = {.alpha = 1.0f, .bias_col = fbias, .act = s->act};
            nn_gemm(ctx->pool, (int)(p.n_batch * p.M), (int)p.N, (int)p.K, &A, &B, Y, p.N, &e);
            nn_f32_commit(y, oy);
        }
        free(oa);
        free(ob);
    }
    free(obias);
    return st;
}
