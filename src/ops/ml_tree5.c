/* Loading TreeEnsemble (ai.onnx.ml 5) into the common tree_state. */
#include <math.h>
#include <stdlib.h>

#include "ops/ml_tree_internal.h"

/* TreeEnsemble (ml opset 5): nodes and leaves are separate arrays; a
 * branch's child is a node index or, when nodes_trueleafs/falseleafs says
 * so, a leaf index. Leaves become LEAF nodes after the branches (node
 * n + k for leaf k), each with its one weight, then the common checks,
 * ordering and evaluation apply. */
static ml_status tensor_reals(const ml_node *node, const char *name, bool required, double **out,
                              size_t *n) {
    *out = NULL;
    *n = 0;
    const ml_tensor *t = ml_attr_tensor(node, name);
    if (!t) {
        if (required)
            return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "the %s attribute is required",
                                 name);
        return ML_STATUS_OK;
    }
    if (!ml_dtype_is_float(t->dtype))
        return ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "%s must be a float tensor, got %s",
                             name, ml_dtype_name(t->dtype));
    size_t k = ml_tensor_numel(t);
    *out = malloc((k ? k : 1) * sizeof **out);
    if (!*out) return ml_error(ML_ERR_OUT_OF_MEMORY, "attribute %s", name);
    for (size_t i = 0; i < k; i++) (*out)[i] = ml_tensor_get_f64(t, i);
    *n = k;
    return ML_STATUS_OK;
}

ml_status ml_tree_ensemble_init(const ml_node *node, void **state) {
    tree_state *s = calloc(1, sizeof *s);
    if (!s) return ml_error(ML_ERR_OUT_OF_MEMORY, "tree ensemble state");
    s->out_dtype = ML_UNDEFINED; /* same as X */
    ml_status st = ML_STATUS_OK;
    double *splits = NULL, *weights = NULL, *mv = NULL;
    int32_t *newidx = NULL;
    size_t n_splits, n_weights, n_mv;
    const int64_t *feat, *tid, *fid, *tleaf, *fleaf, *nan_true, *leaf_tgt, *roots;
    size_t n = ml_attr_ints(node, "nodes_featureids", &feat);
    const ml_tensor *modes = ml_attr_tensor(node, "nodes_modes");
    size_t n_nan = ml_attr_ints(node, "nodes_missing_value_tracks_true", &nan_true);
    size_t n_leaves = ml_attr_ints(node, "leaf_targetids", &leaf_tgt);
    size_t n_roots = ml_attr_ints(node, "tree_roots", &roots);
    if ((st = tensor_reals(node, "nodes_splits", true, &splits, &n_splits)) ||
        (st = tensor_reals(node, "leaf_weights", true, &weights, &n_weights)) ||
        (st = tensor_reals(node, "membership_values", false, &mv, &n_mv)))
        goto fail;
    if (!modes || ml_tensor_numel(modes) != n ||
        ml_attr_ints(node, "nodes_truenodeids", &tid) != n ||
        ml_attr_ints(node, "nodes_falsenodeids", &fid) != n ||
        ml_attr_ints(node, "nodes_trueleafs", &tleaf) != n ||
        ml_attr_ints(node, "nodes_falseleafs", &fleaf) != n || n_splits != n ||
        (n_nan && n_nan != n)) {
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                           "nodes_featureids, nodes_modes, nodes_splits, nodes_truenodeids, "
                           "nodes_falsenodeids, nodes_trueleafs and nodes_falseleafs must all "
                           "have %zu entries",
                           n);
        goto fail;
    }
    if (n_weights != n_leaves || n_leaves == 0 || n_roots == 0 || n + n_leaves > INT32_MAX / 2) {
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                           "need leaf_targetids and leaf_weights of equal, non-zero length (%zu, "
                           "%zu) and tree_roots",
                           n_leaves, n_weights);
        goto fail;
    }
    int64_t nt = ml_attr_int(node, "n_targets", 0);
    int64_t agg = ml_attr_int(node, "aggregate_function", 1);
    int64_t post = ml_attr_int(node, "post_transform", 0);
    if (nt <= 0 || nt > (1 << 24) || agg < 0 || agg > 3 || post < 0 || post > 4) {
        st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                           "n_targets %lld, aggregate_function %lld or post_transform %lld is "
                           "invalid",
                           (long long)nt, (long long)agg, (long long)post);
        goto fail;
    }
    static const int agg_map[] = {AGG_AVERAGE, AGG_SUM, AGG_MIN, AGG_MAX};
    static const ml_post post_map[] = {ML_POST_NONE, ML_POST_SOFTMAX, ML_POST_LOGISTIC,
                                       ML_POST_SOFTMAX_ZERO, ML_POST_PROBIT};
    s->agg = agg_map[agg];
    s->post = post_map[post];
    s->n_out = (size_t)nt;
    size_t total = n + n_leaves;
    s->n_nodes = total;
    s->nodes = calloc(total, sizeof *s->nodes);
    s->w_target = malloc(n_leaves * sizeof *s->w_target);
    s->w_value = malloc(n_leaves * sizeof *s->w_value);
    s->roots = malloc(n_roots * sizeof *s->roots);
    s->members = malloc((n_mv ? n_mv : 1) * sizeof *s->members);
    newidx = malloc(total * sizeof *newidx);
    if (!s->nodes || !s->w_target || !s->w_value || !s->roots || !s->members || !newidx) {
        st = ml_error(ML_ERR_OUT_OF_MEMORY, "tree ensemble with %zu nodes", total);
        goto fail;
    }
    size_t mpos = 0, n_members = 0;
    s->max_feature = -1;
    for (size_t i = 0; i < n; i++) {
        tnode *nd = &s->nodes[i];
        int64_t m = (int64_t)ml_tensor_get_f64(modes, i);
        if (m < 0 || m > 6 || feat[i] < 0 || feat[i] > INT32_MAX) {
            st =
                ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "node %zu has mode %lld, feature %lld",
                              i, (long long)m, (long long)feat[i]);
            goto fail;
        }
        nd->mode = (uint8_t)(m == 6 ? M_MEMBER : m);
        nd->feature = (int32_t)feat[i];
        if (feat[i] > s->max_feature) s->max_feature = feat[i];
        nd->nan_true = n_nan ? nan_true[i] != 0 : 0;
        if (m == 6) { /* the next NaN-terminated run of membership_values */
            nd->set.start = (int32_t)n_members;
            while (mpos < n_mv && !isnan(mv[mpos])) s->members[n_members++] = mv[mpos++];
            nd->set.count = (int32_t)n_members - nd->set.start;
            if (mpos < n_mv) mpos++; /* the NaN */
        } else {
            nd->thr = splits[i];
        }
        int64_t kids[2] = {tid[i], fid[i]};
        const int64_t *leafs[2] = {tleaf, fleaf};
        for (int b = 0; b < 2; b++) {
            int64_t limit = leafs[b][i] ? (int64_t)n_leaves : (int64_t)n;
            if (kids[b] < 0 || kids[b] >= limit) {
                st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT,
                                   "node %zu points at %s %lld, out of range", i,
                                   leafs[b][i] ? "leaf" : "node", (long long)kids[b]);
                goto fail;
            }
            int32_t child = (int32_t)(leafs[b][i] ? (int64_t)n + kids[b] : kids[b]);
            if (b == 0)
                nd->t = child;
            else
                nd->f = child;
        }
    }
    for (size_t k = 0; k < n_leaves; k++) {
        if (leaf_tgt[k] < 0 || leaf_tgt[k] >= nt) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "leaf %zu targets %lld of %lld", k,
                               (long long)leaf_tgt[k], (long long)nt);
            goto fail;
        }
        tnode *lf = &s->nodes[n + k];
        lf->mode = M_LEAF;
        lf->t = (int32_t)k;
        lf->f = 1;
        s->w_target[k] = (int32_t)leaf_tgt[k];
        s->w_value[k] = weights[k];
    }
    for (size_t r = 0; r < n_roots; r++) {
        int64_t ri = roots[r];
        if (ri < 0 || (size_t)ri >= n) {
            st = ml_node_error(node, ML_ERR_INVALID_ARGUMENT, "tree root %lld is out of range",
                               (long long)ri);
            goto fail;
        }
        /* degenerate tree: both branches name the same leaf */
        bool is_leaf = tleaf[ri] && fleaf[ri] && tid[ri] == fid[ri];
        s->roots[r] = is_leaf ? (int32_t)(n + (size_t)tid[ri]) : (int32_t)ri;
    }
    s->n_trees = n_roots;
    st = ml_tree_check_acyclic(node, s);
    if (!st) st = ml_tree_reorder(s, newidx);
    if (!st) st = ml_tree_build_fast(s);
    if (st) goto fail;
    free(splits);
    free(weights);
    free(mv);
    free(newidx);
    *state = s;
    return ML_STATUS_OK;
fail:
    free(splits);
    free(weights);
    free(mv);
    free(newidx);
    ml_tree_destroy(s);
    return st;
}
