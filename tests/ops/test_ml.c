/* Unit tests of the ai.onnx.ml kernels with hand-computed expectations. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ops/harness.h"
#include "test.h"

#define ML "ai.onnx.ml"

static ml_str S(const char *s) {
    return (ml_str){(char *)s, strlen(s)};
}
static ml_attr attr_strings(const char *name, ml_str *v, size_t n) {
    return (ml_attr){.name = name, .type = ML_ATTR_STRINGS, .strings = v, .n = n};
}
static const char *str_at(const ml_tensor *t, size_t i) {
    return ((ml_str *)t->data)[i].data;
}
static float f_at(const ml_tensor *t, size_t i) {
    return ((float *)t->data)[i];
}
static int64_t i_at(const ml_tensor *t, size_t i) {
    return ((int64_t *)t->data)[i];
}

#define IN(...) ((const ml_tensor *const[]){__VA_ARGS__})

/* ---------------- trees ---------------- */

/* Tree 0: n0: x0 <= 0.5 ? n1 (leaf) : n2; n2: x1 < 2 ? n3 (leaf) : n4 (leaf).
 * Tree 1: n0: x1 >= 10 ? n1 (leaf) : n2 (leaf). */
static const int64_t tr_tree[] = {0, 0, 0, 0, 0, 1, 1, 1};
static const int64_t tr_node[] = {0, 1, 2, 3, 4, 0, 1, 2};
static const int64_t tr_feat[] = {0, 0, 1, 0, 0, 1, 0, 0};
static const float tr_val[] = {0.5f, 0, 2, 0, 0, 10, 0, 0};
static const int64_t tr_true[] = {1, 0, 3, 0, 0, 1, 0, 0};
static const int64_t tr_false[] = {2, 0, 4, 0, 0, 2, 0, 0};
static const int64_t tr_nan[] = {1, 0, 0, 0, 0, 0, 0, 0};
static ml_str tr_modes[] = {{"BRANCH_LEQ", 10}, {"LEAF", 4},        {"BRANCH_LT", 9}, {"LEAF", 4},
                            {"LEAF", 4},        {"BRANCH_GTE", 10}, {"LEAF", 4},      {"LEAF", 4}};

static size_t tree_attrs(ml_attr *a) {
    size_t n = 0;
    a[n++] = ml_test_attr_ints("nodes_treeids", tr_tree, 8);
    a[n++] = ml_test_attr_ints("nodes_nodeids", tr_node, 8);
    a[n++] = ml_test_attr_ints("nodes_featureids", tr_feat, 8);
    a[n++] = ml_test_attr_floats("nodes_values", tr_val, 8);
    a[n++] = ml_test_attr_ints("nodes_truenodeids", tr_true, 8);
    a[n++] = ml_test_attr_ints("nodes_falsenodeids", tr_false, 8);
    a[n++] = ml_test_attr_ints("nodes_missing_value_tracks_true", tr_nan, 8);
    a[n++] = attr_strings("nodes_modes", tr_modes, 8);
    return n;
}

/* leaves: t0n1=1, t0n3=2, t0n4=3 (target 0), t1n1=10, t1n2=20 (target 0), t1n2 also 5 on target 1
 */
static const int64_t lw_tree[] = {0, 0, 0, 1, 1, 1};
static const int64_t lw_node[] = {1, 3, 4, 1, 2, 2};
static const int64_t lw_id[] = {0, 0, 0, 0, 0, 1};
static const float lw_w[] = {1, 2, 3, 10, 20, 5};

static ml_tensor *rows4(void) {
    int64_t d[2] = {4, 2};
    return ml_test_f32(2, d, (float[]){0, 0, 1, 1, 1, 50, NAN, 12});
}

static void regress(const char *agg, const float *base, float *out8) {
    ml_attr a[20];
    size_t n = tree_attrs(a);
    a[n++] = ml_test_attr_ints("target_treeids", lw_tree, 6);
    a[n++] = ml_test_attr_ints("target_nodeids", lw_node, 6);
    a[n++] = ml_test_attr_ints("target_ids", lw_id, 6);
    a[n++] = ml_test_attr_floats("target_weights", lw_w, 6);
    a[n++] = ml_test_attr_int("n_targets", 2);
    a[n++] = ml_test_attr_string("aggregate_function", agg);
    if (base) a[n++] = ml_test_attr_floats("base_values", base, 2);
    ml_tensor *x = rows4(), *y = NULL;
    CHECK_OK(ml_test_run(ML, "TreeEnsembleRegressor", 1, a, n, 1, IN(x), 1, &y));
    CHECK(y && y->rank == 2 && y->dims[0] == 4 && y->dims[1] == 2);
    for (int i = 0; i < 8; i++) out8[i] = y ? f_at(y, (size_t)i) : -999;
    ml_tensor_free(x);
    ml_tensor_free(y);
}

static void test_tree_regressor_aggregates(void) {
    float o[8];
    /* leaves per row: r0: t0n1(1), t1n2(20,+5) ; r1: t0n3(2), t1n2 ; r2: t0n4(3), t1n1(10);
     * r3: NaN goes true at t0n0 -> t0n1(1), x1=12 >= 10 -> t1n1(10) */
    regress("SUM", NULL, o);
    CHECK_NEAR(o[0], 21, 1e-6);
    CHECK_NEAR(o[1], 5, 1e-6);
    CHECK_NEAR(o[2], 22, 1e-6);
    CHECK_NEAR(o[4], 13, 1e-6);
    CHECK_NEAR(o[5], 0, 1e-6);
    CHECK_NEAR(o[6], 11, 1e-6);
    regress("AVERAGE", (float[]){100, 200}, o);
    CHECK_NEAR(o[0], 110.5, 1e-5);
    CHECK_NEAR(o[1], 202.5, 1e-5);
    regress("MIN", NULL, o);
    CHECK_NEAR(o[0], 1, 1e-6);
    CHECK_NEAR(o[4], 3, 1e-6);
    CHECK_NEAR(o[1], 5, 1e-6);
    regress("MAX", (float[]){0, 1}, o);
    CHECK_NEAR(o[0], 20, 1e-6);
    CHECK_NEAR(o[4], 10, 1e-6);
    CHECK_NEAR(o[5], 1, 1e-6);
}

static void test_tree_regressor_opset3_tensors_and_double_input(void) {
    ml_attr a[20];
    size_t n = tree_attrs(a);
    /* thresholds as a double tensor replace nodes_values */
    int64_t d8[1] = {8};
    ml_tensor *thr = ml_test_tensor(ML_DOUBLE, 1, d8, (double[]){0.5, 0, 2, 0, 0, 10, 0, 0});
    a[3] = ml_test_attr_tensor("nodes_values_as_tensor", thr);
    int64_t d6[1] = {6};
    ml_tensor *w = ml_test_tensor(ML_DOUBLE, 1, d6, (double[]){1, 2, 3, 10, 20, 5});
    a[n++] = ml_test_attr_ints("target_treeids", lw_tree, 6);
    a[n++] = ml_test_attr_ints("target_nodeids", lw_node, 6);
    a[n++] = ml_test_attr_ints("target_ids", lw_id, 6);
    a[n++] = ml_test_attr_tensor("target_weights_as_tensor", w);
    a[n++] = ml_test_attr_int("n_targets", 2);
    int64_t dx[2] = {1, 2};
    ml_tensor *x = ml_test_tensor(ML_DOUBLE, 2, dx, (double[]){1, 1}), *y = NULL;
    CHECK_OK(ml_test_run(ML, "TreeEnsembleRegressor", 3, a, n, 1, IN(x), 1, &y));
    if (y) CHECK_NEAR(f_at(y, 0), 22, 1e-6);
    ml_tensor_free(y);
    /* int64 features work too */
    ml_tensor *xi = ml_test_i64(2, dx, (int64_t[]){1, 50});
    CHECK_OK(ml_test_run(ML, "TreeEnsembleRegressor", 3, a, n, 1, IN(xi), 1, &y));
    if (y) CHECK_NEAR(f_at(y, 0), 13, 1e-6);
    ml_tensor_free(y);
    /* too few features is an error, never an out-of-bounds read */
    int64_t d1[2] = {1, 1};
    ml_tensor *x1 = ml_test_f32(2, d1, (float[]){0});
    CHECK_ERR(ml_test_run(ML, "TreeEnsembleRegressor", 3, a, n, 1, IN(x1), 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(x);
    ml_tensor_free(xi);
    ml_tensor_free(x1);
    ml_tensor_free(thr);
    ml_tensor_free(w);
}

static void test_tree_hostile_structure(void) {
    /* n0 -> n1 -> n0: a cycle */
    int64_t tid[] = {0, 0}, nid[] = {0, 1}, fid[] = {0, 0}, t[] = {1, 0}, f[] = {1, 0};
    float v[] = {0, 0};
    ml_str modes[] = {{"BRANCH_LEQ", 10}, {"BRANCH_LEQ", 10}};
    int64_t wt[] = {0}, wn[] = {1}, wi[] = {0};
    float ww[] = {1};
    ml_attr a[] = {ml_test_attr_ints("nodes_treeids", tid, 2),
                   ml_test_attr_ints("nodes_nodeids", nid, 2),
                   ml_test_attr_ints("nodes_featureids", fid, 2),
                   ml_test_attr_floats("nodes_values", v, 2),
                   ml_test_attr_ints("nodes_truenodeids", t, 2),
                   ml_test_attr_ints("nodes_falsenodeids", f, 2),
                   attr_strings("nodes_modes", modes, 2),
                   ml_test_attr_ints("target_treeids", wt, 1),
                   ml_test_attr_ints("target_nodeids", wn, 1),
                   ml_test_attr_ints("target_ids", wi, 1),
                   ml_test_attr_floats("target_weights", ww, 1)};
    int64_t d[2] = {1, 1};
    ml_tensor *x = ml_test_f32(2, d, (float[]){0}), *y = NULL;
    CHECK_ERR(ml_test_run(ML, "TreeEnsembleRegressor", 1, a, 11, 1, IN(x), 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    /* a missing child */
    t[0] = 7;
    CHECK_ERR(ml_test_run(ML, "TreeEnsembleRegressor", 1, a, 11, 1, IN(x), 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    /* weights on a branch node */
    t[0] = 1;
    modes[1] = S("LEAF");
    wn[0] = 0;
    CHECK_ERR(ml_test_run(ML, "TreeEnsembleRegressor", 1, a, 11, 1, IN(x), 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    /* unknown mode */
    wn[0] = 1;
    modes[0] = S("BRANCH_XX");
    CHECK_ERR(ml_test_run(ML, "TreeEnsembleRegressor", 1, a, 11, 1, IN(x), 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    modes[0] = S("BRANCH_LEQ");
    CHECK_OK(ml_test_run(ML, "TreeEnsembleRegressor", 1, a, 11, 1, IN(x), 1, &y));
    if (y) CHECK_NEAR(f_at(y, 0), 1, 0);
    ml_tensor_free(y);
    /* both branches sharing one child (a DAG, not a cycle) is fine */
    f[0] = 1;
    CHECK_OK(ml_test_run(ML, "TreeEnsembleRegressor", 1, a, 11, 1, IN(x), 1, &y));
    if (y) CHECK_NEAR(f_at(y, 0), 1, 0);
    ml_tensor_free(y);
    /* a target id past n_targets (1 by default) */
    wi[0] = 1;
    ml_attr b[12];
    memcpy(b, a, sizeof a);
    b[11] = ml_test_attr_int("n_targets", 1);
    CHECK_ERR(ml_test_run(ML, "TreeEnsembleRegressor", 1, b, 12, 1, IN(x), 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(x);
}

static void test_tree_classifier_multiclass(void) {
    ml_attr a[20];
    size_t n = tree_attrs(a);
    /* class weights: t0n1 -> class 0, t0n3 -> class 1, t0n4 -> class 2, t1n1 -> 2, t1n2 -> 0 */
    int64_t ct[] = {0, 0, 0, 1, 1}, cn[] = {1, 3, 4, 1, 2}, ci[] = {0, 1, 2, 2, 0};
    float cw[] = {1, 1, 1, 0.5f, 0.5f};
    int64_t labels[] = {10, 20, 30};
    a[n++] = ml_test_attr_ints("class_treeids", ct, 5);
    a[n++] = ml_test_attr_ints("class_nodeids", cn, 5);
    a[n++] = ml_test_attr_ints("class_ids", ci, 5);
    a[n++] = ml_test_attr_floats("class_weights", cw, 5);
    a[n++] = ml_test_attr_ints("classlabels_int64s", labels, 3);
    ml_tensor *x = rows4(), *out[2] = {0};
    CHECK_OK(ml_test_run(ML, "TreeEnsembleClassifier", 1, a, n, 1, IN(x), 2, out));
    /* r0: c0=1.5 ; r1: c1=1, c0=.5 ; r2: c2=1.5 ; r3: c0=1, c2=.5 */
    if (out[0] && out[1]) {
        CHECK_EQ_INT(i_at(out[0], 0), 10);
        CHECK_EQ_INT(i_at(out[0], 1), 20);
        CHECK_EQ_INT(i_at(out[0], 2), 30);
        CHECK_EQ_INT(i_at(out[0], 3), 10);
        CHECK_NEAR(f_at(out[1], 0), 1.5, 1e-6);
        CHECK_NEAR(f_at(out[1], 3), 0.5, 1e-6);
        CHECK_NEAR(f_at(out[1], 11), 0.5, 1e-6);
    }
    ml_tensor_free(out[0]);
    ml_tensor_free(out[1]);
    /* SOFTMAX and string labels */
    ml_str sl[] = {S("a"), S("b"), S("c")};
    a[n - 1] = attr_strings("classlabels_strings", sl, 3);
    a[n++] = ml_test_attr_string("post_transform", "SOFTMAX");
    CHECK_OK(ml_test_run(ML, "TreeEnsembleClassifier", 1, a, n, 1, IN(x), 2, out));
    if (out[0] && out[1]) {
        CHECK_STR(str_at(out[0], 1), "b");
        double e = exp(1.0) + exp(0.5) + 1.0;
        CHECK_NEAR(f_at(out[1], 3), exp(0.5) / e, 1e-6);
        CHECK_NEAR(f_at(out[1], 4), exp(1.0) / e, 1e-6);
    }
    ml_tensor_free(out[0]);
    ml_tensor_free(out[1]);
    ml_tensor_free(x);
}

static void test_tree_classifier_binary_logistic(void) {
    /* one tree, one split; every weight on class 0 (the GBM export form) */
    int64_t tid[] = {0, 0, 0}, nid[] = {0, 1, 2}, fid[] = {0, 0, 0}, t[] = {1, 0, 0},
            f[] = {2, 0, 0};
    float v[] = {0, 0, 0};
    ml_str modes[] = {{"BRANCH_LT", 9}, {"LEAF", 4}, {"LEAF", 4}};
    int64_t ct[] = {0, 0}, cn[] = {1, 2}, ci[] = {0, 0}, labels[] = {0, 1};
    float cw[] = {-2, 1.5f}, base[] = {0.25f};
    ml_attr a[] = {ml_test_attr_ints("nodes_treeids", tid, 3),
                   ml_test_attr_ints("nodes_nodeids", nid, 3),
                   ml_test_attr_ints("nodes_featureids", fid, 3),
                   ml_test_attr_floats("nodes_values", v, 3),
                   ml_test_attr_ints("nodes_truenodeids", t, 3),
                   ml_test_attr_ints("nodes_falsenodeids", f, 3),
                   attr_strings("nodes_modes", modes, 3),
                   ml_test_attr_ints("class_treeids", ct, 2),
                   ml_test_attr_ints("class_nodeids", cn, 2),
                   ml_test_attr_ints("class_ids", ci, 2),
                   ml_test_attr_floats("class_weights", cw, 2),
                   ml_test_attr_ints("classlabels_int64s", labels, 2),
                   ml_test_attr_floats("base_values", base, 1),
                   ml_test_attr_string("post_transform", "LOGISTIC")};
    int64_t d[2] = {2, 1};
    ml_tensor *x = ml_test_f32(2, d, (float[]){-1, 1}), *out[2] = {0};
    CHECK_OK(ml_test_run(ML, "TreeEnsembleClassifier", 1, a, 14, 1, IN(x), 2, out));
    if (out[0] && out[1]) {
        CHECK(out[1]->dims[1] == 2);
        double p0 = 1 / (1 + exp(-(-2 + 0.25))), p1 = 1 / (1 + exp(-(1.5 + 0.25)));
        CHECK_NEAR(f_at(out[1], 1), p0, 1e-6);
        CHECK_NEAR(f_at(out[1], 0), 1 - p0, 1e-6);
        CHECK_NEAR(f_at(out[1], 3), p1, 1e-6);
        CHECK_EQ_INT(i_at(out[0], 0), 0);
        CHECK_EQ_INT(i_at(out[0], 1), 1);
    }
    ml_tensor_free(out[0]);
    ml_tensor_free(out[1]);
    ml_tensor_free(x);
}

/* Float inputs use compact nodes with float thresholds; they must decide
 * exactly like the double comparison, at the boundary and for NaN. */
static void test_tree_float_fast_path_matches_double(void) {
    const char *modes[] = {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT"};
    float xs[] = {0.1f, nextafterf(0.1f, 0), nextafterf(0.1f, 1), NAN, -INFINITY, INFINITY};
    double thr_values[] = {0.1, (double)0.1f, -INFINITY, INFINITY, 1e300};
    for (int m = 0; m < 4; m++)
        for (int nan_true = 0; nan_true < 2; nan_true++)
            for (int tv = 0; tv < 5; tv++) {
                int64_t tid[] = {0, 0, 0}, nid[] = {0, 1, 2}, fid[] = {0, 0, 0}, t[] = {1, 0, 0},
                        f[] = {2, 0, 0}, nt[] = {nan_true, 0, 0};
                ml_str md[] = {S(modes[m]), S("LEAF"), S("LEAF")};
                int64_t d3[1] = {3};
                ml_tensor *thr = ml_test_tensor(ML_DOUBLE, 1, d3, (double[]){thr_values[tv], 0, 0});
                int64_t wt[] = {0, 0}, wn[] = {1, 2}, wi[] = {0, 0};
                float ww[] = {1, 2};
                ml_attr a[] = {ml_test_attr_ints("nodes_treeids", tid, 3),
                               ml_test_attr_ints("nodes_nodeids", nid, 3),
                               ml_test_attr_ints("nodes_featureids", fid, 3),
                               ml_test_attr_tensor("nodes_values_as_tensor", thr),
                               ml_test_attr_ints("nodes_truenodeids", t, 3),
                               ml_test_attr_ints("nodes_falsenodeids", f, 3),
                               ml_test_attr_ints("nodes_missing_value_tracks_true", nt, 3),
                               attr_strings("nodes_modes", md, 3),
                               ml_test_attr_ints("target_treeids", wt, 2),
                               ml_test_attr_ints("target_nodeids", wn, 2),
                               ml_test_attr_ints("target_ids", wi, 2),
                               ml_test_attr_floats("target_weights", ww, 2)};
                int64_t dx[2] = {6, 1};
                double xd[6];
                for (int i = 0; i < 6; i++) xd[i] = xs[i];
                ml_tensor *x32 = ml_test_f32(2, dx, xs),
                          *x64 = ml_test_tensor(ML_DOUBLE, 2, dx, xd);
                ml_tensor *y32 = NULL, *y64 = NULL;
                CHECK_OK(ml_test_run(ML, "TreeEnsembleRegressor", 3, a, 12, 1, IN(x32), 1, &y32));
                CHECK_OK(ml_test_run(ML, "TreeEnsembleRegressor", 3, a, 12, 1, IN(x64), 1, &y64));
                for (int i = 0; y32 && y64 && i < 6; i++) {
                    double v = xd[i], th = thr_values[tv];
                    bool r = isnan(v) ? nan_true
                             : m == 0 ? v <= th
                             : m == 1 ? v < th
                             : m == 2 ? v >= th
                                      : v > th;
                    CHECK_NEAR(f_at(y32, (size_t)i), r ? 1 : 2, 0);
                    CHECK_NEAR(f_at(y64, (size_t)i), r ? 1 : 2, 0);
                }
                ml_tensor_free(y32);
                ml_tensor_free(y64);
                ml_tensor_free(x32);
                ml_tensor_free(x64);
                ml_tensor_free(thr);
            }
}

/* The two cases of the ONNX backend tests for TreeEnsemble (ml opset 5). */
static void test_tree_ensemble_v5(void) {
    int64_t d3[1] = {3}, d4[1] = {4}, d8[1] = {8};
    ml_tensor *modes = ml_test_tensor(ML_UINT8, 1, d3, (uint8_t[]){0, 0, 0});
    ml_tensor *splits = ml_test_tensor(ML_DOUBLE, 1, d3, (double[]){3.14, 1.2, 4.2});
    ml_tensor *weights = ml_test_tensor(ML_DOUBLE, 1, d4, (double[]){5.23, 12.12, -12.23, 7.21});
    int64_t feat[] = {0, 0, 0}, tid[] = {1, 0, 1}, tl[] = {0, 1, 1}, fid[] = {2, 2, 3},
            fl[] = {0, 1, 1}, tgt[] = {0, 1, 0, 1}, roots[] = {0};
    ml_attr a[] = {ml_test_attr_int("n_targets", 2),
                   ml_test_attr_int("aggregate_function", 1),
                   ml_test_attr_ints("tree_roots", roots, 1),
                   ml_test_attr_tensor("nodes_modes", modes),
                   ml_test_attr_ints("nodes_featureids", feat, 3),
                   ml_test_attr_tensor("nodes_splits", splits),
                   ml_test_attr_ints("nodes_truenodeids", tid, 3),
                   ml_test_attr_ints("nodes_trueleafs", tl, 3),
                   ml_test_attr_ints("nodes_falsenodeids", fid, 3),
                   ml_test_attr_ints("nodes_falseleafs", fl, 3),
                   ml_test_attr_ints("leaf_targetids", tgt, 4),
                   ml_test_attr_tensor("leaf_weights", weights)};
    int64_t dx[2] = {3, 2};
    ml_tensor *x = ml_test_tensor(ML_DOUBLE, 2, dx, (double[]){1.2, 3.4, -0.12, 1.66, 4.14, 1.77});
    ml_tensor *y = NULL;
    CHECK_OK(ml_test_run(ML, "TreeEnsemble", 5, a, 12, 1, IN(x), 1, &y));
    if (y) {
        CHECK(y->dtype == ML_DOUBLE && y->dims[0] == 3 && y->dims[1] == 2);
        double e[] = {5.23, 0, 5.23, 0, 0, 12.12};
        for (int i = 0; i < 6; i++) CHECK_NEAR(((double *)y->data)[i], e[i], 1e-5);
    }
    ml_tensor_free(y);
    ml_tensor_free(x);
    ml_tensor_free(modes);
    ml_tensor_free(splits);
    ml_tensor_free(weights);

    /* set membership */
    modes = ml_test_tensor(ML_UINT8, 1, d3, (uint8_t[]){0, 6, 6});
    splits = ml_test_tensor(ML_FLOAT, 1, d3, (float[]){11, 232344.0f, NAN});
    weights = ml_test_tensor(ML_FLOAT, 1, d4, (float[]){1, 10, 1000, 100});
    ml_tensor *members =
        ml_test_tensor(ML_FLOAT, 1, d8, (float[]){1.2f, 3.7f, 8, 9, NAN, 12, 7, NAN});
    int64_t fl2[] = {1, 0, 1}, tgt2[] = {0, 1, 2, 3};
    a[0] = ml_test_attr_int("n_targets", 4);
    a[3] = ml_test_attr_tensor("nodes_modes", modes);
    a[5] = ml_test_attr_tensor("nodes_splits", splits);
    a[9] = ml_test_attr_ints("nodes_falseleafs", fl2, 3);
    a[10] = ml_test_attr_ints("leaf_targetids", tgt2, 4);
    a[11] = ml_test_attr_tensor("leaf_weights", weights);
    ml_attr b[13];
    memcpy(b, a, sizeof a);
    b[12] = ml_test_attr_tensor("membership_values", members);
    int64_t dx2[2] = {6, 1};
    x = ml_test_f32(2, dx2, (float[]){1.2f, 3.4f, -0.12f, NAN, 12, 7});
    CHECK_OK(ml_test_run(ML, "TreeEnsemble", 5, b, 13, 1, IN(x), 1, &y));
    if (y) {
        CHECK(y->dtype == ML_FLOAT && y->dims[1] == 4);
        int hot[] = {0, 3, 3, 2, 2, 1};
        float w[] = {1, 10, 1000, 100};
        for (int r = 0; r < 6; r++)
            for (int k = 0; k < 4; k++)
                CHECK_NEAR(f_at(y, (size_t)(r * 4 + k)), k == hot[r] ? w[k] : 0, 0);
    }
    ml_tensor_free(y);
    /* a child index past the leaves is rejected at load */
    int64_t bad[] = {2, 9, 3};
    b[8] = ml_test_attr_ints("nodes_falsenodeids", bad, 3);
    CHECK_ERR(ml_test_run(ML, "TreeEnsemble", 5, b, 13, 1, IN(x), 1, &y), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(x);
    ml_tensor_free(modes);
    ml_tensor_free(splits);
    ml_tensor_free(weights);
    ml_tensor_free(members);
}

/* ---------------- linear ---------------- */

static void test_linear_classifier(void) {
    float coef[] = {1, 0, 0, 1, -1, -1};
    float icpt[] = {0, 0.5f, 0};
    int64_t labels[] = {7, 8, 9};
    ml_attr a[] = {ml_test_attr_floats("coefficients", coef, 6),
                   ml_test_attr_floats("intercepts", icpt, 3),
                   ml_test_attr_ints("classlabels_ints", labels, 3)};
    int64_t d[2] = {2, 2};
    ml_tensor *x = ml_test_f32(2, d, (float[]){2, 1, -3, -3}), *out[2] = {0};
    CHECK_OK(ml_test_run(ML, "LinearClassifier", 1, a, 3, 1, IN(x), 2, out));
    if (out[0] && out[1]) {
        /* r0: 2, 1.5, -3 -> 7 ; r1: -3, -2.5, 6 -> 9 */
        CHECK_NEAR(f_at(out[1], 1), 1.5, 1e-6);
        CHECK_NEAR(f_at(out[1], 5), 6, 1e-6);
        CHECK_EQ_INT(i_at(out[0], 0), 7);
        CHECK_EQ_INT(i_at(out[0], 1), 9);
    }
    ml_tensor_free(out[0]);
    ml_tensor_free(out[1]);
    /* binary: one score row expands to [-s, s]; LOGISTIC; string labels */
    ml_str sl[] = {S("neg"), S("pos")};
    ml_attr b[] = {ml_test_attr_floats("coefficients", coef, 2),
                   ml_test_attr_floats("intercepts", icpt, 1),
                   attr_strings("classlabels_strings", sl, 2),
                   ml_test_attr_string("post_transform", "LOGISTIC")};
    CHECK_OK(ml_test_run(ML, "LinearClassifier", 1, b, 4, 1, IN(x), 2, out));
    if (out[0] && out[1]) {
        CHECK(out[1]->dims[1] == 2);
        CHECK_NEAR(f_at(out[1], 1), 1 / (1 + exp(-2.0)), 1e-6);
        CHECK_NEAR(f_at(out[1], 0), 1 / (1 + exp(2.0)), 1e-6);
        CHECK_STR(str_at(out[0], 0), "pos");
        CHECK_STR(str_at(out[0], 1), "neg");
    }
    ml_tensor_free(out[0]);
    ml_tensor_free(out[1]);
    /* feature count that does not fit the coefficients */
    int64_t d3[2] = {1, 3};
    ml_tensor *x3 = ml_test_f32(2, d3, (float[]){1, 2, 3});
    CHECK_ERR(ml_test_run(ML, "LinearClassifier", 1, a, 3, 1, IN(x3), 2, out),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(x3);
    ml_tensor_free(x);
}

static void test_linear_regressor(void) {
    float coef[] = {1, 2, 3, 4};
    float icpt[] = {0.5f, -1};
    ml_attr a[] = {ml_test_attr_floats("coefficients", coef, 4),
                   ml_test_attr_floats("intercepts", icpt, 2), ml_test_attr_int("targets", 2)};
    int64_t d[2] = {1, 2};
    ml_tensor *x = ml_test_i64(2, d, (int64_t[]){1, 1}), *y = NULL;
    CHECK_OK(ml_test_run(ML, "LinearRegressor", 1, a, 3, 1, IN(x), 1, &y));
    if (y) {
        CHECK_NEAR(f_at(y, 0), 3.5, 1e-6);
        CHECK_NEAR(f_at(y, 1), 6, 1e-6);
    }
    ml_tensor_free(y);
    /* empty batch */
    int64_t d0[2] = {0, 2};
    ml_tensor *x0 = ml_test_f32(2, d0, NULL);
    CHECK_OK(ml_test_run(ML, "LinearRegressor", 1, a, 3, 1, IN(x0), 1, &y));
    CHECK(y && y->dims[0] == 0 && y->dims[1] == 2);
    ml_tensor_free(y);
    ml_tensor_free(x0);
    ml_tensor_free(x);
}

/* ---------------- SVM ---------------- */

static void test_svm_regressor_rbf_and_linear(void) {
    float sv[] = {0, 0, 1, 1}, coef[] = {2, -1}, rho[] = {0.5f}, kp[] = {0.5f, 0, 0};
    ml_attr a[] = {ml_test_attr_floats("support_vectors", sv, 4),
                   ml_test_attr_floats("coefficients", coef, 2),
                   ml_test_attr_floats("rho", rho, 1),
                   ml_test_attr_floats("kernel_params", kp, 3),
                   ml_test_attr_string("kernel_type", "RBF"),
                   ml_test_attr_int("n_supports", 2)};
    int64_t d[2] = {1, 2};
    ml_tensor *x = ml_test_f32(2, d, (float[]){1, 0}), *y = NULL;
    CHECK_OK(ml_test_run(ML, "SVMRegressor", 1, a, 6, 1, IN(x), 1, &y));
    /* k(x,sv0)=exp(-0.5), k(x,sv1)=exp(-0.5) -> 2e^-.5 - e^-.5 + .5 */
    if (y) CHECK_NEAR(f_at(y, 0), exp(-0.5) + 0.5, 1e-6);
    ml_tensor_free(y);
    /* POLY: (gamma*dot + coef0)^degree */
    float kp2[] = {1, 1, 2};
    a[3] = ml_test_attr_floats("kernel_params", kp2, 3);
    a[4] = ml_test_attr_string("kernel_type", "POLY");
    CHECK_OK(ml_test_run(ML, "SVMRegressor", 1, a, 6, 1, IN(x), 1, &y));
    if (y) CHECK_NEAR(f_at(y, 0), 2 * 1 - 4 + 0.5, 1e-6);
    ml_tensor_free(y);
    /* liblinear form: no supports */
    ml_attr b[] = {ml_test_attr_floats("coefficients", coef, 2),
                   ml_test_attr_floats("rho", rho, 1)};
    CHECK_OK(ml_test_run(ML, "SVMRegressor", 1, b, 2, 1, IN(x), 1, &y));
    if (y) CHECK_NEAR(f_at(y, 0), 2.5, 1e-6);
    ml_tensor_free(y);
    /* wrong feature count */
    int64_t d3[2] = {1, 3};
    ml_tensor *x3 = ml_test_f32(2, d3, (float[]){1, 2, 3});
    CHECK_ERR(ml_test_run(ML, "SVMRegressor", 1, a, 6, 1, IN(x3), 1, &y), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(x3);
    ml_tensor_free(x);
}

static void test_svm_classifier_ovo(void) {
    /* 3 classes, one support vector each, linear kernel */
    float sv[] = {1, 0, 0, 1, -1, -1};
    int64_t vpc[] = {1, 1, 1}, labels[] = {0, 1, 2};
    /* coefficients [(classes-1), n_sv] */
    float coef[] = {1, 1, 1, -1, -1, -1};
    float rho[] = {0, 0, 0};
    ml_attr a[] = {ml_test_attr_floats("support_vectors", sv, 6),
                   ml_test_attr_ints("vectors_per_class", vpc, 3),
                   ml_test_attr_floats("coefficients", coef, 6),
                   ml_test_attr_floats("rho", rho, 3),
                   ml_test_attr_ints("classlabels_ints", labels, 3),
                   ml_test_attr_string("kernel_type", "LINEAR")};
    int64_t d[2] = {1, 2};
    ml_tensor *x = ml_test_f32(2, d, (float[]){2, 0}), *out[2] = {0};
    CHECK_OK(ml_test_run(ML, "SVMClassifier", 1, a, 6, 1, IN(x), 2, out));
    /* kernels: k0=2, k1=0, k2=-2.
     * (0,1): coef[0][0]*k0 + coef[0][1]*k1 = 2 > 0 -> vote 0
     * (0,2): coef[1][0]*k0 + coef[0][2]*k2 = -2 + -2 = -4 -> vote 2
     * (1,2): coef[1][1]*k1 + coef[1][2]*k2 = 0 + 2 = 2 -> vote 1  => tie 1/1/1 -> class 0 */
    if (out[0] && out[1]) {
        CHECK(out[1]->dims[1] == 3);
        CHECK_NEAR(f_at(out[1], 0), 2, 1e-6);
        CHECK_NEAR(f_at(out[1], 1), -4, 1e-6);
        CHECK_NEAR(f_at(out[1], 2), 2, 1e-6);
        CHECK_EQ_INT(i_at(out[0], 0), 0);
    }
    ml_tensor_free(out[0]);
    ml_tensor_free(out[1]);
    /* inconsistent sizes are load errors */
    float short_coef[] = {1, 1};
    a[2] = ml_test_attr_floats("coefficients", short_coef, 2);
    CHECK_ERR(ml_test_run(ML, "SVMClassifier", 1, a, 6, 1, IN(x), 2, out), ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(x);
}

static void test_svm_classifier_binary_proba(void) {
    float sv[] = {1, -1}, coef[] = {1, -1}, rho[] = {0.5f}, pa[] = {-2}, pb[] = {0};
    int64_t vpc[] = {1, 1}, labels[] = {4, 5};
    ml_attr a[] = {ml_test_attr_floats("support_vectors", sv, 2),
                   ml_test_attr_ints("vectors_per_class", vpc, 2),
                   ml_test_attr_floats("coefficients", coef, 2),
                   ml_test_attr_floats("rho", rho, 1),
                   ml_test_attr_ints("classlabels_ints", labels, 2),
                   ml_test_attr_floats("prob_a", pa, 1),
                   ml_test_attr_floats("prob_b", pb, 1)};
    int64_t d[2] = {1, 1};
    ml_tensor *x = ml_test_f32(2, d, (float[]){1}), *out[2] = {0};
    CHECK_OK(ml_test_run(ML, "SVMClassifier", 1, a, 7, 1, IN(x), 2, out));
    /* s = 0.5 + 1 + 1 = 2.5 > 0 -> class 0 (label 4); p0 = 1 / (1 + exp(-2 * 2.5 * -1)) */
    if (out[0] && out[1]) {
        double p = 1.0 / (1.0 + exp(-5.0));
        CHECK(out[1]->dims[1] == 2);
        CHECK_NEAR(f_at(out[1], 0), p, 1e-4);
        CHECK_NEAR(f_at(out[1], 1), 1 - p, 1e-4);
        CHECK_EQ_INT(i_at(out[0], 0), 4);
    }
    ml_tensor_free(out[0]);
    ml_tensor_free(out[1]);
    /* no proba: Z = [-s, s] */
    CHECK_OK(ml_test_run(ML, "SVMClassifier", 1, a, 5, 1, IN(x), 2, out));
    if (out[1]) {
        CHECK_NEAR(f_at(out[1], 0), -2.5, 1e-6);
        CHECK_NEAR(f_at(out[1], 1), 2.5, 1e-6);
    }
    ml_tensor_free(out[0]);
    ml_tensor_free(out[1]);
    ml_tensor_free(x);
}

/* ---------------- preprocessing ---------------- */

static void test_scaler_normalizer_binarizer(void) {
    int64_t d[2] = {2, 2};
    ml_tensor *x = ml_test_f32(2, d, (float[]){1, -4, 0, 0}), *y = NULL;
    float off[] = {1, 0}, sc[] = {2};
    ml_attr a[] = {ml_test_attr_floats("offset", off, 2), ml_test_attr_floats("scale", sc, 1)};
    CHECK_OK(ml_test_run(ML, "Scaler", 1, a, 2, 1, IN(x), 1, &y));
    if (y) {
        CHECK_NEAR(f_at(y, 0), 0, 0);
        CHECK_NEAR(f_at(y, 1), -8, 0);
        CHECK_NEAR(f_at(y, 2), -2, 0);
    }
    ml_tensor_free(y);
    const char *norms[] = {"MAX", "L1", "L2"};
    double expect[] = {0.25, 0.2, 1 / sqrt(17.0)};
    for (int i = 0; i < 3; i++) {
        ml_attr n = ml_test_attr_string("norm", norms[i]);
        CHECK_OK(ml_test_run(ML, "Normalizer", 1, &n, 1, 1, IN(x), 1, &y));
        if (y) {
            CHECK_NEAR(f_at(y, 0), expect[i], 1e-6);
            CHECK_NEAR(f_at(y, 2), 0, 0); /* zero row stays zero */
        }
        ml_tensor_free(y);
    }
    ml_attr b = ml_test_attr_float("threshold", 0.5f);
    CHECK_OK(ml_test_run(ML, "Binarizer", 1, &b, 1, 1, IN(x), 1, &y));
    if (y) {
        CHECK_NEAR(f_at(y, 0), 1, 0);
        CHECK_NEAR(f_at(y, 1), 0, 0);
    }
    ml_tensor_free(y);
    ml_tensor_free(x);
}

static void test_imputer(void) {
    int64_t d[2] = {2, 2};
    ml_tensor *x = ml_test_f32(2, d, (float[]){NAN, 1, 2, NAN}), *y = NULL;
    float iv[] = {10, 20};
    ml_attr a[] = {ml_test_attr_floats("imputed_value_floats", iv, 2),
                   ml_test_attr_float("replaced_value_float", NAN)};
    CHECK_OK(ml_test_run(ML, "Imputer", 1, a, 2, 1, IN(x), 1, &y));
    if (y) {
        CHECK_NEAR(f_at(y, 0), 10, 0);
        CHECK_NEAR(f_at(y, 2), 2, 0);
        CHECK_NEAR(f_at(y, 3), 20, 0);
    }
    ml_tensor_free(y);
    ml_tensor *xi = ml_test_i64(2, d, (int64_t[]){-1, 3, 4, -1});
    int64_t ivi[] = {7};
    ml_attr b[] = {ml_test_attr_ints("imputed_value_int64s", ivi, 1),
                   ml_test_attr_int("replaced_value_int64", -1)};
    CHECK_OK(ml_test_run(ML, "Imputer", 1, b, 2, 1, IN(xi), 1, &y));
    if (y) {
        CHECK_EQ_INT(i_at(y, 0), 7);
        CHECK_EQ_INT(i_at(y, 1), 3);
        CHECK_EQ_INT(i_at(y, 3), 7);
    }
    ml_tensor_free(y);
    ml_tensor_free(xi);
    ml_tensor_free(x);
}

static void test_array_feature_extractor(void) {
    int64_t d[2] = {2, 3}, di[1] = {2};
    ml_tensor *x = ml_test_strings(2, d, (const char *const[]){"a", "b", "c", "d", "e", "f"});
    ml_tensor *idx = ml_test_i64(1, di, (int64_t[]){2, 0}), *y = NULL;
    CHECK_OK(ml_test_run(ML, "ArrayFeatureExtractor", 1, NULL, 0, 2, IN(x, idx), 1, &y));
    if (y) {
        CHECK(y->dims[0] == 2 && y->dims[1] == 2);
        CHECK_STR(str_at(y, 0), "c");
        CHECK_STR(str_at(y, 3), "d");
    }
    ml_tensor_free(y);
    int64_t d1[1] = {3};
    ml_tensor *x1 = ml_test_f32(1, d1, (float[]){1, 2, 3});
    CHECK_OK(ml_test_run(ML, "ArrayFeatureExtractor", 1, NULL, 0, 2, IN(x1, idx), 1, &y));
    if (y) {
        CHECK(y->rank == 2 && y->dims[0] == 1 && y->dims[1] == 2);
        CHECK_NEAR(f_at(y, 0), 3, 0);
    }
    ml_tensor_free(y);
    ml_tensor *bad = ml_test_i64(1, di, (int64_t[]){3, -1});
    CHECK_ERR(ml_test_run(ML, "ArrayFeatureExtractor", 1, NULL, 0, 2, IN(x, bad), 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(bad);
    ml_tensor_free(x1);
    ml_tensor_free(idx);
    ml_tensor_free(x);
}

static void test_feature_vectorizer(void) {
    int64_t da[2] = {2, 1}, db[2] = {2, 3};
    ml_tensor *a = ml_test_i64(2, da, (int64_t[]){1, 2});
    ml_tensor *b = ml_test_f32(2, db, (float[]){3, 4, 5, 6, 7, 8}), *y = NULL;
    int64_t dims[] = {2, 2}; /* a padded to 2, b truncated to 2 */
    ml_attr at = ml_test_attr_ints("inputdimensions", dims, 2);
    CHECK_OK(ml_test_run(ML, "FeatureVectorizer", 1, &at, 1, 2, IN(a, b), 1, &y));
    if (y) {
        CHECK(y->dims[0] == 2 && y->dims[1] == 4);
        float e[] = {1, 0, 3, 4, 2, 0, 6, 7};
        for (int i = 0; i < 8; i++) CHECK_NEAR(f_at(y, (size_t)i), e[i], 0);
    }
    ml_tensor_free(y);
    ml_tensor_free(a);
    ml_tensor_free(b);
}

/* ---------------- encoders ---------------- */

static void test_label_encoder_v1_v2(void) {
    ml_str classes[] = {S("x"), S("y"), S("z")};
    ml_attr a[] = {attr_strings("classes_strings", classes, 3),
                   ml_test_attr_int("default_int64", 42),
                   ml_test_attr_string("default_string", "??")};
    int64_t d[1] = {3};
    ml_tensor *xs = ml_test_strings(1, d, (const char *const[]){"z", "q", "x"}), *y = NULL;
    CHECK_OK(ml_test_run(ML, "LabelEncoder", 1, a, 3, 1, IN(xs), 1, &y));
    if (y) {
        CHECK_EQ_INT(i_at(y, 0), 2);
        CHECK_EQ_INT(i_at(y, 1), 42);
        CHECK_EQ_INT(i_at(y, 2), 0);
    }
    ml_tensor_free(y);
    ml_tensor *xi = ml_test_i64(1, d, (int64_t[]){1, 5, -1});
    CHECK_OK(ml_test_run(ML, "LabelEncoder", 1, a, 3, 1, IN(xi), 1, &y));
    if (y) {
        CHECK_STR(str_at(y, 0), "y");
        CHECK_STR(str_at(y, 1), "??");
        CHECK_STR(str_at(y, 2), "??");
    }
    ml_tensor_free(y);
    /* v2: float keys -> string values, NaN key, default */
    float kf[] = {1.5f, NAN, -2};
    ml_str vs[] = {S("one"), S("nan"), S("neg")};
    ml_attr b[] = {ml_test_attr_floats("keys_floats", kf, 3),
                   attr_strings("values_strings", vs, 3)};
    ml_tensor *xf = ml_test_f32(1, d, (float[]){NAN, -2, 0});
    CHECK_OK(ml_test_run(ML, "LabelEncoder", 2, b, 2, 1, IN(xf), 1, &y));
    if (y) {
        CHECK_STR(str_at(y, 0), "nan");
        CHECK_STR(str_at(y, 1), "neg");
        CHECK_STR(str_at(y, 2), "_Unused");
    }
    ml_tensor_free(y);
    /* v2: string keys -> float values, default -0.0 */
    float vf[] = {0.5f, 1.5f, 2.5f};
    ml_attr c[] = {attr_strings("keys_strings", classes, 3),
                   ml_test_attr_floats("values_floats", vf, 3)};
    CHECK_OK(ml_test_run(ML, "LabelEncoder", 2, c, 2, 1, IN(xs), 1, &y));
    if (y) {
        CHECK(y->dtype == ML_FLOAT);
        CHECK_NEAR(f_at(y, 0), 2.5, 0);
        CHECK(f_at(y, 1) == 0 && signbit(f_at(y, 1)));
    }
    ml_tensor_free(y);
    /* mismatched input type */
    CHECK_ERR(ml_test_run(ML, "LabelEncoder", 2, c, 2, 1, IN(xi), 1, &y), ML_ERR_INVALID_ARGUMENT);
    /* both key forms present */
    ml_attr bad[] = {attr_strings("keys_strings", classes, 3),
                     ml_test_attr_floats("keys_floats", kf, 3),
                     ml_test_attr_floats("values_floats", vf, 3)};
    CHECK_ERR(ml_test_run(ML, "LabelEncoder", 2, bad, 3, 1, IN(xs), 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    ml_tensor_free(xs);
    ml_tensor_free(xi);
    ml_tensor_free(xf);
}

static void test_label_encoder_v4_tensors(void) {
    int64_t d2[1] = {2}, d1[1] = {1};
    ml_tensor *keys = ml_test_tensor(ML_INT32, 1, d2, (int32_t[]){3, 9});
    ml_tensor *vals = ml_test_tensor(ML_DOUBLE, 1, d2, (double[]){0.25, 0.75});
    ml_tensor *def = ml_test_tensor(ML_DOUBLE, 1, d1, (double[]){-9});
    ml_attr a[] = {ml_test_attr_tensor("keys_tensor", keys),
                   ml_test_attr_tensor("values_tensor", vals),
                   ml_test_attr_tensor("default_tensor", def)};
    int64_t d3[1] = {3};
    ml_tensor *x = ml_test_tensor(ML_INT32, 1, d3, (int32_t[]){9, 4, 3}), *y = NULL;
    CHECK_OK(ml_test_run(ML, "LabelEncoder", 4, a, 3, 1, IN(x), 1, &y));
    if (y) {
        CHECK(y->dtype == ML_DOUBLE);
        CHECK_NEAR(((double *)y->data)[0], 0.75, 0);
        CHECK_NEAR(((double *)y->data)[1], -9, 0);
        CHECK_NEAR(((double *)y->data)[2], 0.25, 0);
    }
    ml_tensor_free(y);
    ml_tensor_free(x);
    ml_tensor_free(keys);
    ml_tensor_free(vals);
    ml_tensor_free(def);
}

static void test_category_mapper_one_hot(void) {
    ml_str cs[] = {S("red"), S("green")};
    int64_t ci[] = {5, 6};
    ml_attr a[] = {attr_strings("cats_strings", cs, 2), ml_test_attr_ints("cats_int64s", ci, 2)};
    int64_t d[1] = {3};
    ml_tensor *xs = ml_test_strings(1, d, (const char *const[]){"green", "blue", "red"}), *y = NULL;
    CHECK_OK(ml_test_run(ML, "CategoryMapper", 1, a, 2, 1, IN(xs), 1, &y));
    if (y) {
        CHECK_EQ_INT(i_at(y, 0), 6);
        CHECK_EQ_INT(i_at(y, 1), -1);
        CHECK_EQ_INT(i_at(y, 2), 5);
    }
    ml_tensor_free(y);
    ml_tensor *xi = ml_test_i64(1, d, (int64_t[]){5, 7, 6});
    CHECK_OK(ml_test_run(ML, "CategoryMapper", 1, a, 2, 1, IN(xi), 1, &y));
    if (y) {
        CHECK_STR(str_at(y, 0), "red");
        CHECK_STR(str_at(y, 1), "_Unused");
    }
    ml_tensor_free(y);
    /* OneHotEncoder: strings, unknowns give zeros */
    ml_attr o[] = {attr_strings("cats_strings", cs, 2)};
    CHECK_OK(ml_test_run(ML, "OneHotEncoder", 1, o, 1, 1, IN(xs), 1, &y));
    if (y) {
        CHECK(y->rank == 2 && y->dims[0] == 3 && y->dims[1] == 2);
        float e[] = {0, 1, 0, 0, 1, 0};
        for (int i = 0; i < 6; i++) CHECK_NEAR(f_at(y, (size_t)i), e[i], 0);
    }
    ml_tensor_free(y);
    ml_attr oz[] = {attr_strings("cats_strings", cs, 2), ml_test_attr_int("zeros", 0)};
    CHECK_ERR(ml_test_run(ML, "OneHotEncoder", 1, oz, 2, 1, IN(xs), 1, &y),
              ML_ERR_INVALID_ARGUMENT);
    /* int categories with double input */
    ml_attr oi[] = {ml_test_attr_ints("cats_int64s", ci, 2)};
    ml_tensor *xd = ml_test_tensor(ML_DOUBLE, 1, d, (double[]){6, 5, 1});
    CHECK_OK(ml_test_run(ML, "OneHotEncoder", 1, oi, 1, 1, IN(xd), 1, &y));
    if (y) {
        CHECK_NEAR(f_at(y, 1), 1, 0);
        CHECK_NEAR(f_at(y, 2), 1, 0);
        CHECK_NEAR(f_at(y, 4) + f_at(y, 5), 0, 0);
    }
    ml_tensor_free(y);
    ml_tensor_free(xd);
    ml_tensor_free(xs);
    ml_tensor_free(xi);
}

/* ---------------- maps (values that are not tensors) ---------------- */

static ml_status env_alloc(ml_kernel_ctx *ctx, size_t i, ml_dtype dt, int rank, const int64_t *dims,
                           ml_tensor **out) {
    ml_tensor *t;
    ML_TRY(ml_tensor_create(dt, rank, dims, &t));
    ml_value *v;
    ML_TRY(ml_value_from_tensor(t, &v));
    ML_TRY(ml_set_output(ctx, i, v));
    *out = t;
    return ML_STATUS_OK;
}
static const ml_kernel_env env = {env_alloc, NULL};

/* Runs an ml op on values; *out receives output 0 (caller frees). */
static ml_status run_value_pool(const char *op, const ml_attr *attrs, size_t n_attrs, ml_value *in,
                                ml_value **out, ml_threadpool *pool) {
    const ml_kernel *k = ml_find_kernel(ML, op, 1);
    if (!k) return ml_error(ML_ERR_UNSUPPORTED, "no %s", op);
    const char *names[1] = {"x"}, *onames[1] = {"y"};
    const ml_tensor *consts[1] = {NULL};
    ml_node node = {.name = "t",
                    .op_type = op,
                    .domain = ML,
                    .opset = 1,
                    .n_inputs = 1,
                    .input_names = names,
                    .n_outputs = 1,
                    .output_names = onames,
                    .n_attrs = n_attrs,
                    .attrs = (ml_attr *)attrs,
                    .const_inputs = consts,
                    .kernel = k};
    ml_status st = k->init ? k->init(&node, &node.state) : NULL;
    ml_value *outs[1] = {NULL};
    if (!st) {
        ml_kernel_ctx ctx = {.node = &node,
                             .n_inputs = 1,
                             .inputs = &in,
                             .n_outputs = 1,
                             .outputs = outs,
                             .pool = pool,
                             .env = &env};
        st = k->run(&ctx);
    }
    if (k->destroy && node.state) k->destroy(node.state);
    *out = outs[0];
    return st;
}

static ml_status run_value(const char *op, const ml_attr *attrs, size_t n_attrs, ml_value *in,
                           ml_value **out) {
    return run_value_pool(op, attrs, n_attrs, in, out, NULL);
}

/* A small batch over many trees splits the trees across the pool; the
 * merged result must equal the single-threaded one for every aggregate. */
static void test_tree_split_across_threads(void) {
    enum { T = 40 };
    int64_t tid[3 * T], nid[3 * T], fid[3 * T], tr[3 * T], fa[3 * T], wt[2 * T], wn[2 * T],
        wi[2 * T];
    float val[3 * T], ww[2 * T];
    ml_str modes[3 * T];
    for (int t = 0; t < T; t++) {
        for (int k = 0; k < 3; k++) {
            tid[3 * t + k] = t;
            nid[3 * t + k] = k;
            fid[3 * t + k] = t % 2;
            val[3 * t + k] = (float)(t % 5) * 0.25f;
            tr[3 * t + k] = k == 0 ? 1 : 0;
            fa[3 * t + k] = k == 0 ? 2 : 0;
            modes[3 * t + k] = k == 0 ? S("BRANCH_LEQ") : S("LEAF");
        }
        for (int k = 0; k < 2; k++) {
            wt[2 * t + k] = t;
            wn[2 * t + k] = k + 1;
            wi[2 * t + k] = (t + k) % 2;
            ww[2 * t + k] = (float)((t * 7 + k * 3) % 11) - 5;
        }
    }
    const char *aggs[] = {"SUM", "AVERAGE", "MIN", "MAX"};
    ml_threadpool *pool = NULL;
    CHECK_OK(ml_threadpool_create(3, &pool));
    for (int g = 0; g < 4; g++) {
        ml_attr a[] = {ml_test_attr_ints("nodes_treeids", tid, 3 * T),
                       ml_test_attr_ints("nodes_nodeids", nid, 3 * T),
                       ml_test_attr_ints("nodes_featureids", fid, 3 * T),
                       ml_test_attr_floats("nodes_values", val, 3 * T),
                       ml_test_attr_ints("nodes_truenodeids", tr, 3 * T),
                       ml_test_attr_ints("nodes_falsenodeids", fa, 3 * T),
                       attr_strings("nodes_modes", modes, 3 * T),
                       ml_test_attr_ints("target_treeids", wt, 2 * T),
                       ml_test_attr_ints("target_nodeids", wn, 2 * T),
                       ml_test_attr_ints("target_ids", wi, 2 * T),
                       ml_test_attr_floats("target_weights", ww, 2 * T),
                       ml_test_attr_int("n_targets", 2),
                       ml_test_attr_string("aggregate_function", aggs[g])};
        int64_t d[2] = {3, 2};
        ml_tensor *x = ml_test_f32(2, d, (float[]){0, 1, 0.6f, 0.3f, 2, -1});
        ml_value *in = NULL, *one = NULL, *many = NULL;
        CHECK_OK(ml_value_from_tensor(x, &in));
        CHECK_OK(run_value_pool("TreeEnsembleRegressor", a, 13, in, &one, NULL));
        CHECK_OK(run_value_pool("TreeEnsembleRegressor", a, 13, in, &many, pool));
        if (one && many)
            for (size_t i = 0; i < 6; i++)
                CHECK_NEAR(f_at(one->tensor, i), f_at(many->tensor, i), 1e-5);
        ml_value_free(one);
        ml_value_free(many);
        ml_value_free(in);
    }
    ml_threadpool_destroy(pool);
}

static void test_zipmap(void) {
    int64_t d[2] = {2, 3};
    ml_tensor *x = ml_test_f32(2, d, (float[]){.1f, .2f, .7f, .5f, .5f, 0});
    ml_value *in, *out = NULL;
    CHECK_OK(ml_value_from_tensor(x, &in));
    ml_str labels[] = {S("a"), S("b"), S("c")};
    ml_attr a = attr_strings("classlabels_strings", labels, 3);
    CHECK_OK(run_value("ZipMap", &a, 1, in, &out));
    CHECK(out && out->kind == ML_VALUE_SEQUENCE && out->n_items == 2);
    if (out && out->n_items == 2) {
        ml_value *m = out->items[1];
        CHECK(m->kind == ML_VALUE_MAP && m->keys->dtype == ML_STRING);
        CHECK_STR(str_at(m->keys, 2), "c");
        CHECK_NEAR(f_at(m->values, 0), 0.5, 1e-7);
        CHECK_NEAR(f_at(out->items[0]->values, 2), 0.7, 1e-7);
    }
    ml_value_free(out);
    out = NULL;
    /* label count must match the columns */
    int64_t il[] = {1, 2};
    ml_attr b = ml_test_attr_ints("classlabels_int64s", il, 2);
    CHECK_ERR(run_value("ZipMap", &b, 1, in, &out), ML_ERR_INVALID_ARGUMENT);
    ml_value_free(out);
    ml_value_free(in);
}

static void test_dict_vectorizer(void) {
    int64_t d[1] = {3};
    ml_tensor *k = ml_test_strings(1, d, (const char *const[]){"b", "zz", "a"});
    ml_tensor *v = ml_test_tensor(ML_DOUBLE, 1, d, (double[]){2, 9, 1});
    ml_value *m, *out = NULL;
    CHECK_OK(ml_value_new_map(k, v, &m));
    ml_str vocab[] = {S("a"), S("b"), S("c")};
    ml_attr a = attr_strings("string_vocabulary", vocab, 3);
    CHECK_OK(run_value("DictVectorizer", &a, 1, m, &out));
    CHECK(out && out->kind == ML_VALUE_TENSOR);
    if (out && out->tensor) {
        const ml_tensor *y = out->tensor;
        CHECK(y->dtype == ML_DOUBLE && y->rank == 2 && y->dims[0] == 1 && y->dims[1] == 3);
        const double *o = y->data;
        CHECK_NEAR(o[0], 1, 0);
        CHECK_NEAR(o[1], 2, 0);
        CHECK_NEAR(o[2], 0, 0);
    }
    ml_value_free(out);
    out = NULL;
    /* int64 vocabulary rejects string keys */
    int64_t iv[] = {1, 2};
    ml_attr b = ml_test_attr_ints("int64_vocabulary", iv, 2);
    CHECK_ERR(run_value("DictVectorizer", &b, 1, m, &out), ML_ERR_INVALID_ARGUMENT);
    ml_value_free(out);
    ml_value_free(m);
}

static void test_cast_map(void) {
    int64_t d[1] = {3};
    ml_tensor *k = ml_test_i64(1, d, (int64_t[]){4, 1, 2});
    ml_tensor *v = ml_test_strings(1, d, (const char *const[]){"4.5", "1", "-2"});
    ml_value *m, *out = NULL;
    CHECK_OK(ml_value_new_map(k, v, &m));
    /* DENSE, ordered by key: 1, 2, 4 */
    CHECK_OK(run_value("CastMap", NULL, 0, m, &out));
    if (out && out->tensor) {
        CHECK(out->tensor->dims[0] == 1 && out->tensor->dims[1] == 3);
        CHECK_NEAR(f_at(out->tensor, 0), 1, 0);
        CHECK_NEAR(f_at(out->tensor, 1), -2, 0);
        CHECK_NEAR(f_at(out->tensor, 2), 4.5, 0);
    }
    ml_value_free(out);
    out = NULL;
    /* SPARSE into max_map columns, int64 */
    ml_attr a[] = {ml_test_attr_string("map_form", "SPARSE"), ml_test_attr_int("max_map", 6),
                   ml_test_attr_string("cast_to", "TO_INT64")};
    CHECK_OK(run_value("CastMap", a, 3, m, &out));
    if (out && out->tensor) {
        CHECK(out->tensor->dims[1] == 6);
        int64_t e[] = {0, 1, -2, 0, 4, 0};
        for (int i = 0; i < 6; i++) CHECK_EQ_INT(i_at(out->tensor, (size_t)i), e[i]);
    }
    ml_value_free(out);
    out = NULL;
    /* a key beyond max_map is an error, not a write out of bounds */
    a[1] = ml_test_attr_int("max_map", 3);
    CHECK_ERR(run_value("CastMap", a, 3, m, &out), ML_ERR_INVALID_ARGUMENT);
    ml_value_free(out);
    out = NULL;
    /* non-numeric string */
    CHECK_OK(ml_tensor_set_string(v, 0, "abc", 3));
    CHECK_ERR(run_value("CastMap", NULL, 0, m, &out), ML_ERR_INVALID_ARGUMENT);
    ml_value_free(out);
    ml_value_free(m);
}

/* Random (mostly invalid) ensembles: load must reject or accept them
 * cleanly and evaluation must stay in bounds (run under ASan in CI's
 * sanitizer build). */
static uint32_t lcg(uint32_t *state) {
    *state = *state * 1664525u + 1013904223u;
    return *state >> 8;
}

static void test_tree_random_structures(void) {
    static const char *const mode_names[] = {"BRANCH_LEQ", "BRANCH_LT",  "BRANCH_GTE", "BRANCH_GT",
                                             "BRANCH_EQ",  "BRANCH_NEQ", "LEAF"};
    uint32_t seed = 12345;
    int loaded = 0;
    for (int iter = 0; iter < 400; iter++) {
        enum { MAXN = 12 };
        int64_t tid[MAXN], nid[MAXN], fid[MAXN], tr[MAXN], fa[MAXN], nt[MAXN], wt[MAXN], wn[MAXN],
            wi[MAXN];
        float val[MAXN], ww[MAXN];
        ml_str modes[MAXN];
        size_t n = 1 + lcg(&seed) % MAXN, nw = lcg(&seed) % MAXN;
        for (size_t i = 0; i < n; i++) {
            tid[i] = lcg(&seed) % 2;
            nid[i] = (int64_t)(lcg(&seed) % (n + 1));
            fid[i] = lcg(&seed) % 4;
            tr[i] = (int64_t)(lcg(&seed) % (n + 2)) - 1;
            fa[i] = (int64_t)(lcg(&seed) % (n + 2)) - 1;
            nt[i] = lcg(&seed) % 2;
            val[i] = (float)(lcg(&seed) % 5) - 2;
            modes[i] = S(mode_names[lcg(&seed) % 7]);
        }
        for (size_t i = 0; i < nw; i++) {
            wt[i] = lcg(&seed) % 2;
            wn[i] = (int64_t)(lcg(&seed) % (n + 1));
            wi[i] = (int64_t)(lcg(&seed) % 4) - 1;
            ww[i] = (float)(lcg(&seed) % 7);
        }
        if (iter % 2 == 0) { /* a valid heap-shaped tree with random modes and weights */
            for (size_t i = 0; i < n; i++) {
                bool leaf = 2 * i + 2 >= n;
                tid[i] = 0;
                nid[i] = (int64_t)i;
                tr[i] = leaf ? 0 : (int64_t)(2 * i + 1);
                fa[i] = leaf ? 0 : (int64_t)(2 * i + 2);
                if (leaf)
                    modes[i] = S("LEAF");
                else if (modes[i].len == 4)
                    modes[i] = S("BRANCH_GT");
            }
            nw = 0;
            for (size_t i = 0; i < n; i++)
                if (2 * i + 2 >= n) {
                    wt[nw] = 0;
                    wn[nw] = (int64_t)i;
                    wi[nw] = lcg(&seed) % 3;
                    ww[nw++] = (float)(lcg(&seed) % 7);
                }
        }
        ml_attr a[] = {ml_test_attr_ints("nodes_treeids", tid, n),
                       ml_test_attr_ints("nodes_nodeids", nid, n),
                       ml_test_attr_ints("nodes_featureids", fid, n),
                       ml_test_attr_floats("nodes_values", val, n),
                       ml_test_attr_ints("nodes_truenodeids", tr, n),
                       ml_test_attr_ints("nodes_falsenodeids", fa, n),
                       ml_test_attr_ints("nodes_missing_value_tracks_true", nt, n),
                       attr_strings("nodes_modes", modes, n),
                       ml_test_attr_ints("target_treeids", wt, nw),
                       ml_test_attr_ints("target_nodeids", wn, nw),
                       ml_test_attr_ints("target_ids", wi, nw),
                       ml_test_attr_floats("target_weights", ww, nw),
                       ml_test_attr_int("n_targets", 3)};
        int64_t d[2] = {40, 3};
        float x[120];
        for (int i = 0; i < 120; i++) x[i] = i % 7 == 0 ? NAN : (float)(lcg(&seed) % 9) * 0.5f - 2;
        double xd[120];
        for (int i = 0; i < 120; i++) xd[i] = x[i];
        /* every other valid tree runs on double features (the double node form) */
        ml_tensor *xt = iter % 4 == 2 ? ml_test_tensor(ML_DOUBLE, 2, d, xd) : ml_test_f32(2, d, x);
        ml_tensor *y = NULL;
        ml_status st = ml_test_run(ML, "TreeEnsembleRegressor", 1, a, 13, 1, IN(xt), 1, &y);
        if (!st) {
            loaded++;
            CHECK(y && y->dims[0] == 40 && y->dims[1] == 3);
        }
        CHECK(!st || ml_status_code(st) == ML_ERR_INVALID_ARGUMENT);
        ml_status_free(st);
        ml_tensor_free(y);
        ml_tensor_free(xt);
    }
    CHECK(loaded > 0); /* some random ensembles are valid and ran */

    /* the same for TreeEnsemble (ml opset 5): random children, leaves, modes */
    int loaded5 = 0;
    for (int iter = 0; iter < 300; iter++) {
        enum { N5 = 6, L5 = 4 };
        int64_t feat[N5], tid[N5], tl[N5], fid[N5], fl[N5], tgt[L5], roots[2];
        uint8_t modes[N5];
        float splits[N5], weights[L5];
        for (int i = 0; i < N5; i++) {
            feat[i] = lcg(&seed) % 3;
            tl[i] = lcg(&seed) % 2;
            fl[i] = lcg(&seed) % 2;
            tid[i] = (int64_t)(lcg(&seed) % (N5 + 1)) - (iter % 3 ? 0 : 1);
            fid[i] = (int64_t)(lcg(&seed) % (N5 + 1)) - (iter % 3 ? 0 : 1);
            if (tl[i]) tid[i] %= L5;
            if (fl[i]) fid[i] %= L5;
            if (iter % 2 && !tl[i] && tid[i] <= i) tl[i] = 1, tid[i] = i % L5; /* mostly acyclic */
            if (iter % 2 && !fl[i] && fid[i] <= i) fl[i] = 1, fid[i] = (i + 1) % L5;
            modes[i] = (uint8_t)(lcg(&seed) % 6);
            splits[i] = (float)(lcg(&seed) % 5) - 2;
        }
        for (int k = 0; k < L5; k++) {
            tgt[k] = lcg(&seed) % 2;
            weights[k] = (float)k;
        }
        roots[0] = 0;
        roots[1] = (int64_t)(lcg(&seed) % (N5 + 1));
        int64_t dn[1] = {N5}, dl[1] = {L5};
        ml_tensor *mt = ml_test_tensor(ML_UINT8, 1, dn, modes);
        ml_tensor *st_ = ml_test_f32(1, dn, splits), *wt_ = ml_test_f32(1, dl, weights);
        ml_attr a[] = {ml_test_attr_int("n_targets", 2),
                       ml_test_attr_ints("tree_roots", roots, 2),
                       ml_test_attr_tensor("nodes_modes", mt),
                       ml_test_attr_ints("nodes_featureids", feat, N5),
                       ml_test_attr_tensor("nodes_splits", st_),
                       ml_test_attr_ints("nodes_truenodeids", tid, N5),
                       ml_test_attr_ints("nodes_trueleafs", tl, N5),
                       ml_test_attr_ints("nodes_falsenodeids", fid, N5),
                       ml_test_attr_ints("nodes_falseleafs", fl, N5),
                       ml_test_attr_ints("leaf_targetids", tgt, L5),
                       ml_test_attr_tensor("leaf_weights", wt_)};
        int64_t d[2] = {5, 3};
        ml_tensor *xt =
            ml_test_f32(2, d, (float[]){0, 1, 2, -1, NAN, 3, 2, 2, 2, -2, 0, 1, 1, 1, 1});
        ml_tensor *y = NULL;
        ml_status st = ml_test_run(ML, "TreeEnsemble", 5, a, 11, 1, IN(xt), 1, &y);
        if (!st) loaded5++;
        CHECK(!st || ml_status_code(st) == ML_ERR_INVALID_ARGUMENT);
        ml_status_free(st);
        ml_tensor_free(y);
        ml_tensor_free(xt);
        ml_tensor_free(mt);
        ml_tensor_free(st_);
        ml_tensor_free(wt_);
    }
    CHECK(loaded5 > 0);
}

int main(void) {
    RUN(test_tree_regressor_aggregates);
    RUN(test_tree_regressor_opset3_tensors_and_double_input);
    RUN(test_tree_hostile_structure);
    RUN(test_tree_classifier_multiclass);
    RUN(test_tree_classifier_binary_logistic);
    RUN(test_tree_float_fast_path_matches_double);
    RUN(test_tree_ensemble_v5);
    RUN(test_tree_random_structures);
    RUN(test_linear_classifier);
    RUN(test_linear_regressor);
    RUN(test_svm_regressor_rbf_and_linear);
    RUN(test_svm_classifier_ovo);
    RUN(test_svm_classifier_binary_proba);
    RUN(test_scaler_normalizer_binarizer);
    RUN(test_imputer);
    RUN(test_array_feature_extractor);
    RUN(test_feature_vectorizer);
    RUN(test_label_encoder_v1_v2);
    RUN(test_label_encoder_v4_tensors);
    RUN(test_category_mapper_one_hot);
    RUN(test_tree_split_across_threads);
    RUN(test_zipmap);
    RUN(test_dict_vectorizer);
    RUN(test_cast_map);
    return TEST_SUMMARY();
}
