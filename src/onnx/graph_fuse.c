/* Level-2 graph rewrites (fusions): the driver, the helpers every pass
 * shares (graph_fuse_internal.h), and Conv + BatchNormalization folding.
 *
 * Conv followed by inference-mode BatchNormalization, with constant float
 * weights and the Conv output read only by that BatchNormalization, becomes
 * one Conv with scaled weights and bias:
 *   s = scale / sqrt(var + eps);  W' = W * s[m];  B' = (B - mean) * s + bias */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/graph_fuse_internal.h"

/* ---- indexes ---- */

bool fuse_index(fuse_ctx *fc, ml_graph *g) {
    *fc = (fuse_ctx){.g = g, .n_slots = g->n_slots};
    size_t n = g->n_slots ? g->n_slots : 1;
    fc->readers = calloc(n, sizeof *fc->readers);
    fc->producer = malloc(n * sizeof *fc->producer);
    fc->reader = malloc(n * sizeof *fc->reader);
    if (!fc->readers || !fc->producer || !fc->reader) {
        fuse_index_free(fc);
        return false;
    }
    for (size_t s = 0; s < g->n_slots; s++) fc->producer[s] = fc->reader[s] = -1;
    for (size_t k = 0; k < g->n_nodes; k++) {
        const ml_exec_node *en = &g->nodes[k];
        if (en->skip) continue;
        for (size_t i = 0; i < en->node.n_inputs; i++) {
            int s = en->in_slots[i];
            if (s < 0) continue;
            fc->readers[s]++;
            fc->reader[s] = (int)k;
        }
        for (size_t i = 0; i < en->n_implicit; i++) {
            fc->readers[en->implicit_slots[i]]++;
            fc->reader[en->implicit_slots[i]] = (int)k;
        }
        for (size_t o = 0; o < en->node.n_outputs; o++)
            if (en->out_slots[o] >= 0) fc->producer[en->out_slots[o]] = (int)k;
    }
    for (size_t i = 0; i < g->n_outputs; i++) fc->readers[g->output_slots[i]]++;
    return true;
}

void fuse_index_free(fuse_ctx *fc) {
    free(fc->readers);
    free(fc->producer);
    free(fc->reader);
    fc->readers = fc->producer = fc->reader = NULL;
}

bool fuse_reindex(fuse_ctx *fc) {
    ml_graph *g = fc->g;
    fuse_index_free(fc);
    return fuse_index(fc, g);
}

ml_exec_node *fuse_producer(const fuse_ctx *fc, int s) {
    if (s < 0 || (size_t)s >= fc->n_slots || fc->producer[s] < 0) return NULL;
    return &fc->g->nodes[fc->producer[s]];
}

ml_exec_node *fuse_sole_reader(const fuse_ctx *fc, int s) {
    if (s < 0 || (size_t)s >= fc->n_slots || fc->readers[s] != 1 || fc->reader[s] < 0 ||
        fc->g->slots[s].is_output)
        return NULL;
    ml_exec_node *en = &fc->g->nodes[fc->reader[s]];
    /* read once in total: exactly one input position of that node */
    int reads = 0;
    for (size_t i = 0; i < en->node.n_inputs; i++) reads += en->in_slots[i] == s;
    return reads == 1 ? en : NULL;
}

int fuse_readers(const fuse_ctx *fc, int s) {
    return s >= 0 && (size_t)s < fc->n_slots ? fc->readers[s] : 0;
}

/* ---- matching helpers ---- */

bool fuse_is_op(const ml_exec_node *en, const char *op) {
    return en && !en->skip && en->node.domain[0] == '\0' && strcmp(en->node.op_type, op) == 0;
}

const ml_tensor *fuse_const_f32(const ml_graph *g, int slot) {
    if (slot < 0 || g->slots[slot].kind != ML_SLOT_CONST) return NULL;
    const ml_value *v = g->slots[slot].value;
    if (!v || v->kind != ML_VALUE_TENSOR || v->tensor->dtype != ML_FLOAT) return NULL;
    return v->tensor;
}

bool fuse_is_scalar(const ml_graph *g, int s, double want) {
    const ml_tensor *t = fuse_const_f32(g, s);
    /* rank 0 only: a [1] operand would turn a scalar x into [1] */
    if (!t || t->rank != 0) return false;
    double v = ((const float *)t->data)[0];
    return fabs(v - want) <= 1e-5 * fabs(want);
}

int fuse_other_input(const ml_exec_node *en, int other) {
    if (en->node.n_inputs != 2 || en->node.n_outputs != 1) return -1;
    if (en->in_slots[0] == other) return en->in_slots[1];
    if (en->in_slots[1] == other) return en->in_slots[0];
    return -1;
}

/* ---- rewriting ---- */

ml_status fuse_add_const(ml_graph *g, const char *base, const char *suffix, ml_tensor *t,
                         int *slot) {
    size_t len = strlen(base) + strlen(suffix) + 2;
    char *name = ml_arena_alloc(&g->model->arena, len, 1);
    if (!name) {
        ml_tensor_free(t);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "fusion");
    }
    /* a control character keeps generated names apart from the model's */
    snprintf(name, len, "%s\x01%s", base, suffix);
    ml_value *v;
    ML_TRY(ml_value_from_tensor(t, &v));
    ml_status st = ml_graph_add_slot(g, name, ML_SLOT_CONST, slot);
    if (st) {
        ml_value_free(v);
        return st;
    }
    g->slots[*slot].value = v;
    return ML_STATUS_OK;
}

bool fuse_have_kernel(const char *domain, const char *op, int opset) {
    return ml_find_kernel(domain, op, opset) != NULL;
}

ml_status fuse_rewrite(ml_graph *g, ml_exec_node *en, const char *domain, const char *op, int opset,
                       size_t n_in, const int *in, size_t n_out, const int *out, size_t n_attrs,
                       const ml_attr *attrs, bool *fused) {
    *fused = false;
    const ml_kernel *k = ml_find_kernel(domain, op, opset);
    if (!k) return ML_STATUS_OK;
    ml_arena *a = &g->model->arena;
    const char **in_names = ml_arena_alloc(a, (n_in + 1) * sizeof *in_names, 0);
    const char **out_names = ml_arena_alloc(a, (n_out + 1) * sizeof *out_names, 0);
    int *in_slots = ml_arena_alloc(a, (n_in + 1) * sizeof *in_slots, 0);
    int *out_slots = ml_arena_alloc(a, (n_out + 1) * sizeof *out_slots, 0);
    const ml_tensor **consts = ml_arena_alloc(a, (n_in + 1) * sizeof *consts, 0);
    ml_attr *at = ml_arena_alloc(a, (n_attrs + 1) * sizeof *at, 0);
    size_t name_len = strlen(en->node.name) + strlen(op) + 16;
    char *name = ml_arena_alloc(a, name_len, 1);
    if (!in_names || !out_names || !in_slots || !out_slots || !consts || !at || !name)
        return ml_error(ML_ERR_OUT_OF_MEMORY, "fusion");
    for (size_t i = 0; i < n_in; i++) {
        in_slots[i] = in[i];
        in_names[i] = in[i] >= 0 ? g->slots[in[i]].name : "";
        consts[i] = NULL;
    }
    for (size_t o = 0; o < n_out; o++) {
        out_slots[o] = out[o];
        out_names[o] = out[o] >= 0 ? g->slots[out[o]].name : "";
    }
    for (size_t i = 0; i < n_attrs; i++) at[i] = attrs[i];
    /* errors keep pointing at the model's node the result came from */
    snprintf(name, name_len, "%s (fused %s)", en->node.name, op);
    /* the node's state belongs to its current kernel: freed by it */
    ml_graph_unbind(en);
    ml_exec_node saved = *en;
    ml_node *n = &en->node;
    n->name = name;
    n->op_type = op;
    n->domain = domain;
    n->opset = opset;
    n->kernel = k;
    n->n_inputs = n_in;
    n->input_names = in_names;
    n->const_inputs = consts;
    n->n_outputs = n_out;
    n->output_names = out_names;
    n->n_attrs = n_attrs;
    n->attrs = at;
    en->in_slots = in_slots;
    en->out_slots = out_slots;
    en->n_implicit = 0;
    ml_status st = ml_graph_rebind(g, en);
    if (st) {
        /* the fused kernel refused what the model's nodes accept (an
         * attribute it does not support...): keep the original node */
        ml_status_free(st);
        *en = saved;
        en->has_state = false;
        en->node.state = NULL;
        ML_TRY(ml_graph_rebind(g, en));
        *fused = false;
        return ML_STATUS_OK;
    }
    *fused = true;
    return ML_STATUS_OK;
}

/* ---- Conv + BatchNormalization ---- */

/* Tries to fuse conv into the BatchNormalization bn. */
static ml_status fuse_pair(ml_graph *g, ml_exec_node *conv, ml_exec_node *bn) {
    const ml_tensor *w = fuse_const_f32(g, conv->in_slots[1]);
    const ml_tensor *b = conv->node.n_inputs > 2 ? fuse_const_f32(g, conv->in_slots[2]) : NULL;
    if (conv->node.n_inputs > 2 && conv->in_slots[2] >= 0 && !b) return ML_STATUS_OK;
    const ml_tensor *p[4];
    for (int i = 0; i < 4; i++)
        if (!(p[i] = fuse_const_f32(g, bn->in_slots[1 + i]))) return ML_STATUS_OK;
    if (!w || w->rank < 1) return ML_STATUS_OK;
    size_t m = (size_t)w->dims[0];
    for (int i = 0; i < 4; i++)
        if (ml_tensor_numel(p[i]) != m) return ML_STATUS_OK;
    if (b && ml_tensor_numel(b) != m) return ML_STATUS_OK;
    float eps = ml_attr_float(&bn->node, "epsilon", 1e-5f);
    const float *scale = p[0]->data, *bias = p[1]->data, *mean = p[2]->data, *var = p[3]->data;

    ml_tensor *w2, *b2;
    ML_TRY(ml_tensor_copy(w, &w2));
    int64_t bd[1] = {(int64_t)m};
    ml_status st = ml_tensor_create(ML_FLOAT, 1, bd, &b2);
    if (st) {
        ml_tensor_free(w2);
        return st;
    }
    size_t per = m ? ml_tensor_numel(w) / m : 0;
    float *wd = w2->data, *bdata = b2->data;
    for (size_t c = 0; c < m; c++) {
        float s = scale[c] / sqrtf(var[c] + eps);
        for (size_t j = 0; j < per; j++) wd[c * per + j] *= s;
        float b0 = b ? ((const float *)b->data)[c] : 0.0f;
        bdata[c] = (b0 - mean[c]) * s + bias[c];
    }
    const char *base = bn->node.output_names[0];
    int ws, bs;
    st = fuse_add_const(g, base, "fused_W", w2, &ws);
    if (st) {
        ml_tensor_free(b2);
        return st;
    }
    ML_TRY(fuse_add_const(g, base, "fused_B", b2, &bs));

    /* Conv gets three inputs and BatchNormalization's output */
    ml_arena *a = &g->model->arena;
    const char **names = ml_arena_alloc(a, 3 * sizeof *names, 0);
    int *slots = ml_arena_alloc(a, 3 * sizeof *slots, 0);
    const ml_tensor **consts = ml_arena_alloc(a, 3 * sizeof *consts, 0);
    if (!names || !slots || !consts) return ml_error(ML_ERR_OUT_OF_MEMORY, "fusion");
    slots[0] = conv->in_slots[0];
    slots[1] = ws;
    slots[2] = bs;
    for (int i = 0; i < 3; i++) names[i] = g->slots[slots[i]].name;
    conv->node.n_inputs = 3;
    conv->node.input_names = names;
    conv->node.const_inputs = consts;
    conv->in_slots = slots;
    conv->out_slots[0] = bn->out_slots[0];
    conv->node.output_names = bn->node.output_names;
    conv->node.n_outputs = 1;
    bn->skip = true;
    /* new weights: the Conv's pre-packed state is stale */
    return ml_graph_rebind(g, conv);
}

ml_status fuse_conv_bn(fuse_ctx *fc) {
    ml_graph *g = fc->g;
    for (size_t k = 0; k < g->n_nodes; k++) {
        ml_exec_node *bn = &g->nodes[k];
        if (!fuse_is_op(bn, "BatchNormalization") || bn->node.n_inputs != 5) continue;
        if (ml_attr_int(&bn->node, "training_mode", 0) != 0) continue;
        bool extra_outputs = false;
        for (size_t o = 1; o < bn->node.n_outputs; o++)
            if (bn->out_slots[o] >= 0) extra_outputs = true;
        if (extra_outputs || bn->out_slots[0] < 0) continue;
        int y = bn->in_slots[0];
        if (!fuse_sole_reader(fc, y)) continue;
        ml_exec_node *conv = fuse_producer(fc, y);
        if (!fuse_is_op(conv, "Conv") || conv->node.n_outputs != 1 || conv->node.n_inputs < 2)
            continue;
        ML_TRY(fuse_pair(g, conv, bn));
        if (!fuse_reindex(fc)) return ML_STATUS_OK;
    }
    return ML_STATUS_OK;
}

ml_status ml_graph_fuse(ml_graph *g) {
    /* order matters: attention first, so no MatMul + Add(constant mask)
     * inside it becomes a MatMulBiasAct; a bias Add goes into the GEMM
     * epilogue before Gelu could claim it, and BatchNormalization into the
     * Conv before its activation */
    static ml_status (*const passes[])(fuse_ctx *) = {
        fuse_attention, fuse_conv_bn,    fuse_matmul_bias, fuse_conv_act, fuse_gemm_act,
        fuse_gelu,      fuse_quick_gelu, fuse_layernorm,   fuse_rms_norm, fuse_skip_layernorm};
    for (size_t p = 0; p < sizeof passes / sizeof passes[0]; p++) {
        fuse_ctx fc;
        if (!fuse_index(&fc, g)) return ML_STATUS_OK; /* optimisation only */
        ml_status st = passes[p](&fc);
        fuse_index_free(&fc);
        if (st) return st;
    }
    return ML_STATUS_OK;
}
