/* Evaluating tree ensembles (all three ops; see ml_tree_internal.h).
 *
 * Blocks of 32 rows walk one tree at a time, the rows in lock step and
 * branch-free on the compact float nodes, so a tree stays in cache and the
 * rows' memory loads overlap. Large batches split rows across the thread
 * pool; small batches split the trees instead. */
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "ops/ml_tree_internal.h"

static bool is_member(const double *members, const tnode *nd, double v) {
    for (int32_t i = nd->set.start; i < nd->set.start + nd->set.count; i++)
        if (members[i] == v) return true;
    return false;
}

/* Leaf reached by one row; T is the feature element type. */
#define DEFINE_LEAF(T)                                                                             \
    static inline const tnode *leaf_##T(const tnode *nodes, const double *members, int32_t root,   \
                                        const T *x) {                                              \
        const tnode *nd = &nodes[root];                                                            \
        while (nd->mode != M_LEAF) {                                                               \
            double v = (double)x[nd->feature];                                                     \
            bool r;                                                                                \
            if (isnan(v)) {                                                                        \
                r = nd->nan_true;                                                                  \
            } else {                                                                               \
                switch (nd->mode) {                                                                \
                case M_LEQ:                                                                        \
                    r = v <= nd->thr;                                                              \
                    break;                                                                         \
                case M_LT:                                                                         \
                    r = v < nd->thr;                                                               \
                    break;                                                                         \
                case M_GTE:                                                                        \
                    r = v >= nd->thr;                                                              \
                    break;                                                                         \
                case M_GT:                                                                         \
                    r = v > nd->thr;                                                               \
                    break;                                                                         \
                case M_EQ:                                                                         \
                    r = v == nd->thr;                                                              \
                    break;                                                                         \
                case M_NEQ:                                                                        \
                    r = v != nd->thr;                                                              \
                    break;                                                                         \
                default:                                                                           \
                    r = is_member(members, nd, v);                                                 \
                    break;                                                                         \
                }                                                                                  \
            }                                                                                      \
            nd = &nodes[r ? nd->t : nd->f];                                                        \
        }                                                                                          \
        return nd;                                                                                 \
    }
DEFINE_LEAF(float)
DEFINE_LEAF(double)

/* The common case (sklearn, LightGBM): only BRANCH_LEQ, so no mode switch. */
#define DEFINE_LEAF_LEQ(T)                                                                         \
    static inline const tnode *leaf_leq_##T(const tnode *nodes, int32_t root, const T *x) {        \
        const tnode *nd = &nodes[root];                                                            \
        while (nd->mode != M_LEAF) {                                                               \
            double v = (double)x[nd->feature];                                                     \
            bool r = v <= nd->thr || (nd->nan_true && isnan(v));                                   \
            nd = &nodes[r ? nd->t : nd->f];                                                        \
        }                                                                                          \
        return nd;                                                                                 \
    }
DEFINE_LEAF_LEQ(float)
DEFINE_LEAF_LEQ(double)

typedef struct tree_job {
    const tree_state *s;
    const float *xf; /* exactly one of xf / xd is set */
    const double *xd;
    size_t c; /* features per row */
    float *z; /* scores [n, z_cols] */
    size_t z_cols;
    int64_t *label; /* classifier: chosen class index per row */
    atomic_int oom;
} tree_job;

enum { BLOCK = 32 }; /* rows evaluated together, tree by tree, so each tree stays cached */

/* Walks nr rows down one tree of compact nodes in lock step: the rows'
 * node loads are independent, so the CPU overlaps their cache misses
 * instead of waiting on one dependent chain at a time. */
typedef struct wrange {
    int32_t start, count; /* a leaf's weights */
} wrange;

#define DEFINE_LEAVES_FAST(NAME, T, NODE, FIELD)                                                   \
    static void NAME(const tree_state *s, size_t t, const T *x, size_t c, size_t nr,               \
                     wrange *out) {                                                                \
        const NODE *nodes = s->FIELD;                                                              \
        int32_t at[BLOCK];                                                                         \
        for (size_t r = 0; r < nr; r++) at[r] = s->roots[t];                                       \
        /* a fixed number of levels, branch-free: leaves loop onto themselves */                   \
        for (int32_t level = 0; level < s->depth[t]; level++) {                                    \
            for (size_t r = 0; r < nr; r++) {                                                      \
                const NODE *nd = &nodes[at[r]];                                                    \
                T v = x[r * c + (size_t)nd->feature];                                              \
                uint32_t h = nd->high;                                                             \
                uint32_t low = (uint32_t)(v <= nd->thr) | ((h >> 31) & (uint32_t)(v != v));        \
                uint32_t hi = h & 0x7fffffffu;                                                     \
                at[r] = (int32_t)(hi ^ ((hi ^ (uint32_t)nd->low) & (0u - low)));                   \
            }                                                                                      \
        }                                                                                          \
        for (size_t r = 0; r < nr; r++) out[r] = (wrange){s->nodes[at[r]].t, s->nodes[at[r]].f};   \
    }
DEFINE_LEAVES_FAST(leaves_fast_float, float, fnode, fast)
DEFINE_LEAVES_FAST(leaves_fast_double, double, dnode, fast_d)

static const tnode *find_leaf(const tree_state *s, const tree_job *j, size_t t, size_t row) {
    if (j->xf) {
        const float *x = j->xf + row * j->c;
        return s->all_leq ? leaf_leq_float(s->nodes, s->roots[t], x)
                          : leaf_float(s->nodes, s->members, s->roots[t], x);
    }
    const double *x = j->xd + row * j->c;
    return s->all_leq ? leaf_leq_double(s->nodes, s->roots[t], x)
                      : leaf_double(s->nodes, s->members, s->roots[t], x);
}

/* Sums (or min/max) the leaf weights of trees [t0, t1) for rows
 * [r0, r0 + nr), nr <= BLOCK; acc and has hold nr * n_out entries. */
static void aggregate_block(const tree_state *s, const tree_job *j, size_t r0, size_t nr, size_t t0,
                            size_t t1, double *acc, uint8_t *has) {
    size_t no = s->n_out;
    memset(acc, 0, nr * no * sizeof *acc);
    memset(has, 0, nr * no);
    wrange leaves[BLOCK];
    for (size_t t = t0; t < t1; t++) {
        if (s->fast && j->xf && j->c) {
            leaves_fast_float(s, t, j->xf + r0 * j->c, j->c, nr, leaves);
        } else if (s->fast_d && j->xd && j->c) {
            leaves_fast_double(s, t, j->xd + r0 * j->c, j->c, nr, leaves);
        } else {
            for (size_t r = 0; r < nr; r++) {
                const tnode *lf = find_leaf(s, j, t, r0 + r);
                leaves[r] = (wrange){lf->t, lf->f};
            }
        }
        for (size_t r = 0; r < nr; r++) {
            const wrange *leaf = &leaves[r];
            double *a = acc + r * no;
            uint8_t *h = has + r * no;
            for (int32_t k = leaf->start, e = leaf->start + leaf->count; k < e; k++) {
                int32_t id = s->w_target[k];
                double w = s->w_value[k];
                switch (s->agg) {
                case AGG_MIN:
                    a[id] = (!h[id] || w < a[id]) ? w : a[id];
                    break;
                case AGG_MAX:
                    a[id] = (!h[id] || w > a[id]) ? w : a[id];
                    break;
                default:
                    a[id] += w;
                    break;
                }
                h[id] = 1;
            }
        }
    }
}

static void finish_classifier_row(const tree_state *s, double *acc, float *z, int64_t *label) {
    if (s->binary) {
        double sc = acc[s->binary_class];
        if (s->n_base) sc += s->n_base == 1 ? s->base[0] : s->base[s->binary_class];
        z[1] = (float)sc;
        z[0] =
            (s->post == ML_POST_NONE || s->post == ML_POST_PROBIT) ? (float)(1.0 - sc) : (float)-sc;
        ml_post_apply(s->post, z, 2);
        int64_t best = z[1] > z[0] ? 1 : 0;
        /* one listed label: it is the positive class, 0 the negative one */
        *label = s->n_out == 1 ? (best ? 0 : -1) : best;
        return;
    }
    for (size_t k = 0; k < s->n_out; k++) z[k] = (float)(acc[k] + (s->n_base ? s->base[k] : 0.0));
    ml_post_apply(s->post, z, s->n_out);
    int64_t best = 0;
    for (size_t k = 1; k < s->n_out; k++)
        if (z[k] > z[best]) best = (int64_t)k;
    *label = best;
}

/* Final scores (and class) of rows [r0, r0 + nr) from their aggregates. */
static void finish_rows(const tree_state *s, const tree_job *j, size_t r0, size_t nr, double *acc) {
    size_t no = s->n_out;
    for (size_t r = 0; r < nr; r++) {
        double *a = acc + r * no;
        float *z = j->z + (r0 + r) * j->z_cols;
        if (s->classifier) {
            finish_classifier_row(s, a, z, &j->label[r0 + r]);
            continue;
        }
        for (size_t k = 0; k < no; k++) {
            double v = a[k];
            if (s->agg == AGG_AVERAGE) v /= (double)s->n_trees;
            if (s->n_base) v += s->base[k];
            z[k] = (float)v;
        }
        ml_post_apply(s->post, z, no);
    }
}

static void tree_range(void *arg, size_t begin, size_t end) {
    tree_job *j = arg;
    const tree_state *s = j->s;
    size_t no = s->n_out;
    double *acc = malloc(BLOCK * no * sizeof *acc);
    uint8_t *has = malloc(BLOCK * no);
    if (!acc || !has) {
        free(acc);
        free(has);
        atomic_store(&j->oom, 1);
        return;
    }
    for (size_t r0 = begin; r0 < end; r0 += BLOCK) {
        size_t nr = end - r0 < BLOCK ? end - r0 : BLOCK;
        aggregate_block(s, j, r0, nr, 0, s->n_trees, acc, has);
        finish_rows(s, j, r0, nr, acc);
    }
    free(acc);
    free(has);
}

/* Small batches (one request, a few rows) gain nothing from splitting
 * rows; they split the trees instead: part k aggregates its share of the
 * trees for all rows, then the parts are merged. */
typedef struct tree_split {
    tree_job *j;
    size_t n_rows, n_parts;
    double *acc;  /* [n_parts][n_rows * n_out] */
    uint8_t *has; /* same layout */
} tree_split;

static void tree_part(void *arg, size_t begin, size_t end) {
    tree_split *sp = arg;
    const tree_state *s = sp->j->s;
    size_t per = sp->n_rows * s->n_out;
    for (size_t k = begin; k < end; k++) {
        size_t t0 = s->n_trees * k / sp->n_parts, t1 = s->n_trees * (k + 1) / sp->n_parts;
        aggregate_block(s, sp->j, 0, sp->n_rows, t0, t1, sp->acc + k * per, sp->has + k * per);
    }
}

static bool eval_split_trees(ml_threadpool *pool, tree_job *j, size_t n) {
    const tree_state *s = j->s;
    size_t parts = ml_threadpool_size(pool);
    if (parts < 2 || n > BLOCK || s->n_trees < 8 * parts) return false;
    size_t per = n * s->n_out;
    tree_split sp = {j, n, parts, malloc(parts * per * sizeof(double)), malloc(parts * per)};
    if (!sp.acc || !sp.has) {
        free(sp.acc);
        free(sp.has);
        return false; /* the row-wise path still works */
    }
    ml_parallel_for(pool, parts, 1, tree_part, &sp);
    for (size_t k = 1; k < parts; k++) {
        double *a = sp.acc, *b = sp.acc + k * per;
        uint8_t *ha = sp.has, *hb = sp.has + k * per;
        for (size_t i = 0; i < per; i++) {
            if (!hb[i]) continue;
            if (s->agg == AGG_MIN)
                a[i] = (!ha[i] || b[i] < a[i]) ? b[i] : a[i];
            else if (s->agg == AGG_MAX)
                a[i] = (!ha[i] || b[i] > a[i]) ? b[i] : a[i];
            else
                a[i] += b[i];
            ha[i] = 1;
        }
    }
    finish_rows(s, j, 0, n, sp.acc);
    free(sp.acc);
    free(sp.has);
    return true;
}

/* Runs the ensemble over X; z receives [n, z_cols] scores (caller-owned). */
static ml_status tree_eval(ml_kernel_ctx *ctx, const tree_state *s, size_t *n_rows, float **z_out,
                           size_t z_cols, int64_t **labels_out, ml_tensor **z_tensor) {
    const ml_tensor *x;
    ML_TRY(ml_require_input(ctx, 0, &x));
    size_t n, c;
    ML_TRY(ml_feature_rows(ctx->node, x, &n, &c));
    if (s->max_feature >= 0 && (size_t)s->max_feature >= c)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "the trees read feature %lld but X has only %zu features per row",
                             (long long)s->max_feature, c);
    int64_t zdims[2] = {(int64_t)n, (int64_t)z_cols};
    size_t out_idx = s->classifier ? 1 : 0;
    ml_tensor *zt = NULL;
    float *z = NULL;
    /* TreeEnsemble answers in X's dtype: computed as float, converted below */
    ml_dtype odt = s->out_dtype != ML_UNDEFINED ? s->out_dtype : x->dtype;
    if (odt != ML_FLOAT && odt != ML_DOUBLE && odt != ML_FLOAT16)
        return ml_node_error(ctx->node, ML_ERR_INVALID_ARGUMENT,
                             "X must be float, double or float16, got %s", ml_dtype_name(x->dtype));
    if (out_idx < ctx->n_outputs && odt == ML_FLOAT) {
        ML_TRY(ml_output_tensor(ctx, out_idx, ML_FLOAT, 2, zdims, &zt));
        z = zt->data;
    } else {
        size_t zn = n * z_cols;
        z = malloc(zn ? zn * sizeof *z : 1);
        if (!z) return ml_error(ML_ERR_OUT_OF_MEMORY, "tree scores");
    }
    tree_job j = {.s = s, .c = c, .z = z, .z_cols = z_cols};
    atomic_init(&j.oom, 0);
    const double *xd_data = NULL;
    double *owned = NULL;
    ml_status st = ML_STATUS_OK;
    if (x->dtype == ML_FLOAT) {
        j.xf = x->data;
    } else {
        st = ml_as_f64(ctx->node, x, &xd_data, &owned);
        j.xd = xd_data;
    }
    if (!st && s->classifier) {
        j.label = malloc(n ? n * sizeof *j.label : 1);
        if (!j.label) st = ml_error(ML_ERR_OUT_OF_MEMORY, "tree labels");
    }
    if (!st) {
        if (!eval_split_trees(ctx->pool, &j, n)) {
            /* whole blocks per chunk: a block walks every tree once */
            size_t chunk = ml_rows_per_chunk(s->n_trees * 16 + s->n_out);
            ml_parallel_for(ctx->pool, n, chunk < 2 * BLOCK ? 2 * BLOCK : chunk, tree_range, &j);
        }
        if (atomic_load(&j.oom)) st = ml_error(ML_ERR_OUT_OF_MEMORY, "tree score scratch");
    }
    free(owned);
    if (!st && odt != ML_FLOAT && out_idx < ctx->n_outputs) {
        st = ml_output_tensor(ctx, out_idx, odt, 2, zdims, &zt);
        for (size_t i = 0; !st && i < n * z_cols; i++) ml_tensor_set_f64(zt, i, z[i]);
        free(z);
        z = NULL;
        zt = NULL;
    }
    if (!zt) free(z);
    if (st) {
        free(j.label);
        return st;
    }
    *n_rows = n;
    *labels_out = j.label;
    *z_out = zt ? z : NULL;
    *z_tensor = zt;
    return ML_STATUS_OK;
}

ml_status ml_tree_classifier_run(ml_kernel_ctx *ctx) {
    const tree_state *s = ctx->node->state;
    size_t n;
    float *z;
    int64_t *labels;
    ml_tensor *zt;
    size_t cols = s->n_out < 2 ? 2 : s->n_out;
    ML_TRY(tree_eval(ctx, s, &n, &z, cols, &labels, &zt));
    ml_status st;
    if (s->n_out == 1) {
        /* a single listed label: positive rows get it, the others 0 */
        int64_t dims[1] = {(int64_t)n};
        ml_tensor *y;
        st = ml_output_tensor(ctx, 0, ML_INT64, 1, dims, &y);
        if (!st)
            for (size_t i = 0; i < n; i++)
                ((int64_t *)y->data)[i] = labels[i] == 0 ? s->labels.ints[0] : 0;
    } else {
        st = ml_write_labels(ctx, 0, &s->labels, labels, n);
    }
    free(labels);
    return st;
}

ml_status ml_tree_regressor_run(ml_kernel_ctx *ctx) {
    const tree_state *s = ctx->node->state;
    size_t n;
    float *z;
    int64_t *labels;
    ml_tensor *zt;
    return tree_eval(ctx, s, &n, &z, s->n_out, &labels, &zt);
}
