#!/usr/bin/python3
"""Builds the small ai.onnx.ml test models in tests/models/ from trained
scikit-learn estimators, with sklearn's own predictions as the expected
outputs.

skl2onnx is not available, so each graph is written with onnx.helper from
the fitted estimator's parameters (the same mapping skl2onnx uses). Every
case is a folder in the ONNX backend-test layout:

    tests/models/cases/<case>/model.onnx
    tests/models/cases/<case>/test_data_set_0/input_K.pb, output_K.pb

so the conformance runner checks them:
    build/tests/onnx/onnx_conformance --data tests/models/cases
The ZipMap model (a sequence-of-maps output, which the backend-test data
format reader does not cover) is tests/models/zipmap/ with its inputs and
expected outputs as text, checked by tests/models/test_ml_models.c.

Needs python3-onnx, python3-numpy and python3-sklearn (Debian packages).
The generated files are small and committed, so the tests run without
sklearn; rerun this script only to change the models.
"""
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from sklearn.datasets import load_iris, make_classification, make_regression
from sklearn.ensemble import (GradientBoostingClassifier, GradientBoostingRegressor,
                              RandomForestClassifier, RandomForestRegressor)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.preprocessing import Binarizer, Normalizer, OneHotEncoder, StandardScaler
from sklearn.svm import SVC, SVR

MODELS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "models")
ROOT = os.path.join(MODELS, "cases")
ML = "ai.onnx.ml"


def save_case(name, graph, inputs, outputs, ml_opset=1, onnx_opset=13, seq_outputs=(), check=True):
    """Writes model + one data set. inputs/outputs: lists of numpy arrays (or,
    for seq_outputs indexes, lists of dicts = sequence of maps)."""
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", onnx_opset), helper.make_opsetid(ML, ml_opset)],
        producer_name="mlambda-make_ml_models",
    )
    model.ir_version = 8
    if check:  # python3-onnx 1.12 knows neither opset 20 nor ml opsets 4/5
        onnx.checker.check_model(model)
    d = os.path.join(ROOT, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(os.path.join(d, "test_data_set_0"))
    onnx.save(model, os.path.join(d, "model.onnx"))
    for i, a in enumerate(inputs):
        t = numpy_helper.from_array(a, graph.input[i].name)
        with open(os.path.join(d, "test_data_set_0", f"input_{i}.pb"), "wb") as f:
            f.write(t.SerializeToString())
    for i, a in enumerate(outputs):
        if i in seq_outputs:
            seq = onnx.SequenceProto()
            seq.name = graph.output[i].name
            seq.elem_type = onnx.SequenceProto.MAP
            for m in a:
                seq.map_values.append(numpy_helper.from_dict(m, ""))
            data = seq.SerializeToString()
        else:
            data = numpy_helper.from_array(a, graph.output[i].name).SerializeToString()
        with open(os.path.join(d, "test_data_set_0", f"output_{i}.pb"), "wb") as f:
            f.write(data)
    print(f"{name}: {os.path.getsize(os.path.join(d, 'model.onnx'))} bytes")


def tensor_in(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


# ---------------------------------------------------------------- trees

def tree_nodes(trees, double_thresholds):
    """Flattens sklearn trees into the nodes_* attributes; returns
    (attrs, leaves) where leaves lists (tree_id, node_id, tree, node)."""
    a = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values",
                         "nodes_modes", "nodes_truenodeids", "nodes_falsenodeids")}
    leaves = []
    for tid, est in enumerate(trees):
        t = est.tree_
        for nid in range(t.node_count):
            leaf = t.children_left[nid] == -1
            a["nodes_treeids"].append(tid)
            a["nodes_nodeids"].append(nid)
            a["nodes_featureids"].append(0 if leaf else int(t.feature[nid]))
            a["nodes_values"].append(0.0 if leaf else float(t.threshold[nid]))
            a["nodes_modes"].append("LEAF" if leaf else "BRANCH_LEQ")
            a["nodes_truenodeids"].append(0 if leaf else int(t.children_left[nid]))
            a["nodes_falsenodeids"].append(0 if leaf else int(t.children_right[nid]))
            if leaf:
                leaves.append((tid, nid, t, nid))
    if double_thresholds:
        # opset 3: exact double thresholds (sklearn compares float32 X to double)
        vals = a.pop("nodes_values")
        a["nodes_values_as_tensor"] = numpy_helper.from_array(np.array(vals, dtype=np.float64), "")
    return a


def rf_iris():
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    rf = RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0).fit(X, y)
    a = tree_nodes(rf.estimators_, False)
    ct, cn, ci, cw = [], [], [], []
    for tid, est in enumerate(rf.estimators_):
        t = est.tree_
        for nid in range(t.node_count):
            if t.children_left[nid] != -1:
                continue
            v = t.value[nid, 0]
            p = v / v.sum()
            for k in range(len(p)):
                ct.append(tid)
                cn.append(nid)
                ci.append(k)
                cw.append(float(p[k] / len(rf.estimators_)))
    node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"], domain=ML,
                            class_treeids=ct, class_nodeids=cn, class_ids=ci, class_weights=cw,
                            classlabels_int64s=[0, 1, 2], post_transform="NONE", **a)
    g = helper.make_graph([node], "rf_iris", [tensor_in("X", TensorProto.FLOAT, ["N", 4])],
                          [tensor_in("label", TensorProto.INT64, ["N"]),
                           tensor_in("probabilities", TensorProto.FLOAT, ["N", 3])])
    Xt = X[::5]
    save_case("ml_rf_iris", g, [Xt], [rf.predict(Xt).astype(np.int64),
                                      rf.predict_proba(Xt).astype(np.float32)])


def gb_binary():
    X, y = make_classification(n_samples=200, n_features=6, random_state=1)
    X = X.astype(np.float32)
    gb = GradientBoostingClassifier(n_estimators=12, max_depth=2, learning_rate=0.3,
                                    random_state=0).fit(X, y)
    trees = [e[0] for e in gb.estimators_]
    a = tree_nodes(trees, True)
    ct, cn, ci, cw = [], [], [], []
    for tid, est in enumerate(trees):
        t = est.tree_
        for nid in range(t.node_count):
            if t.children_left[nid] == -1:
                ct.append(tid)
                cn.append(nid)
                ci.append(0)
                cw.append(float(t.value[nid, 0, 0] * gb.learning_rate))
    base = float(gb._raw_predict_init(X[:1])[0, 0])
    node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"], domain=ML,
                            class_treeids=ct, class_nodeids=cn, class_ids=ci,
                            class_weights_as_tensor=numpy_helper.from_array(
                                np.array(cw, dtype=np.float64), ""),
                            base_values_as_tensor=numpy_helper.from_array(
                                np.array([base], dtype=np.float64), ""),
                            classlabels_int64s=[0, 1], post_transform="LOGISTIC", **a)
    g = helper.make_graph([node], "gb_binary", [tensor_in("X", TensorProto.FLOAT, ["N", 6])],
                          [tensor_in("label", TensorProto.INT64, ["N"]),
                           tensor_in("probabilities", TensorProto.FLOAT, ["N", 2])])
    Xt = X[:40]
    save_case("ml_gb_binary", g, [Xt], [gb.predict(Xt).astype(np.int64),
                                        gb.predict_proba(Xt).astype(np.float32)], ml_opset=3)


def gb_multiclass():
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    labels = np.array(["setosa", "versicolor", "virginica"])
    gb = GradientBoostingClassifier(n_estimators=6, max_depth=2, random_state=0).fit(X, labels[y])
    trees, cls = [], []
    for row in gb.estimators_:
        for k, e in enumerate(row):
            trees.append(e)
            cls.append(k)
    a = tree_nodes(trees, True)
    ct, cn, ci, cw = [], [], [], []
    for tid, est in enumerate(trees):
        t = est.tree_
        for nid in range(t.node_count):
            if t.children_left[nid] == -1:
                ct.append(tid)
                cn.append(nid)
                ci.append(cls[tid])
                cw.append(float(t.value[nid, 0, 0] * gb.learning_rate))
    base = gb._raw_predict_init(X[:1])[0].astype(np.float64)
    node = helper.make_node("TreeEnsembleClassifier", ["X"], ["label", "probabilities"], domain=ML,
                            class_treeids=ct, class_nodeids=cn, class_ids=ci, class_weights=cw,
                            base_values_as_tensor=numpy_helper.from_array(base, ""),
                            classlabels_strings=list(labels), post_transform="SOFTMAX", **a)
    g = helper.make_graph([node], "gb_multiclass", [tensor_in("X", TensorProto.FLOAT, ["N", 4])],
                          [tensor_in("label", TensorProto.STRING, ["N"]),
                           tensor_in("probabilities", TensorProto.FLOAT, ["N", 3])])
    Xt = X[::6]
    save_case("ml_gb_multiclass", g, [Xt], [gb.predict(Xt).astype(object),
                                            gb.predict_proba(Xt).astype(np.float32)], ml_opset=3)


def gb_regressor():
    X, y = make_regression(n_samples=150, n_features=5, noise=3.0, random_state=2)
    X = X.astype(np.float32)
    gb = GradientBoostingRegressor(n_estimators=15, max_depth=3, random_state=0).fit(X, y)
    trees = [e[0] for e in gb.estimators_]
    a = tree_nodes(trees, True)
    tt, tn, ti, tw = [], [], [], []
    for tid, est in enumerate(trees):
        t = est.tree_
        for nid in range(t.node_count):
            if t.children_left[nid] == -1:
                tt.append(tid)
                tn.append(nid)
                ti.append(0)
                tw.append(float(t.value[nid, 0, 0] * gb.learning_rate))
    base = float(gb._raw_predict_init(X[:1])[0, 0])
    node = helper.make_node("TreeEnsembleRegressor", ["X"], ["variable"], domain=ML, n_targets=1,
                            target_treeids=tt, target_nodeids=tn, target_ids=ti,
                            target_weights_as_tensor=numpy_helper.from_array(
                                np.array(tw, dtype=np.float64), ""),
                            base_values=[base], aggregate_function="SUM", **a)
    g = helper.make_graph([node], "gb_regressor", [tensor_in("X", TensorProto.FLOAT, ["N", 5])],
                          [tensor_in("variable", TensorProto.FLOAT, ["N", 1])])
    Xt = X[:30]
    save_case("ml_gb_regressor", g, [Xt], [gb.predict(Xt).astype(np.float32).reshape(-1, 1)],
              ml_opset=3)


def rf_regressor_average():
    X, y = make_regression(n_samples=120, n_features=4, n_targets=2, noise=2.0, random_state=9)
    X = X.astype(np.float32)
    rf = RandomForestRegressor(n_estimators=4, max_depth=5, random_state=0).fit(X, y)
    a = tree_nodes(rf.estimators_, True)
    tt, tn, ti, tw = [], [], [], []
    for tid, est in enumerate(rf.estimators_):
        t = est.tree_
        for nid in range(t.node_count):
            if t.children_left[nid] == -1:
                for k in range(2):
                    tt.append(tid)
                    tn.append(nid)
                    ti.append(k)
                    tw.append(float(t.value[nid, k, 0]))
    node = helper.make_node("TreeEnsembleRegressor", ["X"], ["variable"], domain=ML, n_targets=2,
                            target_treeids=tt, target_nodeids=tn, target_ids=ti, target_weights=tw,
                            aggregate_function="AVERAGE", **a)
    g = helper.make_graph([node], "rf_regressor", [tensor_in("X", TensorProto.FLOAT, ["N", 4])],
                          [tensor_in("variable", TensorProto.FLOAT, ["N", 2])])
    Xt = X[:25]
    save_case("ml_rf_regressor_average", g, [Xt], [rf.predict(Xt).astype(np.float32)], ml_opset=3)


# ---------------------------------------------------------------- linear

def logreg_multiclass_zipmap():
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    lr = LogisticRegression(max_iter=500).fit(X, y)
    n1 = helper.make_node("LinearClassifier", ["X"], ["label", "probabilities"], domain=ML,
                          coefficients=lr.coef_.ravel().tolist(), intercepts=lr.intercept_.tolist(),
                          classlabels_ints=[0, 1, 2], multi_class=1, post_transform="SOFTMAX")
    n2 = helper.make_node("ZipMap", ["probabilities"], ["output_probability"], domain=ML,
                          classlabels_int64s=[0, 1, 2])
    seq_map = onnx.TypeProto()  # seq(map(int64, float)); onnx 1.12 has no helper for maps
    seq_map.sequence_type.elem_type.map_type.key_type = TensorProto.INT64
    seq_map.sequence_type.elem_type.map_type.value_type.tensor_type.elem_type = TensorProto.FLOAT
    g = helper.make_graph([n1, n2], "logreg_iris", [tensor_in("X", TensorProto.FLOAT, ["N", 4])],
                          [tensor_in("label", TensorProto.INT64, ["N"]),
                           helper.make_value_info("output_probability", seq_map)])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13),
                                                helper.make_opsetid(ML, 1)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    d = os.path.join(MODELS, "zipmap")
    os.makedirs(d, exist_ok=True)
    onnx.save(model, os.path.join(d, "model.onnx"))
    Xt = X[::10]
    labels = lr.predict(Xt)
    proba = lr.predict_proba(Xt)
    with open(os.path.join(d, "expected.txt"), "w") as f:
        f.write("# x0 x1 x2 x3 label p0 p1 p2 (sklearn LogisticRegression on iris)\n")
        for x, l, p in zip(Xt, labels, proba):
            f.write(" ".join(f"{v:.9g}" for v in x) + f" {int(l)} " +
                    " ".join(f"{v:.9g}" for v in p) + "\n")
    print(f"zipmap: {len(Xt)} rows")


def logreg_binary_strings():
    X, y = make_classification(n_samples=120, n_features=4, random_state=3)
    X = X.astype(np.float32)
    names = np.array(["no", "yes"])
    lr = LogisticRegression().fit(X, names[y])
    node = helper.make_node("LinearClassifier", ["X"], ["label", "probabilities"], domain=ML,
                            coefficients=lr.coef_.ravel().tolist(), intercepts=lr.intercept_.tolist(),
                            classlabels_strings=["no", "yes"], post_transform="LOGISTIC")
    g = helper.make_graph([node], "logreg_binary", [tensor_in("X", TensorProto.FLOAT, ["N", 4])],
                          [tensor_in("label", TensorProto.STRING, ["N"]),
                           tensor_in("probabilities", TensorProto.FLOAT, ["N", 2])])
    Xt = X[:25]
    save_case("ml_logreg_binary_strings", g, [Xt], [lr.predict(Xt).astype(object),
                                                    lr.predict_proba(Xt).astype(np.float32)])


def linreg_two_targets():
    X, y = make_regression(n_samples=80, n_features=3, n_targets=2, random_state=4)
    X = X.astype(np.float32)
    lr = LinearRegression().fit(X, y)
    node = helper.make_node("LinearRegressor", ["X"], ["variable"], domain=ML,
                            coefficients=lr.coef_.ravel().tolist(), intercepts=lr.intercept_.tolist(),
                            targets=2)
    g = helper.make_graph([node], "linreg", [tensor_in("X", TensorProto.FLOAT, ["N", 3])],
                          [tensor_in("variable", TensorProto.FLOAT, ["N", 2])])
    Xt = X[:20]
    save_case("ml_linreg_two_targets", g, [Xt], [lr.predict(Xt).astype(np.float32)])


# ---------------------------------------------------------------- SVM

def svc_rbf_proba():
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    svc = SVC(kernel="rbf", gamma=0.5, probability=True, random_state=0).fit(X, y)
    node = helper.make_node(
        "SVMClassifier", ["X"], ["label", "probabilities"], domain=ML, kernel_type="RBF",
        kernel_params=[float(svc._gamma), float(svc.coef0), float(svc.degree)],
        support_vectors=svc.support_vectors_.ravel().tolist(),
        vectors_per_class=svc.n_support_.tolist(),
        coefficients=svc._dual_coef_.ravel().tolist(),  # libsvm sign convention
        rho=svc._intercept_.tolist(), prob_a=svc.probA_.tolist(), prob_b=svc.probB_.tolist(),
        classlabels_ints=[0, 1, 2], post_transform="NONE")
    g = helper.make_graph([node], "svc", [tensor_in("X", TensorProto.FLOAT, ["N", 4])],
                          [tensor_in("label", TensorProto.INT64, ["N"]),
                           tensor_in("probabilities", TensorProto.FLOAT, ["N", 3])])
    Xt = X[1::7]
    save_case("ml_svc_rbf_proba", g, [Xt], [svc.predict(Xt).astype(np.int64),
                                            svc.predict_proba(Xt).astype(np.float32)])


def svc_poly_binary():
    X, y = make_classification(n_samples=100, n_features=3, n_redundant=0, random_state=5)
    X = X.astype(np.float32)
    svc = SVC(kernel="poly", degree=3, gamma=0.3, coef0=1.0).fit(X, y)
    node = helper.make_node(
        "SVMClassifier", ["X"], ["label", "scores"], domain=ML, kernel_type="POLY",
        kernel_params=[float(svc._gamma), float(svc.coef0), float(svc.degree)],
        support_vectors=svc.support_vectors_.ravel().tolist(),
        vectors_per_class=svc.n_support_.tolist(),
        coefficients=svc._dual_coef_.ravel().tolist(), rho=svc._intercept_.tolist(),
        classlabels_ints=[0, 1], post_transform="NONE")
    g = helper.make_graph([node], "svc_bin", [tensor_in("X", TensorProto.FLOAT, ["N", 3])],
                          [tensor_in("label", TensorProto.INT64, ["N"]),
                           tensor_in("scores", TensorProto.FLOAT, ["N", 2])])
    Xt = X[:30]
    # libsvm's raw value is -decision_function for two classes; Z = [-raw, raw]
    raw = -svc.decision_function(Xt)
    z = np.stack([-raw, raw], axis=1).astype(np.float32)
    save_case("ml_svc_poly_binary", g, [Xt], [svc.predict(Xt).astype(np.int64), z])


def svc_linear_ovo_scores():
    X, y = load_iris(return_X_y=True)
    X = X.astype(np.float32)
    svc = SVC(kernel="linear", C=0.5, decision_function_shape="ovo").fit(X, y)
    node = helper.make_node(
        "SVMClassifier", ["X"], ["label", "scores"], domain=ML, kernel_type="LINEAR",
        support_vectors=svc.support_vectors_.ravel().tolist(),
        vectors_per_class=svc.n_support_.tolist(),
        coefficients=svc._dual_coef_.ravel().tolist(), rho=svc._intercept_.tolist(),
        classlabels_ints=[0, 1, 2], post_transform="NONE")
    g = helper.make_graph([node], "svc_ovo", [tensor_in("X", TensorProto.FLOAT, ["N", 4])],
                          [tensor_in("label", TensorProto.INT64, ["N"]),
                           tensor_in("scores", TensorProto.FLOAT, ["N", 3])])
    Xt = X[2::9]
    save_case("ml_svc_linear_ovo", g, [Xt], [svc.predict(Xt).astype(np.int64),
                                             svc.decision_function(Xt).astype(np.float32)])


def svr_rbf():
    X, y = make_regression(n_samples=80, n_features=4, noise=1.0, random_state=6)
    X = X.astype(np.float32)
    svr = SVR(kernel="rbf", gamma=0.2, C=50.0).fit(X, y)
    node = helper.make_node(
        "SVMRegressor", ["X"], ["variable"], domain=ML, kernel_type="RBF",
        kernel_params=[float(svr._gamma), 0.0, 3.0], n_supports=int(svr.support_vectors_.shape[0]),
        support_vectors=svr.support_vectors_.ravel().tolist(),
        coefficients=svr.dual_coef_.ravel().tolist(), rho=svr.intercept_.tolist(),
        post_transform="NONE")
    g = helper.make_graph([node], "svr", [tensor_in("X", TensorProto.FLOAT, ["N", 4])],
                          [tensor_in("variable", TensorProto.FLOAT, ["N", 1])])
    Xt = X[:20]
    save_case("ml_svr_rbf", g, [Xt], [svr.predict(Xt).astype(np.float32).reshape(-1, 1)])


# ---------------------------------------------------------------- preprocessing

def preprocess_chain():
    """Imputer -> Scaler -> Normalizer(L2), plus a Binarizer branch."""
    rng = np.random.RandomState(7)
    X = rng.normal(size=(30, 3)).astype(np.float32) * 3 + 1
    X[rng.rand(30, 3) < 0.15] = np.nan
    imp = SimpleImputer(strategy="mean").fit(X)
    Xi = imp.transform(X).astype(np.float32)
    sc = StandardScaler().fit(Xi)
    Xs = sc.transform(Xi).astype(np.float32)
    Xn = Normalizer(norm="l2").transform(Xs).astype(np.float32)
    Xb = Binarizer(threshold=0.5).transform(Xi).astype(np.float32)
    nodes = [
        helper.make_node("Imputer", ["X"], ["imputed"], domain=ML,
                         imputed_value_floats=imp.statistics_.astype(np.float32).tolist(),
                         replaced_value_float=float("nan")),
        helper.make_node("Scaler", ["imputed"], ["scaled"], domain=ML,
                         offset=sc.mean_.astype(np.float32).tolist(),
                         scale=(1.0 / sc.scale_).astype(np.float32).tolist()),
        helper.make_node("Normalizer", ["scaled"], ["normalized"], domain=ML, norm="L2"),
        helper.make_node("Binarizer", ["imputed"], ["binary"], domain=ML, threshold=0.5),
    ]
    g = helper.make_graph(nodes, "preprocess", [tensor_in("X", TensorProto.FLOAT, ["N", 3])],
                          [tensor_in("normalized", TensorProto.FLOAT, ["N", 3]),
                           tensor_in("binary", TensorProto.FLOAT, ["N", 3])])
    save_case("ml_preprocess_chain", g, [X], [Xn, Xb])


def onehot_linear():
    """String category one-hot encoded, joined with numeric features by
    FeatureVectorizer, then a linear regression."""
    rng = np.random.RandomState(8)
    cats = np.array(["red", "green", "blue"])
    c = cats[rng.randint(0, 3, size=60)]
    num = rng.normal(size=(60, 2)).astype(np.float32)
    enc = OneHotEncoder(categories=[list(cats)]).fit(c.reshape(-1, 1))
    feats = np.hstack([enc.transform(c.reshape(-1, 1)).toarray(), num]).astype(np.float32)
    y = feats @ np.array([1.0, -2.0, 0.5, 3.0, -1.0]) + 0.25 + rng.normal(scale=0.1, size=60)
    lr = LinearRegression().fit(feats, y)
    nodes = [
        helper.make_node("OneHotEncoder", ["color"], ["color_1h"], domain=ML,
                         cats_strings=list(cats), zeros=1),
        helper.make_node("FeatureVectorizer", ["color_1h", "num"], ["features"], domain=ML,
                         inputdimensions=[3, 2]),
        helper.make_node("LinearRegressor", ["features"], ["variable"], domain=ML,
                         coefficients=lr.coef_.tolist(), intercepts=[float(lr.intercept_)]),
    ]
    g = helper.make_graph(nodes, "onehot_linear",
                          [tensor_in("color", TensorProto.STRING, ["N"]),
                           tensor_in("num", TensorProto.FLOAT, ["N", 2])],
                          [tensor_in("variable", TensorProto.FLOAT, ["N", 1])])
    n = 12
    save_case("ml_onehot_linear", g, [c[:n].astype(object), num[:n]],
              [lr.predict(feats[:n]).astype(np.float32).reshape(-1, 1)])


def label_encoders():
    """LabelEncoder (v2 string -> int64) then CategoryMapper back to strings,
    and ArrayFeatureExtractor on a matrix."""
    words = np.array(["cat", "dog", "bird", "fish", "dog", "cow"], dtype=object)
    keys, vals = ["bird", "cat", "dog"], [10, 20, 30]
    enc = np.array([dict(zip(keys, vals)).get(w, -1) for w in words], dtype=np.int64)
    back = np.array([dict(zip(vals, keys)).get(int(v), "none") for v in enc], dtype=object)
    X = np.arange(12, dtype=np.float32).reshape(3, 4)
    idx = np.array([3, 1], dtype=np.int64)
    nodes = [
        helper.make_node("LabelEncoder", ["words"], ["ids"], domain=ML, keys_strings=keys,
                         values_int64s=vals, default_int64=-1),
        helper.make_node("CategoryMapper", ["ids"], ["names"], domain=ML, cats_int64s=vals,
                         cats_strings=keys, default_string="none"),
        helper.make_node("ArrayFeatureExtractor", ["X", "idx"], ["picked"], domain=ML),
    ]
    g = helper.make_graph(nodes, "encoders",
                          [tensor_in("words", TensorProto.STRING, ["N"]),
                           tensor_in("X", TensorProto.FLOAT, [3, 4]),
                           tensor_in("idx", TensorProto.INT64, [2])],
                          [tensor_in("ids", TensorProto.INT64, ["N"]),
                           tensor_in("names", TensorProto.STRING, ["N"]),
                           tensor_in("picked", TensorProto.FLOAT, [3, 2])])
    save_case("ml_label_encoders", g, [words, X, idx], [enc, back, X[:, idx]], ml_opset=2)


# ---------------------------------------------------------------- ONNX node tests

def node_case(name, op, inputs, outputs, attrs, domain="", opset=20, ml_opset=1, in_types=None):
    """One-node model in the style of the ONNX backend node tests; inputs and
    outputs are (name, numpy array) pairs."""
    def vi(n, a):
        elem = TensorProto.STRING if a.dtype == object else helper.np_dtype_to_tensor_dtype(a.dtype) \
            if hasattr(helper, "np_dtype_to_tensor_dtype") else onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype]
        return helper.make_tensor_value_info(n, elem, list(a.shape))
    node = helper.make_node(op, [n for n, _ in inputs], [n for n, _ in outputs], domain=domain, **attrs)
    g = helper.make_graph([node], name, [vi(n, a) for n, a in inputs], [vi(n, a) for n, a in outputs])
    save_case(name, g, [a for _, a in inputs], [a for _, a in outputs], ml_opset=ml_opset,
              onnx_opset=opset, check=False)


def py_split(x, sep=None, maxsplit=-1):
    """StringSplit expectations straight from Python's str.split (the ONNX
    reference semantics)."""
    parts = [s.split(sep, maxsplit) for s in x.ravel()]
    width = max([len(p) for p in parts], default=0)
    sub = np.array([p + [""] * (width - len(p)) for p in parts], dtype=object)
    sub = sub.reshape(x.shape + (width,))
    lens = np.array([len(p) for p in parts], dtype=np.int64).reshape(x.shape)
    return sub, lens


def onnx_string_cases():
    for name, x, attrs, sep, ms in [
        ("basic", np.array(["abc.com", "def.net"], dtype=object), {"delimiter": "."}, ".", -1),
        ("maxsplit", np.array([["hello world", "def.net"], ["o n n x", "the quick brown fox"]],
                              dtype=object), {"maxsplit": 2}, None, 2),
        ("consecutive_delimiters", np.array(["o-n-n--x-", "o-n----nx"], dtype=object),
         {"delimiter": "-"}, "-", -1),
        ("empty_string_delimiter", np.array(["hello world !", "  hello   world !", " hello world   ! "],
                                            dtype=object), {"delimiter": ""}, None, -1),
        ("no_delimiter", np.array(["hello world !", "  hello   world !", " hello world   ! "],
                                  dtype=object), {}, None, -1),
        ("empty_tensor", np.empty((0,), dtype=object), {}, None, -1),
    ]:
        sub, lens = py_split(x, sep, ms)
        node_case(f"onnx_string_split_{name}", "StringSplit", [("x", x)],
                  [("substrings", sub), ("length", lens)], attrs)
    for name, a, b in [
        ("", ["abc", "def"], [".com", ".net"]),
        ("_broadcasting", ["cat", "dog", "snake"], ["s"]),
        ("_empty_string", ["abc", ""], ["", "abc"]),
        ("_utf8", ["的", "中"], ["的", "中"]),
    ]:
        x, y = np.array(a, dtype=object), np.array(b, dtype=object)
        node_case(f"onnx_string_concat{name}", "StringConcat", [("x", x), ("y", y)],
                  [("result", np.char.add(x.astype(str), y.astype(str)).astype(object))], {})
    node_case("onnx_string_concat_zero_dimensional", "StringConcat",
              [("x", np.array("cat", dtype=object)), ("y", np.array("s", dtype=object))],
              [("result", np.array("cats", dtype=object))], {})
    email = r"(\W|^)[\w.\-]{0,25}@(yahoo|gmail)\.com(\W|$)"
    node_case("onnx_regex_full_match_basic", "RegexFullMatch",
              [("X", np.array(["www.google.com", "www.facebook.com", "www.bbc.co.uk"], dtype=object))],
              [("Y", np.array([True, True, False]))], {"pattern": r"www\.[\w.-]+\.\bcom\b"})
    node_case("onnx_regex_full_match_email_domain", "RegexFullMatch",
              [("X", np.array([["account@gmail.com", "account@hotmail.com"],
                               ["not email", "account2@yahoo.com"]], dtype=object))],
              [("Y", np.array([[True, False], [False, True]]))], {"pattern": email})
    node_case("onnx_regex_full_match_empty", "RegexFullMatch",
              [("X", np.empty((2, 0), dtype=object))], [("Y", np.empty((2, 0), dtype=bool))],
              {"pattern": email})


def onnx_ml_cases():
    x = np.array(["a", "b", "d", "c", "g"], dtype=object)
    node_case("onnx_ml_label_encoder_string_int", "LabelEncoder", [("X", x)],
              [("Y", np.array([0, 1, 42, 2, 42], dtype=np.int64))],
              {"keys_strings": ["a", "b", "c"], "values_int64s": [0, 1, 2], "default_int64": 42},
              domain=ML, ml_opset=2, opset=13)
    node_case("onnx_ml_label_encoder_string_int_no_default", "LabelEncoder", [("X", x)],
              [("Y", np.array([0, 1, -1, 2, -1], dtype=np.int64))],
              {"keys_strings": ["a", "b", "c"], "values_int64s": [0, 1, 2]},
              domain=ML, ml_opset=2, opset=13)
    for spelling in ("tensor", "as_tensor"):  # the spec's name, and the backend test data's
        node_case(f"onnx_ml_label_encoder_tensor_mapping_{spelling}", "LabelEncoder", [("X", x)],
                  [("Y", np.array([0, 1, 42, 2, 42], dtype=np.int16))],
                  {f"keys_{spelling}": helper.make_tensor("k", TensorProto.STRING, (3,), [b"a", b"b", b"c"]),
                   f"values_{spelling}": helper.make_tensor("v", TensorProto.INT16, (3,), [0, 1, 2]),
                   f"default_{spelling}": helper.make_tensor("d", TensorProto.INT16, (1,), [42])},
                  domain=ML, ml_opset=4, opset=13)
    xf = np.arange(12, dtype=np.float32).reshape(3, 4)
    node_case("onnx_ml_array_feature_extractor", "ArrayFeatureExtractor",
              [("x", xf), ("y", np.array([0, 1], dtype=np.int64))], [("z", xf[:, [0, 1]])], {},
              domain=ML, opset=13)
    xb = np.random.RandomState(0).randn(3, 4, 5).astype(np.float32)
    node_case("onnx_ml_binarizer", "Binarizer", [("X", xb)],
              [("Y", (xb > 1.0).astype(np.float32))], {"threshold": 1.0}, domain=ML, opset=13)
    xt = np.array([1.2, 3.4, -0.12, 1.66, 4.14, 1.77], np.float64).reshape(3, 2)
    node_case("onnx_ml_tree_ensemble_single_tree", "TreeEnsemble", [("X", xt)],
              [("Y", np.array([[5.23, 0], [5.23, 0], [0, 12.12]], dtype=np.float64))],
              {"n_targets": 2, "aggregate_function": 1, "post_transform": 0, "tree_roots": [0],
               "nodes_modes": helper.make_tensor("m", TensorProto.UINT8, (3,), [0, 0, 0]),
               "nodes_featureids": [0, 0, 0],
               "nodes_splits": helper.make_tensor("s", TensorProto.DOUBLE, (3,), [3.14, 1.2, 4.2]),
               "nodes_truenodeids": [1, 0, 1], "nodes_trueleafs": [0, 1, 1],
               "nodes_falsenodeids": [2, 2, 3], "nodes_falseleafs": [0, 1, 1],
               "leaf_targetids": [0, 1, 0, 1],
               "leaf_weights": helper.make_tensor("w", TensorProto.DOUBLE, (4,),
                                                  [5.23, 12.12, -12.23, 7.21])},
              domain=ML, ml_opset=5, opset=13)
    xs = np.array([1.2, 3.4, -0.12, np.nan, 12, 7], np.float32).reshape(-1, 1)
    node_case("onnx_ml_tree_ensemble_set_membership", "TreeEnsemble", [("X", xs)],
              [("Y", np.array([[1, 0, 0, 0], [0, 0, 0, 100], [0, 0, 0, 100], [0, 0, 1000, 0],
                               [0, 0, 1000, 0], [0, 10, 0, 0]], dtype=np.float32))],
              {"n_targets": 4, "aggregate_function": 1, "post_transform": 0, "tree_roots": [0],
               "membership_values": helper.make_tensor("mv", TensorProto.FLOAT, (8,),
                                                       [1.2, 3.7, 8, 9, np.nan, 12, 7, np.nan]),
               "nodes_modes": helper.make_tensor("m", TensorProto.UINT8, (3,), [0, 6, 6]),
               "nodes_featureids": [0, 0, 0],
               "nodes_splits": helper.make_tensor("s", TensorProto.FLOAT, (3,), [11, 232344.0, np.nan]),
               "nodes_trueleafs": [0, 1, 1], "nodes_truenodeids": [1, 0, 1],
               "nodes_falseleafs": [1, 0, 1], "nodes_falsenodeids": [2, 2, 3],
               "leaf_targetids": [0, 1, 2, 3],
               "leaf_weights": helper.make_tensor("w", TensorProto.FLOAT, (4,), [1, 10, 1000, 100])},
              domain=ML, ml_opset=5, opset=13)


def main():
    os.makedirs(ROOT, exist_ok=True)
    for fn in (rf_iris, gb_binary, gb_multiclass, gb_regressor, rf_regressor_average,
               logreg_multiclass_zipmap, logreg_binary_strings, linreg_two_targets, svc_rbf_proba,
               svc_poly_binary, svc_linear_ovo_scores, svr_rbf,
               preprocess_chain, onehot_linear, label_encoders, onnx_string_cases, onnx_ml_cases):
        fn()
    return 0


if __name__ == "__main__":
    sys.exit(main())
