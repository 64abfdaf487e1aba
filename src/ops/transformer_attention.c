/* Attention (opset 23; nonpad_kv_seqlen from opset 24), following the ONNX
 * reference (onnx/reference/ops/op_attention.py):
 *   Y = softmax(softcap(scale * Q K^T) + bias) V
 * with 3-D ([batch, seq, heads * size]) or 4-D ([batch, heads, seq, size])
 * Q/K/V, a KV cache (past_key/past_value -> present_key/present_value),
 * grouped-query heads (q_num_heads a multiple of kv_num_heads), a boolean or
 * additive attn_mask (its last axis may be shorter than the total sequence:
 * the rest is masked), is_causal (bottom-right aligned after the cache), and
 * the optional qk_matmul_output (mode 0/1: scaled and soft-capped scores,
 * 2: plus the bias, 3: after the softmax).
 *
 * Deviation from the reference, on purpose: a boolean mask combined with
 * is_causal turns True into 0 (the reference multiplies 0 by -inf, which is
 * NaN). Work is in float32; per head the two products are sgemm calls. */
#include <cblas.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ops/misc_util.h"
#include "ops/transformer_internal.h"

typedef struct attn {
    int64_t B, Hq, Hkv, Sq, Skv, P, T, Dh, Dv;
    bool four; /* 4-D inputs (else 3-D) */
    float scale, softcap;
    bool causal;
    int mode;
    /* float views */
    const float *q, *k, *v, *pk, *pv;
    float *present_k, *present_v; /* [B, Hkv, T, Dh] / [B, Hkv, T, Dv] */
    float *y;                     /* in Y's layout */
    float *qk;                    /* [B, Hq, Sq, T] or NULL */
    /* mask: dims aligned to [B, Hq, Sq, Tm], broadcast strides (0 = broadcast) */
    const float *mask_f;
    const uint8_t *mask_b;
    int64_t Tm, mstride[4];
    const int64_t *nonpad; /* [B] or NULL */
    atomic_int failed;     /* a task could not get its score buffer */
} attn;

/* Row i of Q for (b, h) starts at q + q_off, rows ld apart. */
static size_t q_off(const attn *a, int64_t b, int64_t h, int64_t *ld) {
    *ld = a->four ? a->Dh : a->Hq * a->Dh;
    return (size_t)(a->four ? (b * a->Hq + h) * a->Sq * a->Dh
                            : b * a->Sq * a->Hq * a->Dh + h * a->Dh);
}

/* Bias for (b, h, i, j): mask, causal frontier and padding. */
static float bias(const attn *a, int64_t b, int64_t h, int64_t i, int64_t j) {
    float v = 0;
    if (a->mask_f || a->mask_b) {
        if (j >= a->Tm) return -INFINITY;
        size_t o =
            (size_t)(b * a->mstride[0] + h * a->mstride[1] + i * a->mstride[2] + j * a->mstride[3]);
        if (a->mask_b)
            v = a->mask_b[o] ? 0.0f : -INFINITY;
        else
            v = a->mask_f[o];
    }
    if (a->causal) {
        int64_t offset = a->P > 0 || !a->nonpad ? a->P : a->nonpad[b] - a->Sq;
        if (j > i + offset) v += -INFINITY;
    }
    if (a->nonpad && j >= a->nonpad[b]) v += -INFINITY;
    return v;
}

static void heads(void *arg, size_t begin, size_t end) {
    attn *a = arg;
    size_t st = (size_t)(a->Sq * a->T);
    float *s = malloc((st ? st : 1) * sizeof(float));
    if (!s) {
        atomic_store(&a->failed, 1);
        return;
    }
    int64_t reps = a->Hq / a->Hkv;
    for (size_t task = begin; task < end; task++) {
        int64_t b = (int64_t)task / a->Hq, h = (int64_t)task % a->Hq, kh = h / reps;
        int64_t ldq;
        const float *q = a->q + q_off(a, b, h, &ldq);
        const float *k = a->present_k + (size_t)((b * a->Hkv + kh) * a->T * a->Dh);
        const float *v = a->present_v + (size_t)((b * a->Hkv + kh) * a->T * a->Dv);
        if (a->Dh > 0 && a->T > 0 && a->Sq > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)a->Sq, (int)a->T, (int)a->Dh,
                        a->scale, q, (int)ldq, k, (int)a->Dh, 0.0f, s, (int)a->T);
        else
            memset(s, 0, st * sizeof(float));
        float *qk = a->qk ? a->qk + (size_t)((b * a->Hq + h) * a->Sq * a->T) : NULL;
        for (int64_t i = 0; i < a->Sq; i++) {
            float *row = s + i * a->T;
            if (a->softcap > 0)
                for (int64_t j = 0; j < a->T; j++) row[j] = a->softcap * tanhf(row[j] / a->softcap);
            if (qk && a->mode <= 1) memcpy(qk + i * a->T, row, (size_t)a->T * sizeof(float));
            float mx = -INFINITY;
            for (int64_t j = 0; j < a->T; j++) {
                row[j] += bias(a, b, h, i, j);
                if (row[j] > mx) mx = row[j];
            }
            if (qk && a->mode == 2) memcpy(qk + i * a->T, row, (size_t)a->T * sizeof(float));
            /* a fully masked row gives NaN, as the reference's softmax does */
            double sum = 0;
            for (int64_t j = 0; j < a->T; j++) {
                row[j] = expf(row[j] - mx);
                sum += row[j];
            }
            float inv = (float)(1.0 / sum);
            for (int64_t j = 0; j < a->T; j++) row[j] *= inv;
            if (qk && a->mode == 3) memcpy(qk + i * a->T, row, (size_t)a->T * sizeof(float));
        }
        int64_t ldy = a->four ? a->Dv : a->Hq * a->Dv;
        float *y = a->y + (a->four ? (size_t)((b * a->Hq + h) * a->Sq * a->Dv)
                                   : (size_t)(b * a->Sq * a->Hq * a->Dv + h * a->Dv));
        if (a->Dv > 0 && a->Sq > 0) {
            if (a->T > 0)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)a->Sq, (int)a->Dv,
                            (int)a->T, 1.0f, s, (int)a->T, v, (int)a->Dv, 0.0f, y, (int)ldy);
            else
                for (int64_t i = 0; i < a->Sq; i++) memset(y + i * ldy, 0, (size_t)a->Dv * 4);
        }
    }
    free(s);
}

/* present = concat(past, current) along the sequence, in [B, H, T, D]. */
static void build_present(const attn *a, const float *past, const float *cur, int64_t D,
                          float *out) {
    for (int64_t b = 0; b < a->B; b++)
        for (int64_t h = 0; h < a->Hkv; h++) {
            float *o = out + (size_t)((b * a->Hkv + h) * a->T * D);
            if (a->P)
                memcpy(o, past + (size_t)((b * a->Hkv + h) * a->P * D),
                       (size_t)(a->P * D) * sizeof(float));
            for (int64_t j = 0; j < a->Skv; j++) {
                size_t src = (size_t)(a->four ? ((b * a->Hkv + h) * a->Skv + j) * D
                                              : ((b * a->Skv + j) * a->Hkv + h) * D);
                memcpy(o + (a->P + j) * D, cur + src, (size_t)D * sizeof(float));
            }
        }
}

static ml_status shapes(const ml_kernel_ctx *ctx, const ml_tensor *q, const ml_tensor *k,
                        const ml_tensor *v, attn *a) {
    const ml_node *node = ctx->node;
    if (q->rank != k->rank || q->rank != v->rank || (q->rank != 3 && q->rank != 4))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "Q, K and V must all be 3-D [batch, seq, hidden] or all 4-D "
                             "[batch, heads, seq, head_size] (ranks %d, %d, %d)",
                             q->rank, k->rank, v->rank);
    a->four = q->rank == 4;
    a->B = q->dims[0];
    if (k->dims[0] != a->B || v->dims[0] != a->B)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "Q, K and V batch sizes differ");
    if (a->four) {
        a->Hq = q->dims[1], a->Sq = q->dims[2], a->Dh = q->dims[3];
        a->Hkv = k->dims[1], a->Skv = k->dims[2], a->Dv = v->dims[3];
        if (k->dims[3] != a->Dh || v->dims[1] != a->Hkv || v->dims[2] != a->Skv)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "K must be [batch, kv_heads, kv_seq, %lld] and V [batch, "
                                 "kv_heads, kv_seq, v_head_size]",
                                 (long long)a->Dh);
    } else {
        a->Hq = ml_attr_int(node, "q_num_heads", 0);
        a->Hkv = ml_attr_int(node, "kv_num_heads", 0);
        if (a->Hq <= 0 || a->Hkv <= 0 || q->dims[2] % a->Hq || k->dims[2] % a->Hkv ||
            v->dims[2] % a->Hkv)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "3-D inputs need q_num_heads and kv_num_heads dividing the "
                                 "hidden sizes");
        a->Sq = q->dims[1], a->Dh = q->dims[2] / a->Hq;
        a->Skv = k->dims[1], a->Dv = v->dims[2] / a->Hkv;
        if (k->dims[2] / a->Hkv != a->Dh || v->dims[1] != a->Skv)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "K's head size must equal Q's (%lld) and V must have K's "
                                 "sequence length",
                                 (long long)a->Dh);
    }
    if (a->Hkv <= 0 || a->Hq % a->Hkv)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "q heads (%lld) must be a multiple of kv heads (%lld)",
                             (long long)a->Hq, (long long)a->Hkv);
    return NULL;
}

static ml_status past_shapes(const ml_node *node, const ml_tensor *pk, const ml_tensor *pv,
                             attn *a) {
    a->P = 0;
    if (!pk && !pv) return NULL;
    if (!pk || !pv || pk->rank != 4 || pv->rank != 4 || pk->dims[0] != a->B ||
        pk->dims[1] != a->Hkv || pk->dims[3] != a->Dh || pv->dims[0] != a->B ||
        pv->dims[1] != a->Hkv || pv->dims[2] != pk->dims[2] || pv->dims[3] != a->Dv)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "past_key and past_value must both be given, as [batch, kv_heads, "
                             "past_seq, head_size] and [batch, kv_heads, past_seq, v_head_size]");
    a->P = pk->dims[2];
    return NULL;
}

static ml_status mask_shape(const ml_node *node, const ml_tensor *m, attn *a) {
    if (m->rank < 1 || m->rank > 4)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "attn_mask must have rank 1 to 4");
    int64_t want[4] = {a->B, a->Hq, a->Sq, 0}, dims[4] = {1, 1, 1, 1};
    for (int k = 0; k < m->rank; k++) dims[4 - m->rank + k] = m->dims[k];
    a->Tm = dims[3];
    if (a->Tm > a->T)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "attn_mask's last axis (%lld) is longer than the total sequence "
                             "(%lld)",
                             (long long)a->Tm, (long long)a->T);
    int64_t stride = 1;
    for (int k = 3; k >= 0; k--) {
        if (k < 3 && dims[k] != 1 && dims[k] != want[k])
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "attn_mask does not broadcast to [batch, q_heads, q_seq, "
                                 "total_seq]");
        a->mstride[k] = dims[k] == 1 && k < 3 ? 0 : stride;
        stride *= dims[k];
    }
    return NULL;
}

ml_status ml_attention_run(ml_kernel_ctx *ctx) {
    const ml_node *node = ctx->node;
    const ml_tensor *q, *k, *v, *m = ml_input(ctx, 3), *pk = ml_input(ctx, 4),
                                *pv = ml_input(ctx, 5),
                                *np = node->opset >= 24 ? ml_input(ctx, 6) : NULL;
    ML_TRY(ml_require_input(ctx, 0, &q));
    ML_TRY(ml_require_input(ctx, 1, &k));
    ML_TRY(ml_require_input(ctx, 2, &v));
    if (!misc_is_float_type(q->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "Q, K and V must be float tensors");
    attn a = {0};
    ML_TRY(shapes(ctx, q, k, v, &a));
    ML_TRY(past_shapes(node, pk, pv, &a));
    a.T = a.P + a.Skv;
    a.causal = ml_attr_int(node, "is_causal", 0) != 0;
    a.mode = (int)ml_attr_int(node, "qk_matmul_output_mode", 0);
    a.softcap = ml_attr_float(node, "softcap", 0.0f);
    a.scale = ml_attr_float(node, "scale", a.Dh > 0 ? 1.0f / sqrtf((float)a.Dh) : 1.0f);
    if (a.mode < 0 || a.mode > 3)
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                             "qk_matmul_output_mode must be 0..3, got %d", a.mode);
    if (m) ML_TRY(mask_shape(node, m, &a));
    if (np) {
        if (np->rank != 1 || np->dims[0] != a.B || np->dtype != ML_INT64)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                 "nonpad_kv_seqlen must be int64 [batch]");
        a.nonpad = np->data;
    }

    /* outputs */
    ml_tensor *y, *opk = NULL, *opv = NULL, *oqk = NULL;
    int64_t ydims[4] = {a.B, a.Hq, a.Sq, a.Dv};
    if (!a.four) ydims[1] = a.Sq, ydims[2] = a.Hq * a.Dv;
    ML_TRY(ml_output_tensor(ctx, 0, q->dtype, a.four ? 4 : 3, ydims, &y));
    int64_t kd[4] = {a.B, a.Hkv, a.T, a.Dh}, vd[4] = {a.B, a.Hkv, a.T, a.Dv},
            qd[4] = {a.B, a.Hq, a.Sq, a.T};
    if (ml_output_wanted(ctx, 1)) ML_TRY(ml_output_tensor(ctx, 1, q->dtype, 4, kd, &opk));
    if (ml_output_wanted(ctx, 2)) ML_TRY(ml_output_tensor(ctx, 2, q->dtype, 4, vd, &opv));
    if (ml_output_wanted(ctx, 3)) ML_TRY(ml_output_tensor(ctx, 3, q->dtype, 4, qd, &oqk));

    float *own[6] = {0}, *tmp_y = NULL, *tmp_qk = NULL;
    a.q = misc_f32_view(q, &own[0]);
    a.k = misc_f32_view(k, &own[1]);
    a.v = misc_f32_view(v, &own[2]);
    a.pk = pk ? misc_f32_view(pk, &own[3]) : NULL;
    a.pv = pv ? misc_f32_view(pv, &own[4]) : NULL;
    if (m && m->dtype == ML_BOOL)
        a.mask_b = m->data;
    else if (m)
        a.mask_f = misc_f32_view(m, &own[5]);
    size_t nk = (size_t)(a.B * a.Hkv * a.T * a.Dh), nv = (size_t)(a.B * a.Hkv * a.T * a.Dv);
    size_t ny = ml_tensor_numel(y), nqk = (size_t)(a.B * a.Hq * a.Sq * a.T);
    a.present_k = opk && opk->dtype == ML_FLOAT ? opk->data : malloc((nk ? nk : 1) * 4);
    a.present_v = opv && opv->dtype == ML_FLOAT ? opv->data : malloc((nv ? nv : 1) * 4);
    a.y = y->dtype == ML_FLOAT ? y->data : (tmp_y = malloc((ny ? ny : 1) * 4));
    if (oqk) a.qk = oqk->dtype == ML_FLOAT ? oqk->data : (tmp_qk = malloc((nqk ? nqk : 1) * 4));
    ml_status st = NULL;
    if (!a.q || !a.k || !a.v || (pk && !a.pk) || (pv && !a.pv) || (m && !a.mask_b && !a.mask_f) ||
        !a.present_k || !a.present_v || !a.y || (oqk && !a.qk))
        st = ml_error(ML_ERR_OUT_OF_MEMORY, "Attention: out of memory");
    if (!st) {
        build_present(&a, a.pk, a.k, a.Dh, a.present_k);
        build_present(&a, a.pv, a.v, a.Dv, a.present_v);
        size_t tasks = (size_t)(a.B * a.Hq);
        double work = (double)a.Sq * (double)a.T * (double)(a.Dh + a.Dv);
        atomic_init(&a.failed, 0);
        ml_parallel_for(ctx->pool, tasks, work > 65536 ? 1 : tasks, heads, &a);
        if (atomic_load(&a.failed))
            st = ml_error(ML_ERR_OUT_OF_MEMORY,
                          "Attention: no memory for the %lld x %lld score matrix", (long long)a.Sq,
                          (long long)a.T);
    }
    if (!st) {
        if (opk && opk->dtype != ML_FLOAT) misc_from_f32(opk, a.present_k, nk);
        if (opv && opv->dtype != ML_FLOAT) misc_from_f32(opv, a.present_v, nv);
        if (tmp_y) misc_from_f32(y, tmp_y, ny);
        if (tmp_qk) misc_from_f32(oqk, tmp_qk, nqk);
    }
    if (!(opk && opk->dtype == ML_FLOAT)) free(a.present_k);
    if (!(opv && opv->dtype == ML_FLOAT)) free(a.present_v);
    free(tmp_y);
    free(tmp_qk);
    for (int i = 0; i < 6; i++) free(own[i]);
    return st;
}
