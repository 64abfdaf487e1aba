/* Gelu as PyTorch and TensorFlow export it becomes one com.microsoft node:
 *
 *   Erf form:   d = x / sqrt(2)  (or x * (1/sqrt(2)));  a = Erf(d) + 1
 *   tanh form:  a = Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)) + 1,
 *               x^3 as Pow(x, 3) or x * (x * x)
 *   then        y = (x * a) * 0.5  |  x * (a * 0.5)  |  (x * 0.5) * a
 *
 * Erf form -> Gelu (BiasGelu when x = Add(p, q) read by the pattern only),
 * tanh form -> FastGelu (with the Add as its bias input likewise);
 * x * Sigmoid(alpha * x) (SiLU when alpha = 1) -> QuickGelu.
 * Binary ops may take their operands in either order; the constants are
 * float scalars within 1e-5 (relative) of the exact values. */
#include "onnx/graph_fuse_internal.h"

#define SQRT2 1.4142135623730951
#define SQRT1_2 0.70710678118654752

/* x when p computes x / sqrt(2) or x * (1/sqrt(2)), else -1 */
static int erf_argument(const ml_graph *g, const ml_exec_node *p) {
    if (!p || p->node.n_inputs != 2 || p->node.n_outputs != 1) return -1;
    if (fuse_is_op(p, "Div")) return fuse_is_scalar(g, p->in_slots[1], SQRT2) ? p->in_slots[0] : -1;
    if (fuse_is_op(p, "Mul"))
        for (int i = 0; i < 2; i++)
            if (fuse_is_scalar(g, p->in_slots[i], SQRT1_2)) return p->in_slots[1 - i];
    return -1;
}

/* Binary op `op` reading slot s once; returns its other operand or -1. */
static int other_operand(const ml_exec_node *en, const char *op, int s) {
    return fuse_is_op(en, op) ? fuse_other_input(en, s) : -1;
}

/* The common tail: a = 1 + f(...) (slot), then
 *   y = (x * a) * 0.5  |  x * (a * 0.5)  |  (x * 0.5) * a
 * Appends the nodes to drop (all but the last) and sets the last node. */
static bool match_tail(const fuse_ctx *fc, int a, int x, ml_exec_node **drop, int *n_drop,
                       ml_exec_node **last) {
    const ml_graph *g = fc->g;
    ml_exec_node *m1 = fuse_sole_reader(fc, a);
    int o1 = other_operand(m1, "Mul", a);
    if (o1 < 0) return false;
    int m = m1->out_slots[0];
    if (o1 == x) { /* (x * a) * 0.5 */
        ml_exec_node *m2 = fuse_sole_reader(fc, m);
        if (!fuse_is_scalar(g, other_operand(m2, "Mul", m), 0.5)) return false;
        drop[(*n_drop)++] = m1;
        *last = m2;
    } else if (fuse_is_scalar(g, o1, 0.5)) { /* x * (a * 0.5) */
        ml_exec_node *m2 = fuse_sole_reader(fc, m);
        if (other_operand(m2, "Mul", m) != x) return false;
        drop[(*n_drop)++] = m1;
        *last = m2;
    } else { /* (x * 0.5) * a */
        ml_exec_node *h = fuse_producer(fc, o1);
        if (fuse_sole_reader(fc, o1) != m1 || !fuse_is_scalar(g, other_operand(h, "Mul", x), 0.5))
            return false;
        drop[(*n_drop)++] = h;
        *last = m1;
    }
    return true;
}

/* 1 + f where f is the output of node fn: returns the sum's slot or -1 */
static int one_plus(const fuse_ctx *fc, const ml_exec_node *fn, ml_exec_node **add) {
    int e = fn->out_slots[0];
    *add = fuse_sole_reader(fc, e);
    if (!fuse_is_scalar(fc->g, other_operand(*add, "Add", e), 1.0)) return -1;
    return (*add)->out_slots[0];
}

/* Matches the pattern around erf; on success fills the nodes to drop (n_drop
 * of them), the node to rewrite and x. */
static bool match_gelu(const fuse_ctx *fc, ml_exec_node *erf, ml_exec_node **drop, int *n_drop,
                       ml_exec_node **last, int *x_out) {
    const ml_graph *g = fc->g;
    if (erf->node.n_inputs != 1 || erf->node.n_outputs != 1) return false;
    int d = erf->in_slots[0];
    if (d < 0 || erf->out_slots[0] < 0 || fuse_sole_reader(fc, d) != erf) return false;
    ml_exec_node *p = fuse_producer(fc, d), *add;
    int x = erf_argument(g, p);
    if (x < 0) return false;
    int a = one_plus(fc, erf, &add);
    if (a < 0) return false;
    drop[0] = p;
    drop[1] = erf;
    drop[2] = add;
    *n_drop = 3;
    if (!match_tail(fc, a, x, drop, n_drop, last)) return false;
    *x_out = x;
    return true;
}

/* c = x^3 as Pow(x, 3) or x * (x * x) (any order); appends its nodes to drop
 * and returns how often they read x, or 0 when c is no cube of x */
static int match_cube(const fuse_ctx *fc, int c, int x, ml_exec_node **drop, int *n_drop) {
    const ml_graph *g = fc->g;
    ml_exec_node *cn = fuse_producer(fc, c);
    if (!cn || cn->node.n_inputs != 2 || cn->node.n_outputs != 1) return 0;
    if (fuse_is_op(cn, "Pow") && cn->in_slots[0] == x && fuse_is_scalar(g, cn->in_slots[1], 3.0)) {
        drop[(*n_drop)++] = cn;
        return 1;
    }
    int x2 = other_operand(cn, "Mul", x);
    ml_exec_node *sq = fuse_producer(fc, x2);
    if (x2 < 0 || x2 == x || fuse_sole_reader(fc, x2) != cn || !fuse_is_op(sq, "Mul") ||
        sq->node.n_inputs != 2 || sq->in_slots[0] != x || sq->in_slots[1] != x)
        return 0;
    drop[(*n_drop)++] = sq;
    drop[(*n_drop)++] = cn;
    return 3;
}

/* tanh-approximated Gelu:
 *   0.5 * x * (1 + Tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))
 * (PyTorch's gelu(approximate='tanh') and GPT-2's NewGELU exports) */
static bool match_fast_gelu(const fuse_ctx *fc, ml_exec_node *th, ml_exec_node **drop, int *n_drop,
                            ml_exec_node **last, int *x_out, int *x_reads) {
    const ml_graph *g = fc->g;
    if (th->node.n_inputs != 1 || th->node.n_outputs != 1) return false;
    int s = th->in_slots[0];
    if (s < 0 || fuse_sole_reader(fc, s) != th) return false;
    ml_exec_node *sn = fuse_producer(fc, s);
    int r = -1;
    for (int i = 0; i < 2 && fuse_is_op(sn, "Mul") && sn->node.n_inputs == 2; i++)
        if (fuse_is_scalar(g, sn->in_slots[i], 0.7978845608028654)) r = sn->in_slots[1 - i];
    ml_exec_node *rn = fuse_producer(fc, r);
    if (r < 0 || fuse_sole_reader(fc, r) != sn || !fuse_is_op(rn, "Add") || rn->node.n_inputs != 2)
        return false;
    *n_drop = 0;
    for (int i = 0; i < 2; i++) {
        int x = rn->in_slots[i], q = rn->in_slots[1 - i];
        ml_exec_node *qn = fuse_producer(fc, q);
        int c = -1;
        for (int k = 0; k < 2 && fuse_is_op(qn, "Mul") && qn->node.n_inputs == 2; k++)
            if (fuse_is_scalar(g, qn->in_slots[k], 0.044715)) c = qn->in_slots[1 - k];
        if (c < 0 || x < 0 || fuse_sole_reader(fc, q) != rn || fuse_sole_reader(fc, c) != qn)
            continue;
        int reads = match_cube(fc, c, x, drop, n_drop);
        if (!reads) {
            *n_drop = 0;
            continue;
        }
        ml_exec_node *add;
        int a = one_plus(fc, th, &add);
        if (a < 0) return false;
        ml_exec_node *rest[] = {qn, rn, sn, th, add};
        for (int k = 0; k < 5; k++) drop[(*n_drop)++] = rest[k];
        if (!match_tail(fc, a, x, drop, n_drop, last)) return false;
        *x_out = x;
        *x_reads = reads + 2; /* the cube, x + ..., the tail */
        return true;
    }
    return false;
}

/* Rewrites a matched Gelu (fast: tanh form) into last, folding the Add that
 * makes x when only the pattern reads it. */
static ml_status rewrite_gelu(fuse_ctx *fc, bool fast, ml_exec_node **drop, int n_drop,
                              ml_exec_node *last, int x, int x_reads) {
    ml_graph *g = fc->g;
    ml_exec_node *bias = fuse_producer(fc, x);
    bool with_bias = fuse_is_op(bias, "Add") && bias->node.n_inputs == 2 &&
                     bias->node.n_outputs == 1 && bias->in_slots[0] >= 0 &&
                     bias->in_slots[1] >= 0 && fuse_readers(fc, x) == x_reads &&
                     !g->slots[x].is_output;
    int out = last->out_slots[0];
    const char *op = fast ? "FastGelu" : with_bias ? "BiasGelu" : "Gelu";
    int in[2] = {with_bias ? bias->in_slots[0] : x, with_bias ? bias->in_slots[1] : -1};
    bool fused;
    ML_TRY(fuse_rewrite(g, last, "com.microsoft", op, 1, with_bias ? 2 : 1, in, 1, &out, 0, NULL,
                        &fused));
    if (!fused) return ML_STATUS_OK;
    if (with_bias) bias->skip = true;
    for (int i = 0; i < n_drop; i++) drop[i]->skip = true;
    return ML_STATUS_OK;
}

ml_status fuse_gelu(fuse_ctx *fc) {
    ml_graph *g = fc->g;
    bool erf_ok = fuse_have_kernel("com.microsoft", "Gelu", 1) &&
                  fuse_have_kernel("com.microsoft", "BiasGelu", 1);
    bool tanh_ok = fuse_have_kernel("com.microsoft", "FastGelu", 1);
    for (size_t k = 0; k < g->n_nodes; k++) {
        ml_exec_node *en = &g->nodes[k], *drop[12], *last;
        int n_drop = 0, x, reads = 2;
        /* x is read twice inside the Erf pattern (x / sqrt2 and the tail) */
        if (erf_ok && fuse_is_op(en, "Erf") && match_gelu(fc, en, drop, &n_drop, &last, &x))
            ML_TRY(rewrite_gelu(fc, false, drop, n_drop, last, x, reads));
        else if (tanh_ok && fuse_is_op(en, "Tanh") &&
                 match_fast_gelu(fc, en, drop, &n_drop, &last, &x, &reads))
            ML_TRY(rewrite_gelu(fc, true, drop, n_drop, last, x, reads));
        else
            continue;
        if (!fuse_reindex(fc)) return ML_STATUS_OK;
    }
    return ML_STATUS_OK;
}

/* SiLU / Swish x * Sigmoid(x) and QuickGelu x * Sigmoid(alpha * x) (alpha a
 * float scalar) -> com.microsoft QuickGelu(x, alpha): one pass instead of
 * two, the same float math (the kernel evaluates the same sigmoid). */
ml_status fuse_quick_gelu(fuse_ctx *fc) {
    ml_graph *g = fc->g;
    if (!fuse_have_kernel("com.microsoft", "QuickGelu", 1)) return ML_STATUS_OK;
    for (size_t k = 0; k < g->n_nodes; k++) {
        ml_exec_node *sig = &g->nodes[k];
        if (!fuse_is_op(sig, "Sigmoid") || sig->node.n_inputs != 1 || sig->node.n_outputs != 1 ||
            sig->in_slots[0] < 0 || sig->out_slots[0] < 0)
            continue;
        int u = sig->in_slots[0], x = u;
        float alpha = 1.0f;
        ml_exec_node *scale = fuse_producer(fc, u);
        if (fuse_is_op(scale, "Mul") && scale->node.n_inputs == 2 &&
            fuse_sole_reader(fc, u) == sig) {
            for (int i = 0; i < 2; i++) {
                const ml_tensor *t = fuse_const_f32(g, scale->in_slots[i]);
                if (t && t->rank == 0 && scale->in_slots[1 - i] >= 0) {
                    alpha = ((const float *)t->data)[0];
                    x = scale->in_slots[1 - i];
                }
            }
        }
        int s = sig->out_slots[0];
        ml_exec_node *mul = fuse_sole_reader(fc, s);
        int o = other_operand(mul, "Mul", s);
        if (o == u) { /* SiLU of u itself, whatever made it */
            x = u;
            alpha = 1.0f;
        } else if (o != x || x == u) {
            continue;
        }
        if (x == u) scale = NULL;
        ml_attr a = {.name = "alpha", .type = ML_ATTR_FLOAT, .f = alpha};
        int out = mul->out_slots[0];
        bool fused;
        ML_TRY(
            fuse_rewrite(g, mul, "com.microsoft", "QuickGelu", 1, 1, &x, 1, &out, 1, &a, &fused));
        if (!fused) continue;
        sig->skip = true;
        if (scale) scale->skip = true;
        if (!fuse_reindex(fc)) return ML_STATUS_OK;
    }
    return ML_STATUS_OK;
}
