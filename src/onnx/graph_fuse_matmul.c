/* GEMM epilogue fusions (only when the fused kernels are registered):
 *
 *   MatMul(A, B) [+ Add(bias)] [+ act]  ->  com.mlambda MatMulBiasAct(A, B, bias?)
 *   Conv(X, W, B?) + act                ->  com.microsoft FusedConv(X, W, B?)
 *   Conv(X, W, B?) + Add(Z) [+ act]     ->  com.microsoft FusedConv(X, W, B?, Z)
 *   Conv(X, W, B?) + Add(c) [+ act]     ->  com.microsoft FusedConv(X, W, B + c)
 *   Gemm(A, B, C?) + act                ->  com.microsoft FusedGemm(A, B, C?)
 *
 * B and W must be constant float tensors (B 2-D, so the fused kernel accepts
 * every A that MatMul does); bias a constant 1-D float tensor of B's column
 * count; act one of Relu, LeakyRelu, Sigmoid, Tanh, HardSigmoid, Clip (with
 * constant bounds), named and parameterised as onnxruntime's FusedConv spells
 * them ("activation", "activation_params"). Z, the residual Add's other
 * operand, may have any shape Add accepts: its shape is only known when the
 * model runs, and the kernel falls back to conv + broadcasting Add then. A
 * constant c adding one value per output channel ([M,1,1], [1,M,1,1], a
 * scalar...) is folded into the bias instead. */
#include <math.h>
#include <string.h>

#include "onnx/graph_fuse_internal.h"

typedef struct act_match {
    const char *name;
    float params[2];
    size_t n_params;
} act_match;

/* Optional constant scalar input i of en: true with *v untouched when omitted. */
static bool const_bound(const ml_graph *g, const ml_exec_node *en, size_t i, float *v) {
    if (en->node.n_inputs <= i || en->in_slots[i] < 0) return true;
    const ml_tensor *t = fuse_const_f32(g, en->in_slots[i]);
    if (!t || ml_tensor_numel(t) != 1) return false;
    *v = ((const float *)t->data)[0];
    return true;
}

/* Whether en (reading slot s as input 0) is an activation the epilogue can do. */
static bool match_act(const ml_graph *g, const ml_exec_node *en, int s, act_match *m) {
    if (!en || en->skip || en->node.domain[0] || en->node.n_outputs != 1 || en->node.n_inputs < 1 ||
        en->in_slots[0] != s)
        return false;
    const ml_node *n = &en->node;
    *m = (act_match){.name = n->op_type};
    if (strcmp(n->op_type, "Relu") == 0 || strcmp(n->op_type, "Sigmoid") == 0 ||
        strcmp(n->op_type, "Tanh") == 0)
        return n->n_inputs == 1;
    if (strcmp(n->op_type, "LeakyRelu") == 0) {
        m->params[0] = ml_attr_float(n, "alpha", 0.01f);
        m->n_params = 1;
        return n->n_inputs == 1;
    }
    if (strcmp(n->op_type, "HardSigmoid") == 0) {
        m->params[0] = ml_attr_float(n, "alpha", 0.2f);
        m->params[1] = ml_attr_float(n, "beta", 0.5f);
        m->n_params = 2;
        return n->n_inputs == 1;
    }
    if (strcmp(n->op_type, "Clip") == 0) {
        float lo = -INFINITY, hi = INFINITY;
        if (n->opset < 11) {
            lo = ml_attr_float(n, "min", -INFINITY);
            hi = ml_attr_float(n, "max", INFINITY);
        } else if (!const_bound(g, en, 1, &lo) || !const_bound(g, en, 2, &hi)) {
            return false;
        }
        /* Clip with min > max is defined by the op's own order of min/max */
        if (!(lo <= hi)) return false;
        m->params[0] = lo;
        m->params[1] = hi;
        m->n_params = 2;
        return n->n_inputs <= 3;
    }
    return false;
}

/* Fills attrs with activation/activation_params (arena copies); *n = count. */
static ml_status act_attrs(ml_graph *g, const act_match *m, ml_attr *attrs, size_t *n) {
    *n = 0;
    if (!m->name) return ML_STATUS_OK;
    attrs[(*n)++] = (ml_attr){
        .name = "activation", .type = ML_ATTR_STRING, .s = {(char *)m->name, strlen(m->name)}};
    if (!m->n_params) return ML_STATUS_OK;
    float *p = ml_arena_alloc(&g->model->arena, sizeof(float) * m->n_params, 0);
    if (!p) return ml_error(ML_ERR_OUT_OF_MEMORY, "fusion");
    memcpy(p, m->params, sizeof(float) * m->n_params);
    attrs[(*n)++] = (ml_attr){
        .name = "activation_params", .type = ML_ATTR_FLOATS, .n = m->n_params, .floats = p};
    return ML_STATUS_OK;
}

ml_status fuse_matmul_bias(fuse_ctx *fc) {
    ml_graph *g = fc->g;
    if (!fuse_have_kernel("com.mlambda", "MatMulBiasAct", 1)) return ML_STATUS_OK;
    for (size_t k = 0; k < g->n_nodes; k++) {
        ml_exec_node *mm = &g->nodes[k];
        if (!fuse_is_op(mm, "MatMul") || mm->node.n_inputs != 2 || mm->node.n_outputs != 1 ||
            mm->in_slots[0] < 0 || mm->out_slots[0] < 0)
            continue;
        const ml_tensor *b = fuse_const_f32(g, mm->in_slots[1]);
        if (!b || b->rank != 2) continue;
        int y = mm->out_slots[0], bias = -1;
        ml_exec_node *last = mm, *drop[2] = {NULL, NULL};
        ml_exec_node *next = fuse_sole_reader(fc, y);
        if (fuse_is_op(next, "Add")) {
            int o = fuse_other_input(next, y);
            const ml_tensor *t = fuse_const_f32(g, o);
            if (t && t->rank == 1 && t->dims[0] == b->dims[1]) {
                bias = o;
                drop[0] = mm;
                last = next;
                y = next->out_slots[0];
                next = fuse_sole_reader(fc, y);
            }
        }
        act_match act = {0};
        if (match_act(g, next, y, &act)) {
            if (drop[0])
                drop[1] = last;
            else
                drop[0] = mm;
            last = next;
        } else {
            act.name = NULL;
        }
        if (last == mm) continue; /* nothing to fuse */
        ml_attr attrs[2];
        size_t n_attrs;
        ML_TRY(act_attrs(g, &act, attrs, &n_attrs));
        int in[3] = {mm->in_slots[0], mm->in_slots[1], bias};
        int out = last->out_slots[0];
        bool fused;
        ML_TRY(fuse_rewrite(g, last, "com.mlambda", "MatMulBiasAct", 1, bias >= 0 ? 3 : 2, in, 1,
                            &out, n_attrs, attrs, &fused));
        if (!fused) continue;
        for (int i = 0; i < 2; i++)
            if (drop[i]) drop[i]->skip = true;
        if (!fuse_reindex(fc)) return ML_STATUS_OK;
    }
    return ML_STATUS_OK;
}

/* The residual Add after a Conv whose output (slot y) only it reads: the
 * slot of Add's other operand, or -1. Opset-7+ Add broadcasts numpy-style,
 * as the FusedConv kernel does for a Z of another shape; older Adds with
 * broadcast/axis attributes are left alone. Add(y, y) never gets here:
 * fuse_sole_reader wants y read once. */
static int match_residual(const fuse_ctx *fc, const ml_exec_node *add, int y) {
    if (!fuse_is_op(add, "Add") || add->node.opset < 7 || add->node.n_attrs != 0 ||
        add->out_slots[0] < 0)
        return -1;
    int o = fuse_other_input(add, y);
    return o >= 0 && o != y && fuse_readers(fc, y) == 1 ? o : -1;
}

/* A constant residual c that only adds a value per output channel: every
 * dim of c (aligned to the right of the conv output's out_rank dims) is 1
 * except, optionally, the channel dim, which is M. Adding it cannot change
 * the output's shape. Returns c's values per channel in *vals (numel 1 or
 * M; *per_channel says which), or false. */
static bool channel_const(const ml_tensor *c, int out_rank, int64_t M, const float **vals,
                          bool *per_channel) {
    if (!c || c->rank > out_rank || out_rank < 3) return false;
    size_t n = ml_tensor_numel(c);
    for (int i = 0; i < c->rank; i++) {
        int axis = out_rank - c->rank + i; /* the output dim this one lines up with */
        if (c->dims[i] != 1 && !(axis == 1 && c->dims[i] == M)) return false;
    }
    if (n != 1 && n != (size_t)M) return false;
    *vals = c->data;
    *per_channel = n != 1;
    return true;
}

/* Conv + Add(constant per-channel c): the Conv's bias becomes B + c (a new
 * graph constant; in_bias gets its slot). False when the pattern does not
 * hold (B present but not constant, c of another shape). */
static ml_status fold_channel_add(fuse_ctx *fc, const ml_exec_node *conv, const ml_tensor *w,
                                  int other, int *in_bias, bool *folded) {
    ml_graph *g = fc->g;
    *folded = false;
    int64_t M = w->dims[0];
    const float *cv;
    bool per_channel;
    if (!channel_const(fuse_const_f32(g, other), w->rank, M, &cv, &per_channel))
        return ML_STATUS_OK;
    int bslot = conv->node.n_inputs > 2 ? conv->in_slots[2] : -1;
    const ml_tensor *b = bslot >= 0 ? fuse_const_f32(g, bslot) : NULL;
    if (bslot >= 0 && (!b || b->rank != 1 || b->dims[0] != M)) return ML_STATUS_OK;
    ml_tensor *nb;
    int64_t bd[1] = {M};
    ML_TRY(ml_tensor_create(ML_FLOAT, 1, bd, &nb));
    float *d = nb->data;
    for (int64_t m = 0; m < M; m++)
        d[m] = (b ? ((const float *)b->data)[m] : 0.0f) + cv[per_channel ? m : 0];
    ML_TRY(fuse_add_const(g, conv->node.output_names[0], "fused_bias", nb, in_bias));
    *folded = true;
    return ML_STATUS_OK;
}

ml_status fuse_conv_act(fuse_ctx *fc) {
    ml_graph *g = fc->g;
    if (!fuse_have_kernel("com.microsoft", "FusedConv", 1)) return ML_STATUS_OK;
    for (size_t k = 0; k < g->n_nodes; k++) {
        ml_exec_node *conv = &g->nodes[k];
        if (!fuse_is_op(conv, "Conv") || conv->node.n_inputs < 2 || conv->node.n_inputs > 3 ||
            conv->node.n_outputs != 1 || conv->out_slots[0] < 0)
            continue;
        const ml_tensor *w = fuse_const_f32(g, conv->in_slots[1]);
        if (!w || w->rank < 3) continue;
        int y = conv->out_slots[0];
        ml_exec_node *next = fuse_sole_reader(fc, y), *add = NULL;
        int bias = conv->node.n_inputs > 2 ? conv->in_slots[2] : -1;
        /* Conv + Add(other) [+ act]: other becomes FusedConv's Z, or, when it
         * is a constant per channel (exporters' bias Add), part of the bias.
         * Other constants stay an Add: as Z they would take the kernel's
         * broadcasting path on every run. */
        int z = match_residual(fc, next, y);
        if (z >= 0 && g->slots[z].kind == ML_SLOT_CONST) {
            bool folded;
            ML_TRY(fold_channel_add(fc, conv, w, z, &bias, &folded));
            z = -1;
            if (folded) add = next;
        } else if (z >= 0) {
            add = next;
        }
        if (add) {
            y = add->out_slots[0];
            next = fuse_sole_reader(fc, y);
        }
        act_match act;
        bool has_act = match_act(g, next, y, &act);
        if (!has_act && !add) continue;
        if (!has_act) act.name = NULL;
        ml_attr attrs[2 + 8];
        /* the Conv's own attributes (strides, pads, group...) come along */
        size_t n_own = conv->node.n_attrs;
        if (n_own > 8) continue;
        for (size_t i = 0; i < n_own; i++) attrs[i] = conv->node.attrs[i];
        size_t n_act;
        ML_TRY(act_attrs(g, &act, attrs + n_own, &n_act));
        size_t n_attrs = n_own + n_act;
        int in[4] = {conv->in_slots[0], conv->in_slots[1], bias, z};
        ml_exec_node *last = has_act ? next : add;
        int out = last->out_slots[0];
        size_t n_in = z >= 0 ? 4 : (bias >= 0 ? 3 : 2);
        bool fused;
        ML_TRY(fuse_rewrite(g, last, "com.microsoft", "FusedConv", 1, n_in, in, 1, &out, n_attrs,
                            attrs, &fused));
        if (!fused) continue;
        conv->skip = true;
        if (add && add != last) add->skip = true;
        if (!fuse_reindex(fc)) return ML_STATUS_OK;
    }
    return ML_STATUS_OK;
}

/* Gemm + act -> com.microsoft FusedGemm (onnxruntime's attribute names:
 * activation, activation_alpha, activation_beta). B must be a constant float
 * tensor, so the product is float. */
ml_status fuse_gemm_act(fuse_ctx *fc) {
    ml_graph *g = fc->g;
    if (!fuse_have_kernel("com.microsoft", "FusedGemm", 1)) return ML_STATUS_OK;
    for (size_t k = 0; k < g->n_nodes; k++) {
        ml_exec_node *gemm = &g->nodes[k];
        if (!fuse_is_op(gemm, "Gemm") || gemm->node.n_inputs < 2 || gemm->node.n_inputs > 3 ||
            gemm->node.n_outputs != 1 || gemm->out_slots[0] < 0 || gemm->node.n_attrs > 4 ||
            !fuse_const_f32(g, gemm->in_slots[1]))
            continue;
        int y = gemm->out_slots[0];
        ml_exec_node *next = fuse_sole_reader(fc, y);
        act_match act;
        if (!match_act(g, next, y, &act)) continue;
        ml_attr attrs[4 + 3];
        size_t n = gemm->node.n_attrs;
        for (size_t i = 0; i < n; i++) attrs[i] = gemm->node.attrs[i];
        attrs[n++] = (ml_attr){.name = "activation",
                               .type = ML_ATTR_STRING,
                               .s = {(char *)act.name, strlen(act.name)}};
        const char *pn[2] = {"activation_alpha", "activation_beta"};
        for (size_t i = 0; i < act.n_params; i++)
            attrs[n++] = (ml_attr){.name = pn[i], .type = ML_ATTR_FLOAT, .f = act.params[i]};
        int in[3] = {gemm->in_slots[0], gemm->in_slots[1],
                     gemm->node.n_inputs > 2 ? gemm->in_slots[2] : -1};
        int out = next->out_slots[0];
        bool fused;
        ML_TRY(fuse_rewrite(g, next, "com.microsoft", "FusedGemm", 1, gemm->node.n_inputs, in, 1,
                            &out, n, attrs, &fused));
        if (!fused) continue;
        gemm->skip = true;
        if (!fuse_reindex(fc)) return ML_STATUS_OK;
    }
    return ML_STATUS_OK;
}
