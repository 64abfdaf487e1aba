/* The attention core as exporters spell it, with the heads already split:
 *
 *   scores = MatMul(Q, K)            K as the model computes it: [..., D, T]
 *   [scores = scores * s | s * scores | scores / s]
 *   [scores = Where(c, fill, scores) | Where(c, scores, fill)]   (a causal mask)
 *   [scores = scores + mask | mask + scores]          mask any tensor
 *   p = Softmax(scores)
 *   Y = MatMul(p, V)
 *
 * becomes one com.mlambda ScaledDotProductAttention(Q, K, V, s, mask, c, fill)
 * (src/ops/transformer_sdpa.c), which never holds the whole score tensor
 * and falls back to the original ops for shapes its fast path does not
 * cover (s or fill without exactly one element among them), so any axis,
 * dtype or broadcast the ops accept stays correct.
 * Every intermediate must be read by the next node of the pattern only.
 * The Q/K/V projections and the heads' Reshape/Transposes are left as they
 * are. */
#include "onnx/graph_fuse_internal.h"

#include "core/tensor.h"

enum { SCALE_NONE, SCALE_MUL, SCALE_DIV };
enum { WHERE_NONE, WHERE_FILL_TRUE, WHERE_FILL_FALSE };
#define N_OPS 6

static bool binary(const ml_exec_node *en, const char *op) {
    /* opset 7 brought numpy broadcasting (no legacy `broadcast` attribute) */
    return fuse_is_op(en, op) && en->node.n_inputs == 2 && en->node.n_outputs == 1 &&
           en->node.opset >= 7;
}

/* True when slot s is read only by en. */
static bool only_reader(const fuse_ctx *fc, int s, const ml_exec_node *en) {
    return fuse_sole_reader(fc, s) == en;
}

typedef struct attn_match {
    ml_exec_node *mm1, *scale, *where, *add, *sm, *mm2;
    int q, k, v, s, mask, cond, fill, scale_op, where_op;
} attn_match;

/* x = MatMul(Q, K), read by `next` only. */
static bool match_matmul(const fuse_ctx *fc, int x, const ml_exec_node *next, attn_match *m) {
    ml_exec_node *p = fuse_producer(fc, x);
    if (!fuse_is_op(p, "MatMul") || p->node.n_inputs != 2 || p->node.n_outputs != 1 ||
        !only_reader(fc, x, next))
        return false;
    m->mm1 = p;
    m->q = p->in_slots[0];
    m->k = p->in_slots[1];
    return true;
}

/* x = [scale](MatMul(Q, K)), read by `next` only. The scale need not be a
 * constant: the kernel checks at run time that it has one element. */
static bool match_scaled(const fuse_ctx *fc, int x, const ml_exec_node *next, attn_match *m) {
    ml_exec_node *p = fuse_producer(fc, x);
    m->scale = NULL, m->s = -1, m->scale_op = SCALE_NONE;
    if (!p || !only_reader(fc, x, next)) return false;
    if (!binary(p, "Mul") && !binary(p, "Div")) return match_matmul(fc, x, next, m);
    bool mul = binary(p, "Mul");
    /* Div divides the scores; Mul may take them either side */
    for (int i = 0; i < (mul ? 2 : 1); i++) {
        int sc = p->in_slots[i], other = p->in_slots[1 - i];
        if (sc != other && match_matmul(fc, sc, p, m)) {
            m->scale = p;
            m->s = other;
            m->scale_op = mul ? SCALE_MUL : SCALE_DIV;
            return true;
        }
    }
    return false;
}

/* x = [Where](scaled scores), read by `next` only; the Where's condition is
 * its first input, the fill (one element at run time) the other branch. */
static bool match_scores(const fuse_ctx *fc, int x, const ml_exec_node *next, attn_match *m) {
    ml_exec_node *p = fuse_producer(fc, x);
    m->where = NULL, m->cond = m->fill = -1, m->where_op = WHERE_NONE;
    if (!p || !only_reader(fc, x, next)) return false;
    if (!fuse_is_op(p, "Where") || p->node.n_inputs != 3 || p->node.n_outputs != 1)
        return match_scaled(fc, x, next, m);
    for (int i = 2; i >= 1; i--) {
        int sc = p->in_slots[i], fill = p->in_slots[3 - i], cond = p->in_slots[0];
        if (sc != fill && sc != cond && match_scaled(fc, sc, p, m)) {
            m->where = p;
            m->cond = cond;
            m->fill = fill;
            m->where_op = i == 2 ? WHERE_FILL_TRUE : WHERE_FILL_FALSE;
            return true;
        }
    }
    return false;
}

/* Walks back from the Softmax; fills m when the pattern matches. */
static bool match(const fuse_ctx *fc, ml_exec_node *sm, attn_match *m) {
    *m = (attn_match){.sm = sm, .s = -1, .mask = -1, .cond = -1, .fill = -1};
    if (sm->node.n_inputs != 1 || sm->node.n_outputs != 1 || sm->out_slots[0] < 0) return false;
    m->mm2 = fuse_sole_reader(fc, sm->out_slots[0]);
    if (!fuse_is_op(m->mm2, "MatMul") || m->mm2->node.n_inputs != 2 ||
        m->mm2->in_slots[0] != sm->out_slots[0] || m->mm2->out_slots[0] < 0)
        return false;
    m->v = m->mm2->in_slots[1];

    int x = sm->in_slots[0];
    ml_exec_node *p = fuse_producer(fc, x);
    if (!p || !only_reader(fc, x, sm)) return false;
    if (match_scores(fc, x, sm, m)) return true;
    if (!binary(p, "Add")) return false;
    /* either operand may be the scores (the other is the mask) */
    for (int i = 0; i < 2; i++)
        if (p->in_slots[i] != p->in_slots[1 - i] && match_scores(fc, p->in_slots[i], p, m)) {
            m->add = p;
            m->mask = p->in_slots[1 - i];
            return true;
        }
    return false;
}

static int64_t softmax_axis(const ml_node *sm) {
    /* before opset 13 the default axis was 1 (coercing to 2-D there) */
    return ml_attr_int(sm, "axis", sm->opset >= 13 ? -1 : 1);
}

static ml_status rewrite(fuse_ctx *fc, attn_match *m) {
    ml_graph *g = fc->g;
    int64_t *opsets = ml_arena_alloc(&g->model->arena, N_OPS * sizeof *opsets, 0);
    if (!opsets) return ml_error(ML_ERR_OUT_OF_MEMORY, "fusion");
    /* the versions of absent ops are never used */
    opsets[0] = m->mm1->node.opset;
    opsets[1] = m->scale ? m->scale->node.opset : 14;
    opsets[2] = m->where ? m->where->node.opset : 16;
    opsets[3] = m->add ? m->add->node.opset : 14;
    opsets[4] = m->sm->node.opset;
    opsets[5] = m->mm2->node.opset;
    ml_attr attrs[] = {
        {.name = "scale_op", .type = ML_ATTR_INT, .i = m->scale_op},
        {.name = "where_op", .type = ML_ATTR_INT, .i = m->where_op},
        {.name = "softmax_axis", .type = ML_ATTR_INT, .i = softmax_axis(&m->sm->node)},
        {.name = "opsets", .type = ML_ATTR_INTS, .n = N_OPS, .ints = opsets},
    };
    int in[7] = {m->q, m->k, m->v, m->s, m->mask, m->cond, m->fill};
    size_t n_in = 7;
    while (in[n_in - 1] < 0) n_in--;
    int out[1] = {m->mm2->out_slots[0]};
    bool fused;
    ML_TRY(fuse_rewrite(g, m->mm2, "com.mlambda", "ScaledDotProductAttention", 1, n_in, in, 1, out,
                        sizeof attrs / sizeof attrs[0], attrs, &fused));
    if (!fused) return ML_STATUS_OK;
    m->mm1->skip = true;
    if (m->scale) m->scale->skip = true;
    if (m->where) m->where->skip = true;
    if (m->add) m->add->skip = true;
    m->sm->skip = true;
    return ML_STATUS_OK;
}

ml_status fuse_attention(fuse_ctx *fc) {
    ml_graph *g = fc->g;
    if (!fuse_have_kernel("com.mlambda", "ScaledDotProductAttention", 1)) return ML_STATUS_OK;
    for (size_t k = 0; k < g->n_nodes; k++) {
        ml_exec_node *sm = &g->nodes[k];
        attn_match m;
        if (!fuse_is_op(sm, "Softmax") || !match(fc, sm, &m)) continue;
        ML_TRY(rewrite(fc, &m));
        if (!fuse_reindex(fc)) return ML_STATUS_OK;
    }
    return ML_STATUS_OK;
}
