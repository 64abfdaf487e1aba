/* Internals shared by the tree-ensemble kernels: ml_tree_load.c compiles
 * the attributes of TreeEnsembleClassifier/Regressor (ml opsets 1, 3) into
 * a tree_state, ml_tree5.c does the same for TreeEnsemble (ml opset 5), and
 * ml_tree_eval.c runs it.
 *
 * Load-time guarantees the evaluator relies on: every child index is a node
 * of the table, no tree has a cycle, nodes are numbered depth-first per
 * tree, each leaf's (target, weight) pairs are contiguous and every target
 * id is < n_out. Only the feature count is checked at run time. */
#ifndef MLAMBDA_OPS_ML_TREE_INTERNAL_H
#define MLAMBDA_OPS_ML_TREE_INTERNAL_H

#include "ops/ml_internal.h"

enum { M_LEQ, M_LT, M_GTE, M_GT, M_EQ, M_NEQ, M_LEAF, M_MEMBER };
enum { AGG_SUM, AGG_AVERAGE, AGG_MIN, AGG_MAX };

typedef struct tnode {
    union {
        double thr;
        struct {
            int32_t start, count; /* M_MEMBER: range in tree_state.members */
        } set;
    };
    int32_t feature;
    int32_t t; /* branch: true child index; leaf: first weight */
    int32_t f; /* branch: false child index; leaf: weight count */
    uint8_t mode;
    uint8_t nan_true;
} tnode;

typedef struct tree_state {
    bool classifier;
    size_t n_nodes;
    tnode *nodes;
    size_t n_trees;
    int32_t *roots;
    int32_t *w_target; /* leaf weights, grouped per leaf */
    double *w_value;
    size_t n_out; /* targets or classes */
    double *base;
    size_t n_base;
    ml_post post;
    int agg;
    double *members;      /* TreeEnsemble (ml opset 5) set-membership values */
    ml_dtype out_dtype;   /* regressor output: float, or X's dtype for TreeEnsemble */
    int64_t max_feature;  /* -1 when the ensemble only has leaves */
    bool all_leq;         /* every branch is BRANCH_LEQ (double inputs skip the mode switch) */
    struct fnode *fast;   /* compact float copy of nodes for float X, or NULL */
    struct dnode *fast_d; /* the same with double thresholds, for other X, or NULL */
    int32_t *depth;       /* with fast: levels to walk in each tree */
    /* classifier */
    ml_labels labels;
    bool binary; /* a single class id carries every weight */
    int32_t binary_class;
} tree_state;

/* Compact node forms for the branch-free walk, in which every branch is
 * "x <= thr goes low". For float X: LT/GTE thresholds become the largest
 * float below the double threshold and LEQ/GT ones the largest float not
 * above it, which decides exactly like the double comparison for every
 * float x; for double X the same with the next double below. GTE/GT swap
 * the children. NaN (x <= thr is false) goes high unless the nan-low flag
 * says otherwise. Built only when every branch is LEQ/LT/GTE/GT (and, for
 * floats, every threshold is in float range). */
typedef struct fnode {
    float thr;
    int32_t feature;
    int32_t low;   /* child when x <= thr (a leaf points at itself) */
    uint32_t high; /* child otherwise, top bit: NaN goes low */
} fnode;

typedef struct dnode {
    double thr;
    int32_t feature;
    int32_t low;
    uint32_t high;
} dnode;

/* Rejects cycles reachable from the roots. */
ml_status ml_tree_check_acyclic(const ml_node *node, tree_state *s);
/* Renumbers nodes depth-first per tree (newidx[old] = new, -1 if
 * unreachable) and drops unreachable ones. Needs acyclic trees. */
ml_status ml_tree_reorder(tree_state *s, int32_t *newidx);
/* Sets all_leq and builds the compact float nodes and tree depths when
 * every branch allows it (else leaves fast NULL). */
ml_status ml_tree_build_fast(tree_state *s);

#endif
