/* Loading TreeEnsembleClassifier and TreeEnsembleRegressor (ai.onnx.ml 1
 * and 3): the per-node attribute arrays become a flat node table whose
 * branches point at node indices, checked (children exist in the same
 * tree, no cycles, weights on leaves, ids in range) and renumbered
 * depth-first. Thresholds stay double (exact for opset-3 double tensors);
 * float inputs get a compact float copy that decides identically. */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ml_tree_internal.h"

void ml_tree_destroy(void *state) {
    tree_state *s = state;
    if (!s) return;
    free(s->nodes);
    free(s->roots);
    free(s->w_target);
    free(s->w_value);
    free(s->base);
    free(s->members);
    free(s->fast);
    free(s->fast_d);
    free(s->depth);
    free(s);
}

typedef struct key_index {
    int64_t tree, node;
    int32_t index;
} key_index;

static int key_cmp(const void *a, const void *b) {
    const key_index *x = a, *y = b;
    if (x->tree != y->tree) return x->tree < y->tree ? -1 : 1;
    if (x->node != y->node) return x->node < y->node ? -1 : 1;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int32_t find_node(const key_index *keys, size_t n, int64_t tree, int64_t node) {
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const key_index *k = &keys[mid];
        if (k->tree < tree || (k->tree == tree && k->node < node))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n && keys[lo].tree == tree && keys[lo].node == node) return keys[lo].index;
    return -1;
}

static int parse_mode(const ml_str *s) {
    static const char *names[] = {"BRANCH_LEQ", "BRANCH_LT",  "BRANCH_GTE", "BRANCH_GT",
                                  "BRANCH_EQ",  "BRANCH_NEQ", "LEAF"};
    for (int i = 0; i < 7; i++)
        if (strlen(names[i]) == s->len && memcmp(names[i], s->data, s->len) == 0) return i;
    return -1;
}

/* Rejects cycles: iterative DFS from every root with white/grey/black marks. */
ml_status ml_tree_check_acyclic(const ml_node *node, tree_state *s) {
    uint8_t *color = calloc(s->n_nodes ? s->n_nodes : 1, 1);
    int32_t *stack = malloc((s->n_nodes ? s->n_nodes : 1) * sizeof *stack);
    uint8_t *phase = calloc(s->n_nodes ? s->n_nodes : 1, 1);
    ml_status st = ML_STATUS_OK;
    if (!color || !stack || !phase) {
        st = ml_error(ML_ERR_OUT_OF_MEMORY, "checking %zu tree nodes", s->n_nodes);
        goto done;
    }
    for (size_t r = 0; r < s->n_trees && !st; r++) {
        size_t sp = 0;
        if (color[s->roots[r]]) continue;
        stack[sp++] = s->roots[r];
        color[s->roots[r]] = 1;
        while (sp && !st) {
            int32_t i = stack[sp - 1];
            const tnode *nd = &s->nodes[i];
            if (nd->mode == M_LEAF || phase[i] == 2) {
                color[i] = 2;
                sp--;
                continue;
            }
            int32_t child = phase[i] == 0 ? nd->t : nd->f;
            phase[i]++;
            if (color[child] == 1) {
                st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                   "tree nodes form a cycle (node index %d)", (int)child);
            } else if (color[child] == 0) {
                color[child] = 1;
                stack[sp++] = child; /* each node is pushed once: sp <= n_nodes */
            }
        }
    }
done:
    free(color);
    free(stack);
    free(phase);
    return st;
}

/* Renumbers the nodes tree by tree in depth-first pre-order, so a branch's
 * true child is the next node and each tree is contiguous: traversal then
 * touches far fewer cache lines. newidx[old] receives the new index (-1 for
 * nodes no root reaches, which are dropped). Requires acyclic trees. */
ml_status ml_tree_reorder(tree_state *s, int32_t *newidx) {
    size_t n = s->n_nodes;
    tnode *out = malloc(n * sizeof *out);
    int32_t *stack = malloc(n * sizeof *stack);
    if (!out || !stack) {
        free(out);
        free(stack);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "tree node order");
    }
    for (size_t i = 0; i < n; i++) newidx[i] = -1;
    int32_t next = 0;
    for (size_t r = 0; r < s->n_trees; r++) {
        size_t sp = 0;
        if (newidx[s->roots[r]] >= 0) { /* a root already placed (listed twice, or shared) */
            s->roots[r] = newidx[s->roots[r]];
            continue;
        }
        stack[sp++] = s->roots[r];
        while (sp) {
            int32_t i = stack[--sp];
            if (newidx[i] >= 0) continue; /* a DAG may share subtrees */
            newidx[i] = next;
            out[next++] = s->nodes[i];
            const tnode *nd = &s->nodes[i];
            if (nd->mode == M_LEAF) continue;
            /* false first so the true child is popped (placed) next */
            if (newidx[nd->f] < 0 && sp < n) stack[sp++] = nd->f;
            if (newidx[nd->t] < 0 && sp < n) stack[sp++] = nd->t;
        }
        s->roots[r] = newidx[s->roots[r]];
    }
    for (int32_t i = 0; i < next; i++) {
        if (out[i].mode == M_LEAF) continue;
        out[i].t = newidx[out[i].t];
        out[i].f = newidx[out[i].f];
    }
    free(stack);
    free(s->nodes);
    s->nodes = out;
    s->n_nodes = (size_t)next;
    return ML_STATUS_OK;
}

static float float_at_most(double t) {
    float f = (float)t;
    if ((double)f > t) f = nextafterf(f, -INFINITY);
    return f;
}
static float float_below(double t) {
    float f = (float)t;
    if ((double)f >= t) f = nextafterf(f, -INFINITY);
    return f;
}

ml_status ml_tree_build_fast(tree_state *s) {
    s->all_leq = true;
    bool float_ok = true;
    for (size_t i = 0; i < s->n_nodes; i++) {
        const tnode *nd = &s->nodes[i];
        if (nd->mode == M_LEAF) continue;
        if (nd->mode != M_LEQ) s->all_leq = false;
        /* x < -inf has no "x <= t'" form: such a model keeps the general walk */
        if (nd->mode > M_GT || ((nd->mode == M_LT || nd->mode == M_GTE) && nd->thr == -INFINITY))
            return ML_STATUS_OK;
        if (isfinite(nd->thr) && fabs(nd->thr) > FLT_MAX) float_ok = false;
    }
    size_t n = s->n_nodes ? s->n_nodes : 1;
    s->fast_d = malloc(n * sizeof *s->fast_d);
    s->fast = float_ok ? malloc(n * sizeof *s->fast) : NULL;
    if (!s->fast_d || (float_ok && !s->fast)) return ml_error(ML_ERR_OUT_OF_MEMORY, "tree nodes");
    for (size_t i = 0; i < s->n_nodes; i++) {
        const tnode *nd = &s->nodes[i];
        dnode *d = &s->fast_d[i];
        if (nd->mode == M_LEAF) { /* a fixed point, so walks need no leaf test */
            *d = (dnode){0, 0, (int32_t)i, (uint32_t)i};
            if (s->fast) s->fast[i] = (fnode){0, 0, (int32_t)i, (uint32_t)i};
            continue;
        }
        bool swap = nd->mode == M_GTE || nd->mode == M_GT;
        bool strict_low = nd->mode == M_LT || nd->mode == M_GTE; /* low side is x < t */
        bool nan_low = swap ? !nd->nan_true : nd->nan_true;
        d->thr = strict_low ? nextafter(nd->thr, -INFINITY) : nd->thr;
        d->feature = nd->feature;
        d->low = swap ? nd->f : nd->t;
        d->high = (uint32_t)(swap ? nd->t : nd->f) | (nan_low ? 0x80000000u : 0);
        if (s->fast)
            s->fast[i] = (fnode){strict_low ? float_below(nd->thr) : float_at_most(nd->thr),
                                 d->feature, d->low, d->high};
    }
    /* depth of each tree, by a bounded walk (a DAG could blow up: give up) */
    s->depth = malloc((s->n_trees ? s->n_trees : 1) * sizeof *s->depth);
    int32_t *stack = malloc(2 * (s->n_nodes + 1) * sizeof *stack);
    if (!s->depth || !stack) {
        free(stack);
        return ml_error(ML_ERR_OUT_OF_MEMORY, "tree depths");
    }
    size_t budget = 4 * s->n_nodes + 16;
    for (size_t t = 0; t < s->n_trees; t++) {
        size_t sp = 0;
        int32_t maxd = 0;
        stack[sp++] = s->roots[t];
        stack[sp++] = 0;
        while (sp) {
            int32_t d = stack[--sp], i = stack[--sp];
            if (d > maxd) maxd = d;
            if (s->nodes[i].mode == M_LEAF) continue;
            if (budget < 2 || sp + 4 > 2 * (s->n_nodes + 1)) {
                free(stack);
                free(s->fast);
                free(s->fast_d);
                free(s->depth);
                s->fast = NULL;
                s->fast_d = NULL;
                s->depth = NULL;
                return ML_STATUS_OK;
            }
            budget -= 2;
            stack[sp++] = s->nodes[i].t;
            stack[sp++] = d + 1;
            stack[sp++] = s->nodes[i].f;
            stack[sp++] = d + 1;
        }
        s->depth[t] = maxd;
    }
    free(stack);
    return ML_STATUS_OK;
}

static ml_status tree_init(const ml_node *node, void **state, bool classifier) {
    tree_state *s = calloc(1, sizeof *s);
    if (!s) return ml_error(ML_ERR_OUT_OF_MEMORY, "tree ensemble state");
    s->classifier = classifier;
    s->out_dtype = ML_FLOAT;
    ml_status st = ML_STATUS_OK;
    key_index *keys = NULL;
    double *values = NULL, *weights = NULL;
    int32_t *counts = NULL, *newidx = NULL;

    const int64_t *treeids, *nodeids, *featureids, *trueids, *falseids, *nan_true;
    const ml_str *modes;
    size_t n = ml_attr_ints(node, "nodes_treeids", &treeids);
    size_t n_values = 0;
    if (ml_attr_ints(node, "nodes_nodeids", &nodeids) != n ||
        ml_attr_ints(node, "nodes_featureids", &featureids) != n ||
        ml_attr_strings(node, "nodes_modes", &modes) != n ||
        ml_attr_ints(node, "nodes_truenodeids", &trueids) != n ||
        ml_attr_ints(node, "nodes_falsenodeids", &falseids) != n) {
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                           "nodes_treeids, nodes_nodeids, nodes_featureids, nodes_modes, "
                           "nodes_truenodeids and nodes_falsenodeids must all have %zu entries",
                           n);
        goto fail;
    }
    if (n == 0 || n > INT32_MAX / 2) {
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "the ensemble has %zu nodes", n);
        goto fail;
    }
    size_t n_nan = ml_attr_ints(node, "nodes_missing_value_tracks_true", &nan_true);
    if (n_nan && n_nan != n) {
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                           "nodes_missing_value_tracks_true has %zu entries, expected %zu", n_nan,
                           n);
        goto fail;
    }
    st = ml_attr_reals(node, "nodes_values", &values, &n_values);
    if (st) goto fail;
    if (n_values && n_values != n) {
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                           "nodes_values has %zu entries, expected %zu", n_values, n);
        goto fail;
    }
    s->n_nodes = n;
    s->nodes = calloc(n, sizeof *s->nodes);
    keys = malloc(n * sizeof *keys);
    if (!s->nodes || !keys) {
        st = ml_error(ML_ERR_OUT_OF_MEMORY, "tree ensemble with %zu nodes", n);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) keys[i] = (key_index){treeids[i], nodeids[i], (int32_t)i};
    qsort(keys, n, sizeof *keys, key_cmp);
    for (size_t i = 1; i < n; i++)
        if (keys[i].tree == keys[i - 1].tree && keys[i].node == keys[i - 1].node) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                               "node %lld of tree %lld is defined twice", (long long)keys[i].node,
                               (long long)keys[i].tree);
            goto fail;
        }
    /* trees in ascending id order; the root is the first node listed */
    size_t n_trees = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || keys[i].tree != keys[i - 1].tree) n_trees++;
    s->roots = malloc(n_trees * sizeof *s->roots);
    if (!s->roots) {
        st = ml_error(ML_ERR_OUT_OF_MEMORY, "tree roots");
        goto fail;
    }
    for (size_t i = 0, t = 0; i < n; i++) {
        if (i == 0 || keys[i].tree != keys[i - 1].tree)
            s->roots[t++] = keys[i].index;
        else if (keys[i].index < s->roots[t - 1])
            s->roots[t - 1] = keys[i].index;
    }
    s->n_trees = n_trees;
    s->max_feature = -1;
    for (size_t i = 0; i < n; i++) {
        tnode *nd = &s->nodes[i];
        int m = parse_mode(&modes[i]);
        if (m < 0) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "node %zu has unknown mode '%.*s'", i,
                               (int)(modes[i].len > 32 ? 32 : modes[i].len), modes[i].data);
            goto fail;
        }
        nd->mode = (uint8_t)m;
        if (m == M_LEAF) continue;
        if (featureids[i] < 0 || featureids[i] > INT32_MAX) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "node %zu has feature id %lld", i,
                               (long long)featureids[i]);
            goto fail;
        }
        nd->feature = (int32_t)featureids[i];
        if (featureids[i] > s->max_feature) s->max_feature = featureids[i];
        nd->thr = n_values ? values[i] : 0.0;
        nd->nan_true = n_nan ? nan_true[i] != 0 : 0;
        nd->t = find_node(keys, n, treeids[i], trueids[i]);
        nd->f = find_node(keys, n, treeids[i], falseids[i]);
        if (nd->t < 0 || nd->f < 0) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                               "node %lld of tree %lld points at a missing child (%lld / %lld)",
                               (long long)nodeids[i], (long long)treeids[i], (long long)trueids[i],
                               (long long)falseids[i]);
            goto fail;
        }
    }
    st = ml_tree_check_acyclic(node, s);
    if (st) goto fail;
    newidx = malloc(n * sizeof *newidx);
    if (!newidx) {
        st = ml_error(ML_ERR_OUT_OF_MEMORY, "tree node order");
        goto fail;
    }
    st = ml_tree_reorder(s, newidx);
    if (st) goto fail;

    /* leaf weights */
    const char *p = classifier ? "class" : "target";
    char name[64];
    const int64_t *w_tree, *w_node, *w_id;
    snprintf(name, sizeof name, "%s_treeids", p);
    size_t nw = ml_attr_ints(node, name, &w_tree);
    snprintf(name, sizeof name, "%s_nodeids", p);
    size_t nw2 = ml_attr_ints(node, name, &w_node);
    snprintf(name, sizeof name, "%s_ids", p);
    size_t nw3 = ml_attr_ints(node, name, &w_id);
    size_t nw4;
    snprintf(name, sizeof name, "%s_weights", p);
    st = ml_attr_reals(node, name, &weights, &nw4);
    if (st) goto fail;
    if (nw2 != nw || nw3 != nw || nw4 != nw) {
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                           "%s_treeids, %s_nodeids, %s_ids and %s_weights must have equal lengths "
                           "(%zu, %zu, %zu, %zu)",
                           p, p, p, p, nw, nw2, nw3, nw4);
        goto fail;
    }
    if (classifier) {
        st = ml_read_labels(node, "classlabels_int64s", "classlabels_strings", false, &s->labels);
        if (st) goto fail;
        s->n_out = s->labels.n;
        if (s->n_out == 1 && s->labels.strings) {
            st = ml_node_error(node, ML_ERR_UNSUPPORTED,
                               "a single string class label is not supported; list both classes");
            goto fail;
        }
    } else {
        int64_t nt = ml_attr_int(node, "n_targets", -1);
        if (nt < 0) {
            nt = 0;
            for (size_t i = 0; i < nw; i++) nt = w_id[i] + 1 > nt ? w_id[i] + 1 : nt;
        }
        if (nt <= 0 || nt > (1 << 24)) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "n_targets %lld is invalid",
                               (long long)nt);
            goto fail;
        }
        s->n_out = (size_t)nt;
        const char *agg = ml_attr_string(node, "aggregate_function", "SUM");
        if (strcmp(agg, "SUM") == 0)
            s->agg = AGG_SUM;
        else if (strcmp(agg, "AVERAGE") == 0)
            s->agg = AGG_AVERAGE;
        else if (strcmp(agg, "MIN") == 0)
            s->agg = AGG_MIN;
        else if (strcmp(agg, "MAX") == 0)
            s->agg = AGG_MAX;
        else {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                               "aggregate_function '%s' is not one of SUM, AVERAGE, MIN, MAX", agg);
            goto fail;
        }
    }
    counts = calloc(n, sizeof *counts);
    s->w_target = malloc((nw ? nw : 1) * sizeof *s->w_target);
    s->w_value = malloc((nw ? nw : 1) * sizeof *s->w_value);
    int32_t *w_at = malloc((nw ? nw : 1) * sizeof *w_at);
    if (!counts || !s->w_target || !s->w_value || !w_at) {
        free(w_at);
        st = ml_error(ML_ERR_OUT_OF_MEMORY, "tree leaf weights");
        goto fail;
    }
    int64_t first_class = nw ? w_id[0] : 0;
    s->binary = classifier && nw > 0;
    for (size_t i = 0; i < nw; i++) {
        int32_t at = find_node(keys, n, w_tree[i], w_node[i]);
        if (at >= 0) at = newidx[at] >= 0 ? newidx[at] : INT32_MIN; /* unreachable: ignored */
        if (at == -1 || (at >= 0 && s->nodes[at].mode != M_LEAF)) {
            free(w_at);
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                               "%s weight %zu refers to node %lld of tree %lld, which is %s", p, i,
                               (long long)w_node[i], (long long)w_tree[i],
                               at == -1 ? "not defined" : "a branch");
            goto fail;
        }
        if (w_id[i] < 0 || (size_t)w_id[i] >= s->n_out) {
            free(w_at);
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s id %lld is out of range [0, %zu)",
                               p, (long long)w_id[i], s->n_out);
            goto fail;
        }
        if (w_id[i] != first_class) s->binary = false;
        w_at[i] = at;
        if (at >= 0) counts[at]++;
    }
    /* prefix sums -> leaf ranges, then scatter the weights in order */
    int32_t pos = 0;
    for (size_t i = 0; i < s->n_nodes; i++) {
        if (s->nodes[i].mode != M_LEAF) continue;
        s->nodes[i].t = pos;
        s->nodes[i].f = 0;
        pos += counts[i];
    }
    for (size_t i = 0; i < nw; i++) {
        if (w_at[i] < 0) continue;
        tnode *leaf = &s->nodes[w_at[i]];
        int32_t k = leaf->t + leaf->f++;
        s->w_target[k] = (int32_t)w_id[i];
        s->w_value[k] = weights[i];
    }
    free(w_at);
    if (classifier && s->n_out > 2) s->binary = false;
    if (classifier && s->n_out == 1 && !s->binary) {
        st = ml_node_error(node, ML_ERR_UNSUPPORTED, "one class label needs a binary ensemble");
        goto fail;
    }
    s->binary_class = (int32_t)first_class;

    st = ml_attr_reals(node, "base_values", &s->base, &s->n_base);
    if (st) goto fail;
    if (s->n_base && s->n_base != s->n_out && !(s->binary && s->n_base == 1)) {
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                           "base_values has %zu entries, expected %zu", s->n_base, s->n_out);
        goto fail;
    }
    st = ml_parse_post_transform(node, &s->post);
    if (!st) st = ml_tree_build_fast(s);
    if (st) goto fail;
    free(keys);
    free(values);
    free(weights);
    free(counts);
    free(newidx);
    *state = s;
    return ML_STATUS_OK;
fail:
    free(keys);
    free(values);
    free(weights);
    free(counts);
    free(newidx);
    ml_tree_destroy(s);
    return st;
}

ml_status ml_tree_classifier_init(const ml_node *node, void **state) {
    return tree_init(node, state, true);
}
ml_status ml_tree_regressor_init(const ml_node *node, void **state) {
    return tree_init(node, state, false);
}
