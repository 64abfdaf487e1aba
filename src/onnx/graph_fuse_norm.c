/* Add (the residual) followed by LayerNormalization over the last axis
 * becomes one com.microsoft SkipLayerNormalization:
 *
 *   s = Add(a, b);  y = LayerNormalization(s, gamma, beta?, axis=-1)
 *   ->  y, , , s = SkipLayerNormalization(a, b, gamma, beta?)
 *
 * gamma and beta must be constant 1-D float tensors of one length H > 1 (so
 * they cannot broadcast to another hidden size), the LayerNormalization must
 * not return Mean/InvStdDev. The fused node takes the Add's place, since its
 * inputs are ready there and later readers of s get it from output 3
 * (input_skip_bias_sum); the mlambda kernel broadcasts a and b the way Add
 * does, so any shapes Add accepts give the same result. */
#include "onnx/graph_fuse_internal.h"

static bool vector_of(const ml_graph *g, int s, int64_t *len) {
    const ml_tensor *t = fuse_const_f32(g, s);
    if (!t || t->rank != 1) return false;
    if (*len < 0) *len = t->dims[0];
    return t->dims[0] == *len && *len > 1;
}

ml_status fuse_skip_layernorm(fuse_ctx *fc) {
    ml_graph *g = fc->g;
    if (!fuse_have_kernel("com.microsoft", "SkipLayerNormalization", 1)) return ML_STATUS_OK;
    for (size_t k = 0; k < g->n_nodes; k++) {
        ml_exec_node *ln = &g->nodes[k];
        if (!fuse_is_op(ln, "LayerNormalization") || ln->node.n_inputs < 2 ||
            ln->node.n_inputs > 3 || ln->node.n_outputs < 1 || ln->out_slots[0] < 0)
            continue;
        bool stats = false;
        for (size_t o = 1; o < ln->node.n_outputs; o++) stats |= ln->out_slots[o] >= 0;
        if (stats || ml_attr_int(&ln->node, "axis", -1) != -1 ||
            ml_attr_int(&ln->node, "stash_type", 1) != 1)
            continue;
        int64_t h = -1;
        int beta = ln->node.n_inputs > 2 ? ln->in_slots[2] : -1;
        if (!vector_of(g, ln->in_slots[1], &h) || (beta >= 0 && !vector_of(g, beta, &h))) continue;
        int s = ln->in_slots[0];
        ml_exec_node *add = fuse_producer(fc, s);
        if (!fuse_is_op(add, "Add") || add->node.n_inputs != 2 || add->node.n_outputs != 1 ||
            add->in_slots[0] < 0 || add->in_slots[1] < 0)
            continue;
        bool sum_used = fuse_sole_reader(fc, s) != ln;
        ml_attr eps = {.name = "epsilon",
                       .type = ML_ATTR_FLOAT,
                       .f = ml_attr_float(&ln->node, "epsilon", 1e-5f)};
        int in[4] = {add->in_slots[0], add->in_slots[1], ln->in_slots[1], beta};
        int out[4] = {ln->out_slots[0], -1, -1, s};
        bool fused;
        ML_TRY(fuse_rewrite(g, add, "com.microsoft", "SkipLayerNormalization", 1, beta >= 0 ? 4 : 3,
                            in, sum_used ? 4 : 1, out, 1, &eps, &fused));
        if (!fused) continue;
        ln->skip = true;
        if (!fuse_reindex(fc)) return ML_STATUS_OK;
    }
    return ML_STATUS_OK;
}

/* ---- decomposed LayerNormalization ----
 *
 *   m = ReduceMean(x, axes=[-1]);  d = x - m
 *   v = ReduceMean(Pow(d, 2) | d * d, axes=[-1])
 *   y = d / Sqrt(v + eps) * gamma [+ beta]
 *
 * becomes LayerNormalization(x, gamma, beta?, axis=-1, epsilon=eps), as
 * exporters before opset 17 spell it (both ReduceMeans keep their dims).
 * gamma and beta must be constant 1-D float tensors of one length. */

/* ReduceMean over the last axis only, keeping it */
static bool mean_last_axis(const ml_graph *g, const ml_exec_node *en) {
    if (!fuse_is_op(en, "ReduceMean") || en->node.n_outputs != 1 ||
        ml_attr_int(&en->node, "keepdims", 1) != 1)
        return false;
    const int64_t *axes = NULL;
    size_t n = ml_attr_ints(&en->node, "axes", &axes);
    if (en->node.n_inputs >= 2 && en->in_slots[1] >= 0) {
        int s = en->in_slots[1];
        const ml_value *v = g->slots[s].kind == ML_SLOT_CONST ? g->slots[s].value : NULL;
        if (n || !v || v->kind != ML_VALUE_TENSOR || v->tensor->dtype != ML_INT64) return false;
        axes = v->tensor->data;
        n = ml_tensor_numel(v->tensor);
    }
    return n == 1 && axes[0] == -1;
}

static bool is_ln_param(const ml_graph *g, int s, int64_t *len) {
    const ml_tensor *t = fuse_const_f32(g, s);
    if (!t || t->rank != 1) return false;
    if (*len < 0) *len = t->dims[0];
    return t->dims[0] == *len;
}

/* Matches the pattern ending in Div `div`; fills drop (the nodes before the
 * scale Mul), x, eps. */
static bool match_ln_core(const fuse_ctx *fc, ml_exec_node *div, ml_exec_node **drop, int *x,
                          float *eps) {
    const ml_graph *g = fc->g;
    if (!fuse_is_op(div, "Div") || div->node.n_inputs != 2 || div->node.n_outputs != 1)
        return false;
    int d = div->in_slots[0], s = div->in_slots[1];
    ml_exec_node *sq = fuse_producer(fc, s);
    if (!fuse_is_op(sq, "Sqrt") || fuse_sole_reader(fc, s) != div) return false;
    int a = sq->in_slots[0];
    ml_exec_node *add = fuse_producer(fc, a);
    if (!fuse_is_op(add, "Add") || fuse_sole_reader(fc, a) != sq) return false;
    int v = -1;
    for (int i = 0; i < 2 && v < 0; i++) {
        const ml_tensor *t = fuse_const_f32(g, add->in_slots[i]);
        /* v keeps x's rank >= 1, so a [1] epsilon does not change the shape */
        if (t && t->rank <= 1 && ml_tensor_numel(t) == 1 && add->in_slots[1 - i] >= 0) {
            *eps = ((const float *)t->data)[0];
            v = add->in_slots[1 - i];
        }
    }
    ml_exec_node *r2 = fuse_producer(fc, v);
    if (!mean_last_axis(g, r2) || fuse_sole_reader(fc, v) != add) return false;
    int p = r2->in_slots[0];
    ml_exec_node *sqr = fuse_producer(fc, p);
    if (!sqr || fuse_sole_reader(fc, p) != r2 || sqr->node.n_inputs != 2) return false;
    int d_reads;
    if (fuse_is_op(sqr, "Pow") && sqr->in_slots[0] == d && fuse_is_scalar(g, sqr->in_slots[1], 2.0))
        d_reads = 2;
    else if (fuse_is_op(sqr, "Mul") && sqr->in_slots[0] == d && sqr->in_slots[1] == d)
        d_reads = 3;
    else
        return false;
    ml_exec_node *sub = fuse_producer(fc, d);
    if (!fuse_is_op(sub, "Sub") || sub->node.n_inputs != 2 || fuse_readers(fc, d) != d_reads ||
        g->slots[d].is_output)
        return false;
    int m = sub->in_slots[1];
    ml_exec_node *r1 = fuse_producer(fc, m);
    if (!mean_last_axis(g, r1) || fuse_sole_reader(fc, m) != sub ||
        r1->in_slots[0] != sub->in_slots[0])
        return false;
    *x = sub->in_slots[0];
    ml_exec_node *nodes[] = {r1, sub, sqr, r2, add, sq, div};
    for (int i = 0; i < 7; i++) drop[i] = nodes[i];
    return *x >= 0 && *eps >= 0;
}

ml_status fuse_layernorm(fuse_ctx *fc) {
    ml_graph *g = fc->g;
    if (!fuse_have_kernel("", "LayerNormalization", 17)) return ML_STATUS_OK;
    for (size_t k = 0; k < g->n_nodes; k++) {
        ml_exec_node *div = &g->nodes[k], *drop[7];
        int x;
        float eps = 0;
        if (!fuse_is_op(div, "Div") || !match_ln_core(fc, div, drop, &x, &eps)) continue;
        int n = div->out_slots[0];
        ml_exec_node *mul = fuse_sole_reader(fc, n);
        int64_t len = -1;
        int gamma = fuse_is_op(mul, "Mul") ? fuse_other_input(mul, n) : -1;
        if (!is_ln_param(g, gamma, &len)) continue;
        ml_exec_node *last = mul, *badd = fuse_sole_reader(fc, mul->out_slots[0]);
        int beta = fuse_is_op(badd, "Add") ? fuse_other_input(badd, mul->out_slots[0]) : -1;
        if (beta >= 0 && is_ln_param(g, beta, &len))
            last = badd;
        else
            beta = -1;
        ml_attr attrs[2] = {{.name = "axis", .type = ML_ATTR_INT, .i = -1},
                            {.name = "epsilon", .type = ML_ATTR_FLOAT, .f = eps}};
        int in[3] = {x, gamma, beta}, out = last->out_slots[0];
        bool fused;
        ML_TRY(fuse_rewrite(g, last, "", "LayerNormalization", 17, beta >= 0 ? 3 : 2, in, 1, &out,
                            2, attrs, &fused));
        if (!fused) continue;
        for (int i = 0; i < 7; i++) drop[i]->skip = true;
        if (last != mul) mul->skip = true;
        if (!fuse_reindex(fc)) return ML_STATUS_OK;
    }
    return ML_STATUS_OK;
}

/* Mul reading slot s once: its other operand, else -1 */
static int other_operand_mul(const ml_exec_node *en, int s) {
    return fuse_is_op(en, "Mul") ? fuse_other_input(en, s) : -1;
}

/* ---- decomposed RMSNorm (LLaMA-style exports) ----
 *
 *   v = ReduceMean(Pow(x, 2) | x * x, axes=[-1]);  s = Sqrt(v + eps)
 *   y = (x / s | x * Reciprocal(s)) * gamma
 *
 * becomes com.microsoft SimplifiedLayerNormalization(x, gamma, axis=-1,
 * epsilon=eps); gamma a constant 1-D float tensor. */
ml_status fuse_rms_norm(fuse_ctx *fc) {
    ml_graph *g = fc->g;
    if (!fuse_have_kernel("com.microsoft", "SimplifiedLayerNormalization", 1)) return ML_STATUS_OK;
    for (size_t k = 0; k < g->n_nodes; k++) {
        ml_exec_node *sq = &g->nodes[k];
        if (!fuse_is_op(sq, "Sqrt") || sq->node.n_inputs != 1 || sq->node.n_outputs != 1) continue;
        int a = sq->in_slots[0], s = sq->out_slots[0];
        ml_exec_node *add = fuse_producer(fc, a);
        if (!fuse_is_op(add, "Add") || add->node.n_inputs != 2 || fuse_sole_reader(fc, a) != sq)
            continue;
        int v = -1;
        float eps = 0;
        for (int i = 0; i < 2 && v < 0; i++) {
            const ml_tensor *t = fuse_const_f32(g, add->in_slots[i]);
            if (t && t->rank <= 1 && ml_tensor_numel(t) == 1 && add->in_slots[1 - i] >= 0) {
                eps = ((const float *)t->data)[0];
                v = add->in_slots[1 - i];
            }
        }
        ml_exec_node *mean = fuse_producer(fc, v);
        if (!(eps >= 0) || !mean_last_axis(g, mean) || fuse_sole_reader(fc, v) != add) continue;
        int p = mean->in_slots[0];
        ml_exec_node *sqr = fuse_producer(fc, p);
        if (!sqr || fuse_sole_reader(fc, p) != mean || sqr->node.n_inputs != 2) continue;
        int x = sqr->in_slots[0];
        if (!(fuse_is_op(sqr, "Pow") && fuse_is_scalar(g, sqr->in_slots[1], 2.0)) &&
            !(fuse_is_op(sqr, "Mul") && sqr->in_slots[1] == x))
            continue;
        /* x / s, or x * Reciprocal(s) */
        ml_exec_node *norm = fuse_sole_reader(fc, s), *recip = NULL;
        if (fuse_is_op(norm, "Reciprocal") && norm->node.n_outputs == 1) {
            recip = norm;
            norm = fuse_sole_reader(fc, recip->out_slots[0]);
            if (other_operand_mul(norm, recip->out_slots[0]) != x) continue;
        } else if (!fuse_is_op(norm, "Div") || norm->node.n_inputs != 2 || norm->in_slots[0] != x ||
                   norm->in_slots[1] != s) {
            continue;
        }
        int n = norm->out_slots[0];
        ml_exec_node *mul = fuse_sole_reader(fc, n);
        int64_t len = -1;
        int gamma = fuse_is_op(mul, "Mul") ? fuse_other_input(mul, n) : -1;
        if (!is_ln_param(g, gamma, &len)) continue;
        ml_attr attrs[2] = {{.name = "axis", .type = ML_ATTR_INT, .i = -1},
                            {.name = "epsilon", .type = ML_ATTR_FLOAT, .f = eps}};
        int in[2] = {x, gamma}, out = mul->out_slots[0];
        bool fused;
        ML_TRY(fuse_rewrite(g, mul, "com.microsoft", "SimplifiedLayerNormalization", 1, 2, in, 1,
                            &out, 2, attrs, &fused));
        if (!fused) continue;
        ml_exec_node *drop[] = {sqr, mean, add, sq, recip, norm};
        for (int i = 0; i < 6; i++)
            if (drop[i]) drop[i]->skip = true;
        if (!fuse_reindex(fc)) return ML_STATUS_OK;
    }
    return ML_STATUS_OK;
}
