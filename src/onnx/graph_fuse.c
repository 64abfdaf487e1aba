/* Level-2 graph rewrites (fusions), run on a sorted graph before kernels are
 * bound, so kernel init sees the rewritten constants.
 *
 * Conv followed by inference-mode BatchNormalization, with constant float
 * weights and the Conv output read only by that BatchNormalization, becomes
 * one Conv with scaled weights and bias:
 *   s = scale / sqrt(var + eps);  W' = W * s[m];  B' = (B - mean) * s + bias */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "onnx/graph.h"

static const ml_tensor *const_f32(const ml_graph *g, int slot) {
    if (slot < 0 || g->slots[slot].kind != ML_SLOT_CONST) return NULL;
    const ml_value *v = g->slots[slot].value;
    if (!v || v->kind != ML_VALUE_TENSOR || v->tensor->dtype != ML_FLOAT) return NULL;
    return v->tensor;
}

static bool is_op(const ml_exec_node *en, const char *op) {
    return !en->skip && en->node.domain[0] == '\0' && strcmp(en->node.op_type, op) == 0;
}

/* Readers of each slot: node inputs (explicit and implicit) plus graph outputs. */
static int *count_readers(const ml_graph *g) {
    int *n = calloc(g->n_slots ? g->n_slots : 1, sizeof *n);
    if (!n) return NULL;
    for (size_t k = 0; k < g->n_nodes; k++) {
        const ml_exec_node *en = &g->nodes[k];
        for (size_t i = 0; i < en->node.n_inputs; i++)
            if (en->in_slots[i] >= 0) n[en->in_slots[i]]++;
        for (size_t i = 0; i < en->n_implicit; i++) n[en->implicit_slots[i]]++;
    }
    for (size_t i = 0; i < g->n_outputs; i++) n[g->output_slots[i]]++;
    return n;
}

static ml_status add_const(ml_graph *g, const char *base, const char *suffix, ml_tensor *t,
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

/* Tries to fuse conv (index k) into the BatchNormalization bn. */
static ml_status fuse_pair(ml_graph *g, ml_exec_node *conv, ml_exec_node *bn) {
    const ml_tensor *w = const_f32(g, conv->in_slots[1]);
    const ml_tensor *b = conv->node.n_inputs > 2 ? const_f32(g, conv->in_slots[2]) : NULL;
    if (conv->node.n_inputs > 2 && conv->in_slots[2] >= 0 && !b) return ML_STATUS_OK;
    const ml_tensor *p[4];
    for (int i = 0; i < 4; i++)
        if (!(p[i] = const_f32(g, bn->in_slots[1 + i]))) return ML_STATUS_OK;
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
    st = add_const(g, base, "fused_W", w2, &ws);
    if (st) {
        ml_tensor_free(b2);
        return st;
    }
    ML_TRY(add_const(g, base, "fused_B", b2, &bs));

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
    return ML_STATUS_OK;
}

ml_status ml_graph_fuse(ml_graph *g) {
    int *readers = count_readers(g);
    if (!readers) return ML_STATUS_OK; /* optimisation only */
    ml_status st = ML_STATUS_OK;
    /* producer of each slot, to find the Conv feeding a BatchNormalization */
    int *producer = malloc((g->n_slots ? g->n_slots : 1) * sizeof *producer);
    if (!producer) {
        free(readers);
        return ML_STATUS_OK;
    }
    for (size_t s = 0; s < g->n_slots; s++) producer[s] = -1;
    for (size_t k = 0; k < g->n_nodes; k++)
        for (size_t o = 0; o < g->nodes[k].node.n_outputs; o++)
            if (g->nodes[k].out_slots[o] >= 0) producer[g->nodes[k].out_slots[o]] = (int)k;
    size_t n_slots_before = g->n_slots;
    for (size_t k = 0; !st && k < g->n_nodes; k++) {
        ml_exec_node *bn = &g->nodes[k];
        if (!is_op(bn, "BatchNormalization") || bn->node.n_inputs != 5) continue;
        if (ml_attr_int(&bn->node, "training_mode", 0) != 0) continue;
        bool extra_outputs = false;
        for (size_t o = 1; o < bn->node.n_outputs; o++)
            if (bn->out_slots[o] >= 0) extra_outputs = true;
        if (extra_outputs || bn->out_slots[0] < 0) continue;
        int y = bn->in_slots[0];
        if (y < 0 || (size_t)y >= n_slots_before || producer[y] < 0 || readers[y] != 1) continue;
        ml_exec_node *conv = &g->nodes[producer[y]];
        if (!is_op(conv, "Conv") || conv->node.n_outputs != 1 || conv->node.n_inputs < 2) continue;
        st = fuse_pair(g, conv, bn);
    }
    free(readers);
    free(producer);
    return st;
}
