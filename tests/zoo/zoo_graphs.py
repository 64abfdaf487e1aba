"""Zoo models built directly with onnx.helper, for export paths PyTorch does not
take: TensorFlow/Keras-style graphs (NHWC transposes, auto_pad SAME, Clip-based
ReLU6, TF resize modes), onnxruntime-quantizer-style int8 graphs, and ops in
their newest opset versions (18-21). Imported by make_zoo.py.

Each builder returns (ModelProto, inputs spec, options) in the manifest format."""
import numpy as np
import onnx
from onnx import TensorProto as TP, helper as H, numpy_helper as NH

RNG = np.random.default_rng(7)
GRAPHS = []


def graph_model(name, **opts):
    def deco(fn):
        GRAPHS.append((name, fn, opts))
        return fn
    return deco


def init(name, arr):
    return NH.from_array(np.asarray(arr), name)


def rand(*shape, scale=0.3):
    return (RNG.standard_normal(shape) * scale).astype(np.float32)


def mk(nodes, inputs, outputs, inits, opset, name):
    g = H.make_graph(nodes, name, inputs, outputs, inits)
    m = H.make_model(g, opset_imports=[H.make_opsetid("", opset)], producer_name="zoo_graphs")
    m.ir_version = 8
    # no onnx.checker: Debian onnx 1.12 knows neither opset 18+ nor shapeless graph outputs;
    # onnxruntime validates the model when it loads it
    return m


def vi(name, dt, shape):
    return H.make_tensor_value_info(name, dt, shape)


@graph_model("tf_keras_nhwc")
def _():
    n = [
        H.make_node("Transpose", ["x"], ["xt"], perm=[0, 3, 1, 2]),
        H.make_node("Conv", ["xt", "w1", "b1"], ["c1"], auto_pad="SAME_UPPER", strides=[2, 2], kernel_shape=[3, 3]),
        H.make_node("BatchNormalization", ["c1", "g", "beta", "mean", "var"], ["bn"], epsilon=1e-3),
        H.make_node("Clip", ["bn", "zero", "six"], ["r6"]),
        H.make_node("MaxPool", ["r6"], ["mp"], auto_pad="SAME_UPPER", kernel_shape=[3, 3], strides=[2, 2]),
        H.make_node("Conv", ["mp", "wd"], ["dw"], auto_pad="SAME_UPPER", group=8, kernel_shape=[5, 5]),
        H.make_node("Conv", ["dw", "w2"], ["c2"], pads=[0, 1, 1, 0], kernel_shape=[2, 2]),
        H.make_node("Transpose", ["c2"], ["c2t"], perm=[0, 2, 3, 1]),
        H.make_node("ReduceMean", ["c2t"], ["gap"], axes=[1, 2], keepdims=0),
        H.make_node("MatMul", ["gap", "fcw"], ["mm"]),
        H.make_node("Add", ["mm", "fcb"], ["logits"]),
        H.make_node("Softmax", ["logits"], ["y"], axis=-1),
        H.make_node("AveragePool", ["r6"], ["ap"], auto_pad="SAME_UPPER", kernel_shape=[3, 3], strides=[2, 2]),
        H.make_node("Transpose", ["ap"], ["apt"], perm=[0, 2, 3, 1]),
    ]
    inits = [init("w1", rand(8, 3, 3, 3)), init("b1", rand(8)), init("g", 1 + rand(8, scale=0.1)),
             init("beta", rand(8)), init("mean", rand(8, scale=0.1)), init("var", 1 + np.abs(rand(8))),
             init("zero", np.float32(0)), init("six", np.float32(6)), init("wd", rand(8, 1, 5, 5)),
             init("w2", rand(6, 8, 2, 2)), init("fcw", rand(6, 4)), init("fcb", rand(4))]
    m = mk(n, [vi("x", TP.FLOAT, ["batch", 17, 15, 3])], [vi("y", TP.FLOAT, None), vi("apt", TP.FLOAT, None)],
           inits, 13, "tf_keras_nhwc")
    return m, [dict(name="x", dtype="float32", shape=["batch", 17, 15, 3])], {}


@graph_model("resize_modes")
def _():
    """Every Resize coordinate mode / nearest mode / cubic variant onnxruntime implements, opset 13."""
    nodes, outs, inits = [], [], [init("roi_empty", np.zeros(0, np.float32)),
                                   init("up", np.array([1, 1, 1.7, 2.3], np.float32)),
                                   init("down", np.array([1, 1, 0.6, 0.45], np.float32)),
                                   init("size", np.array([1, 2, 9, 4], np.int64)),
                                   init("roi", np.array([0, 0, 0.1, 0.2, 1, 1, 0.8, 0.9], np.float32))]
    combos = []
    for ct in ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"]:
        for nm in ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]:
            combos.append(dict(mode="nearest", coordinate_transformation_mode=ct, nearest_mode=nm))
    for ct in ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"]:
        combos.append(dict(mode="linear", coordinate_transformation_mode=ct))
        combos.append(dict(mode="cubic", coordinate_transformation_mode=ct))
    combos.append(dict(mode="cubic", coordinate_transformation_mode="half_pixel", cubic_coeff_a=-0.5, exclude_outside=1))
    for i, c in enumerate(combos):
        for tag, scales in (("up", "up"), ("down", "down")):
            o = f"r{i}_{tag}"
            nodes.append(H.make_node("Resize", ["x", "roi_empty", scales], [o], **c))
            outs.append(o)
        o = f"r{i}_size"
        nodes.append(H.make_node("Resize", ["x", "roi_empty", "", "size"], [o], **c))
        outs.append(o)
    for mode in ["nearest", "linear"]:
        o = f"crop_{mode}"
        nodes.append(H.make_node("Resize", ["x", "roi", "", "size"], [o], mode=mode,
                                 coordinate_transformation_mode="tf_crop_and_resize", extrapolation_value=-3.0))
        outs.append(o)
    m = mk(nodes, [vi("x", TP.FLOAT, [1, 2, 5, 6])], [vi(o, TP.FLOAT, None) for o in outs], inits, 13, "resize_modes")
    return m, [dict(name="x", dtype="float32", shape=[1, 2, 5, 6])], dict(cases=[{}], out_batch_axis=None)


@graph_model("opset18_plus")
def _():
    """Ops in their newest versions: ReduceMean/ReduceSum with axes inputs (18), Split num_outputs (18),
    Pad with axes (18), Resize antialias + axes (18), Gelu (20), LayerNormalization, GroupNormalization (21)."""
    n = [
        H.make_node("ReduceMean", ["x", "ax23"], ["rm"], keepdims=1),
        H.make_node("ReduceSum", ["x", "ax1"], ["rs"], keepdims=0),
        H.make_node("ReduceMax", ["x", "ax1"], ["rmax"], keepdims=0),
        H.make_node("Split", ["x"], ["s0", "s1", "s2"], axis=3, num_outputs=3),
        H.make_node("Pad", ["x", "pads", "pv", "ax3"], ["pad"], mode="constant"),
        H.make_node("Pad", ["x", "pads", "", "ax3"], ["padw"], mode="wrap"),
        H.make_node("Resize", ["x", "", "sc"], ["aa"], mode="linear", antialias=1, axes=[2, 3]),
        H.make_node("Resize", ["x", "", "sc"], ["aac"], mode="cubic", antialias=1, axes=[2, 3]),
        H.make_node("Resize", ["x", "", "", "sz"], ["kar"], mode="nearest", axes=[2, 3],
                    keep_aspect_ratio_policy="not_larger"),
        H.make_node("Gelu", ["x"], ["gelu"]),
        H.make_node("Gelu", ["x"], ["gelut"], approximate="tanh"),
        H.make_node("LayerNormalization", ["x", "lns", "lnb"], ["ln"], axis=-2, epsilon=1e-5),
        H.make_node("GroupNormalization", ["x", "gns", "gnb"], ["gn"], num_groups=2, epsilon=1e-5),
        H.make_node("Mish", ["x"], ["mish"]),
        H.make_node("CenterCropPad", ["x", "ccp"], ["ccp_out"], axes=[2, 3]),
    ]
    inits = [init("ax23", np.array([2, 3], np.int64)), init("ax1", np.array([1], np.int64)),
             init("ax3", np.array([3], np.int64)), init("pads", np.array([2, 1], np.int64)),
             init("pv", np.float32(0.25)), init("sc", np.array([0.5, 0.4], np.float32)),
             init("sz", np.array([4, 5], np.int64)), init("lns", rand(6, 9)), init("lnb", rand(6, 9)),
             init("gns", 1 + rand(4, scale=0.1)), init("gnb", rand(4)), init("ccp", np.array([4, 11], np.int64))]
    outs = ["rm", "rs", "rmax", "s0", "s1", "s2", "pad", "padw", "aa", "aac", "kar", "gelu", "gelut", "ln", "gn",
            "mish", "ccp_out"]
    m = mk(n, [vi("x", TP.FLOAT, ["batch", 4, 6, 9])], [vi(o, TP.FLOAT, None) for o in outs], inits, 21,
           "opset18_plus")
    return m, [dict(name="x", dtype="float32", shape=["batch", 4, 6, 9])], {}


@graph_model("int8_quantized")
def _():
    """What onnxruntime's quantizer emits: static QLinearConv/QLinearMatMul/QLinearAdd-free int8 path with
    DynamicQuantizeLinear + MatMulInteger + ConvInteger for the dynamic flavour."""
    wq = RNG.integers(-60, 60, (8, 3, 3, 3)).astype(np.int8)
    mq = RNG.integers(-60, 60, (8 * 4 * 4, 5)).astype(np.int8)
    n = [
        H.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        H.make_node("QLinearConv", ["xq", "xs", "xz", "wq", "ws", "wz", "ys", "yz", "bq"], ["cq"], pads=[1, 1, 1, 1],
                    strides=[2, 2]),
        H.make_node("MaxPool", ["cq"], ["pq"], kernel_shape=[2, 2], strides=[2, 2]),
        H.make_node("DequantizeLinear", ["pq", "ys", "yz"], ["pf"]),
        H.make_node("Flatten", ["pf"], ["flat"]),
        H.make_node("DynamicQuantizeLinear", ["flat"], ["fq", "fs", "fz"]),
        H.make_node("MatMulInteger", ["fq", "mq", "fz", "mz"], ["mi"]),
        H.make_node("Cast", ["mi"], ["mif"], to=TP.FLOAT),
        H.make_node("Mul", ["fs", "ms"], ["scale"]),
        H.make_node("Mul", ["mif", "scale"], ["y"]),
        H.make_node("ConvInteger", ["xq", "wq", "xz"], ["ci"], pads=[0, 0, 0, 0]),
        H.make_node("QLinearMatMul", ["fq", "fs", "fz", "mq2", "ms", "mz2", "ys", "yz"], ["qmm"]),
    ]
    inits = [init("xs", np.float32(0.01)), init("xz", np.uint8(128)), init("wq", wq),
             init("ws", np.full(8, 0.004, np.float32)), init("wz", np.zeros(8, np.int8)),
             init("ys", np.float32(0.02)), init("yz", np.uint8(100)),
             init("bq", RNG.integers(-500, 500, 8).astype(np.int32)),
             init("mq", mq), init("mz", np.int8(0)), init("ms", np.float32(0.003)),
             init("mq2", RNG.integers(0, 255, (8 * 4 * 4, 5)).astype(np.uint8)), init("mz2", np.uint8(128))]
    m = mk(n, [vi("x", TP.FLOAT, ["batch", 3, 16, 16])],
           [vi("y", TP.FLOAT, None), vi("cq", TP.UINT8, None), vi("ci", TP.INT32, None), vi("qmm", TP.UINT8, None)],
           inits, 13, "int8_quantized")
    return m, [dict(name="x", dtype="float32", shape=["batch", 3, 16, 16])], {}


@graph_model("float16_graph")
def _():
    """A float16 end-to-end graph (what a converter to fp16 emits): MatMul, Add, Relu, Softmax in float16."""
    n = [
        H.make_node("MatMul", ["x", "w1"], ["h"]),
        H.make_node("Add", ["h", "b1"], ["hb"]),
        H.make_node("Relu", ["hb"], ["r"]),
        H.make_node("MatMul", ["r", "w2"], ["o"]),
        H.make_node("Softmax", ["o"], ["y"], axis=-1),
        H.make_node("Cast", ["o"], ["of"], to=TP.FLOAT),
    ]
    inits = [init("w1", rand(16, 32).astype(np.float16)), init("b1", rand(32).astype(np.float16)),
             init("w2", rand(32, 8).astype(np.float16))]
    m = mk(n, [vi("x", TP.FLOAT16, ["batch", 16])], [vi("y", TP.FLOAT16, None), vi("of", TP.FLOAT, None)],
           inits, 17, "float16_graph")
    return m, [dict(name="x", dtype="float16", shape=["batch", 16])], dict(
        tol=(4e-3, 4e-3), note="float16 accumulation order differs between engines: a few float16 ulps")


@graph_model("gemm_variants")
def _():
    n = [
        H.make_node("Transpose", ["x"], ["xt"]),
        H.make_node("Unsqueeze", ["x", "ax0"], ["x3"]),
        H.make_node("Gemm", ["x", "w", "c1"], ["g1"], transB=1, alpha=0.7, beta=1.3),
        H.make_node("Gemm", ["xt", "w"], ["g2"], transA=1, transB=1),
        H.make_node("Gemm", ["x", "wt", "cs"], ["g3"], beta=-2.0),
        H.make_node("Gemm", ["x", "wt", "crow"], ["g4"]),
        H.make_node("Einsum", ["x3", "x3"], ["e1"], equation="...ij,...kj->...ik"),
        H.make_node("Einsum", ["x3"], ["e2"], equation="bij->jb"),
    ]
    inits = [init("w", rand(7, 5)), init("wt", rand(5, 7)), init("c1", rand(7)), init("cs", np.float32(0.5)),
             init("crow", rand(1, 7)), init("ax0", np.array([0], np.int64))]
    m = mk(n, [vi("x", TP.FLOAT, ["batch", 5])], [vi(o, TP.FLOAT, None) for o in ["g1", "g2", "g3", "g4", "e1", "e2"]],
           inits, 13, "gemm_variants")
    return m, [dict(name="x", dtype="float32", shape=["batch", 5])], {}


@graph_model("rnn_onnx_attrs")
def _():
    """tf2onnx/Keras-style recurrent nodes: per-example sequence_lens, initial states, reverse and
    bidirectional directions, clip, non-default activations, a separate bias."""
    T, B, I, Hs = 6, 3, 4, 5
    n = [
        H.make_node("LSTM", ["x", "lw", "lr", "lb", "slen", "h0", "c0"], ["ly", "lyh", "lyc"], hidden_size=Hs,
                    direction="bidirectional"),
        H.make_node("LSTM", ["x", "lw1", "lr1", "", "slen"], ["ly2"], hidden_size=Hs, direction="reverse", clip=0.8),
        H.make_node("GRU", ["x", "gw", "gr", "gb", "slen", "g0"], ["gy", "gyh"], hidden_size=Hs,
                    linear_before_reset=0, direction="forward"),
        H.make_node("RNN", ["x", "rw", "rr", "rb"], ["ry", "ryh"], hidden_size=Hs, activations=["Relu"]),
        H.make_node("LSTM", ["x", "lw1", "lr1"], ["ly3"], hidden_size=Hs,
                    activations=["HardSigmoid", "Tanh", "Tanh"], activation_alpha=[0.3], activation_beta=[0.4]),
    ]
    inits = [init("lw", rand(2, 4 * Hs, I)), init("lr", rand(2, 4 * Hs, Hs)), init("lb", rand(2, 8 * Hs)),
             init("slen", np.array([6, 3, 1], np.int32)), init("h0", rand(2, B, Hs)), init("c0", rand(2, B, Hs)),
             init("lw1", rand(1, 4 * Hs, I)), init("lr1", rand(1, 4 * Hs, Hs)),
             init("gw", rand(1, 3 * Hs, I)), init("gr", rand(1, 3 * Hs, Hs)), init("gb", rand(1, 6 * Hs)),
             init("g0", rand(1, B, Hs)), init("rw", rand(1, Hs, I)), init("rr", rand(1, Hs, Hs)),
             init("rb", rand(1, 2 * Hs))]
    outs = ["ly", "lyh", "lyc", "ly2", "gy", "gyh", "ry", "ryh", "ly3"]
    m = mk(n, [vi("x", TP.FLOAT, [T, B, I])], [vi(o, TP.FLOAT, None) for o in outs], inits, 14, "rnn_onnx_attrs")
    return m, [dict(name="x", dtype="float32", shape=[T, B, I])], dict(cases=[{}])


@graph_model("tf_misc")
def _():
    """More TF-converter output: DepthToSpace DCR/CRD, SpaceToDepth, ConvTranspose with output_shape and
    auto_pad SAME_UPPER, Scan (cumulative state), NonMaxSuppression, ReduceLogSumExp, TopK with k input."""
    scan_body = H.make_graph(
        [H.make_node("Add", ["s_in", "x_t"], ["s_out"]), H.make_node("Mul", ["s_out", "half"], ["y_t"])],
        "body", [vi("s_in", TP.FLOAT, [8]), vi("x_t", TP.FLOAT, [8])],
        [vi("s_out", TP.FLOAT, [8]), vi("y_t", TP.FLOAT, [8])], [init("half", np.float32(0.5))])
    n = [
        H.make_node("DepthToSpace", ["x"], ["d2s_dcr"], blocksize=2, mode="DCR"),
        H.make_node("DepthToSpace", ["x"], ["d2s_crd"], blocksize=2, mode="CRD"),
        H.make_node("SpaceToDepth", ["d2s_dcr"], ["s2d"], blocksize=2),
        H.make_node("ConvTranspose", ["x", "tw", "tb"], ["ct_os"], strides=[2, 2], output_shape=[11, 9]),
        H.make_node("ConvTranspose", ["x", "tw"], ["ct_same"], strides=[2, 2], auto_pad="SAME_UPPER"),
        H.make_node("Reshape", ["x", "shape2"], ["x2"]),
        H.make_node("Scan", ["s0", "x2"], ["s_final", "scan_y"], num_scan_inputs=1, body=scan_body),
        H.make_node("ReduceLogSumExp", ["x"], ["lse"], axes=[1, 3], keepdims=0),
        H.make_node("TopK", ["x2", "k"], ["tv", "ti"], axis=0, largest=1, sorted=1),
        H.make_node("NonMaxSuppression", ["boxes", "scores", "maxout", "iou", "sthr"], ["nms"],
                    center_point_box=0),
    ]
    inits = [init("tw", rand(8, 3, 3, 3)), init("tb", rand(3)), init("shape2", np.array([-1, 8], np.int64)),
             init("s0", np.zeros(8, np.float32)), init("k", np.array([3], np.int64)),
             init("boxes", np.concatenate([RNG.uniform(0, 10, (1, 12, 2)), RNG.uniform(10, 20, (1, 12, 2))],
                                          -1).astype(np.float32)),
             init("scores", RNG.uniform(0, 1, (1, 2, 12)).astype(np.float32)),
             init("maxout", np.array([4], np.int64)), init("iou", np.array([0.3], np.float32)),
             init("sthr", np.array([0.2], np.float32))]
    outs = [("d2s_dcr", TP.FLOAT), ("d2s_crd", TP.FLOAT), ("s2d", TP.FLOAT), ("ct_os", TP.FLOAT),
            ("ct_same", TP.FLOAT), ("s_final", TP.FLOAT), ("scan_y", TP.FLOAT), ("lse", TP.FLOAT), ("tv", TP.FLOAT),
            ("ti", TP.INT64), ("nms", TP.INT64)]
    m = mk(n, [vi("x", TP.FLOAT, ["batch", 8, 5, 4])], [vi(o, t, None) for o, t in outs], inits, 13, "tf_misc")
    return m, [dict(name="x", dtype="float32", shape=["batch", 8, 5, 4])], {}


@graph_model("ort_contrib_ops")
def _():
    """com.microsoft ops that onnxruntime's transformer optimiser writes into "optimized" BERT/GPT-2 files
    people then serve: FusedMatMul, SkipLayerNormalization, BiasGelu, FastGelu, Gelu, QuickGelu."""
    ms = "com.microsoft"
    n = [
        H.make_node("SkipLayerNormalization", ["x", "skip", "gamma", "beta", "bias"], ["sln", "", "", "sum"],
                    domain=ms, epsilon=1e-5),
        H.make_node("SkipSimplifiedLayerNormalization", ["x", "skip", "gamma"], ["ssln"], domain=ms, epsilon=1e-6),
        # quantised elementwise family (onnxruntime's static quantiser output)
        H.make_node("QuantizeLinear", ["x", "qs", "qz"], ["xq"]),
        H.make_node("QLinearAdd", ["xq", "qs", "qz", "xq", "qs", "qz", "qs2", "qz"], ["qadd"], domain=ms),
        H.make_node("QLinearMul", ["xq", "qs", "qz", "xq", "qs", "qz", "qs2", "qz"], ["qmul"], domain=ms),
        H.make_node("QLinearSigmoid", ["xq", "qs", "qz", "qs3", "qz0"], ["qsig"], domain=ms),
        H.make_node("QLinearLeakyRelu", ["xq", "qs", "qz", "qs", "qz"], ["qlrelu"], domain=ms, alpha=0.1),
        H.make_node("Unsqueeze", ["xq", "ax3"], ["xq4"]),
        H.make_node("QLinearGlobalAveragePool", ["xq4", "qs", "qz", "qs", "qz"], ["qgap"], domain=ms, channels_last=0),
        H.make_node("QLinearAveragePool", ["xq4", "qs", "qz", "qs", "qz"], ["qap"], domain=ms, kernel_shape=[2, 1],
                    count_include_pad=0, pads=[1, 0, 0, 0]),
        H.make_node("QLinearConcat", ["qs", "qz", "xq", "qs", "qz", "qadd", "qs2", "qz"], ["qcat"], domain=ms, axis=1),
        H.make_node("BiasGelu", ["x", "bias"], ["bg"], domain="com.microsoft"),
        H.make_node("FastGelu", ["x", "bias"], ["fg"], domain="com.microsoft"),
        H.make_node("Gelu", ["x"], ["g"], domain="com.microsoft"),
        H.make_node("QuickGelu", ["x"], ["qg"], domain="com.microsoft", alpha=1.702),
    ]
    inits = [init("skip", rand(3, 8)), init("gamma", 1 + rand(8, scale=0.1)),
             init("beta", rand(8)), init("bias", rand(8)), init("qs", np.float32(0.01)), init("qz", np.uint8(120)),
             init("qs2", np.float32(0.02)), init("qs3", np.float32(1 / 256)), init("qz0", np.uint8(0)),
             init("ax3", np.array([3], np.int64))]
    outs = [(o, TP.FLOAT) for o in ["sln", "sum", "ssln", "bg", "fg", "g", "qg"]] + \
        [(o, TP.UINT8) for o in ["qadd", "qmul", "qsig", "qlrelu", "qgap", "qap", "qcat"]]
    g = H.make_graph(n, "ort_contrib_ops", [vi("x", TP.FLOAT, ["batch", 3, 8])],
                     [vi(o, t, None) for o, t in outs], inits)
    m = H.make_model(g, opset_imports=[H.make_opsetid("", 17), H.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m, [dict(name="x", dtype="float32", shape=["batch", 3, 8])], {}


@graph_model("ort_fusedmatmul")
def _():
    """com.microsoft FusedMatMul (onnxruntime's optimiser folds Transpose+MatMul+Mul into it)."""
    n = [H.make_node("FusedMatMul", ["x", "w"], ["y"], domain="com.microsoft", alpha=0.5, transB=1)]
    g = H.make_graph(n, "ort_fusedmatmul", [vi("x", TP.FLOAT, ["batch", 3, 8])], [vi("y", TP.FLOAT, None)],
                     [init("w", rand(6, 8))])
    m = H.make_model(g, opset_imports=[H.make_opsetid("", 17), H.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m, [dict(name="x", dtype="float32", shape=["batch", 3, 8])], {}


@graph_model("ort_simplified_layernorm")
def _():
    """SimplifiedLayerNormalization (RMSNorm) as onnxruntime registers it and its optimiser writes it for
    LLaMA-style models: in the default ai.onnx domain (since version 1), not com.microsoft."""
    n = [H.make_node("SimplifiedLayerNormalization", ["x", "gamma"], ["y"], axis=-1, epsilon=1e-6)]
    g = H.make_graph(n, "ort_simplified_layernorm", [vi("x", TP.FLOAT, ["batch", 3, 8])], [vi("y", TP.FLOAT, None)],
                     [init("gamma", 1 + rand(8, scale=0.1))])
    m = H.make_model(g, opset_imports=[H.make_opsetid("", 17)])
    m.ir_version = 8
    return m, [dict(name="x", dtype="float32", shape=["batch", 3, 8])], {}


@graph_model("onnx_zoo_opset8")
def _():
    """The ONNX model zoo's classic files are opset 7-8 (this one 8, where Sum/Mean/Max broadcast):
    Upsample with a scales attribute, BatchNormalization with spatial, Dropout with is_test-era semantics, variadic Sum/Mean/Max with broadcasting, Gemm with a
    broadcast C, TF-style tensor names ("input_1:0")."""
    n = [
        H.make_node("Conv", ["input_1:0", "w", "b"], ["c"], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        H.make_node("BatchNormalization", ["c", "g", "beta", "mean", "var"], ["bn"], epsilon=1e-5, spatial=1),
        H.make_node("Relu", ["bn"], ["r"]),
        H.make_node("Dropout", ["r"], ["d"], ratio=0.3),
        H.make_node("Upsample", ["d"], ["up"], mode="nearest", scales=[1.0, 1.0, 2.0, 2.0]),
        H.make_node("Upsample", ["d"], ["upl"], mode="linear", scales=[1.0, 1.0, 2.0, 3.0]),
        H.make_node("MaxPool", ["up"], ["mp"], kernel_shape=[2, 2], strides=[2, 2]),
        H.make_node("Sum", ["mp", "d", "bias4"], ["s"]),
        H.make_node("Mean", ["mp", "d"], ["mn"]),
        H.make_node("Max", ["mp", "d", "bias4"], ["mx"]),
        H.make_node("GlobalAveragePool", ["s"], ["gap"]),
        H.make_node("Flatten", ["gap"], ["fl"], axis=1),
        H.make_node("Gemm", ["fl", "fw", "fb"], ["logits"], transB=1),
        H.make_node("Softmax", ["logits"], ["prob:0"], axis=1),
    ]
    inits = [init("w", rand(6, 3, 3, 3)), init("b", rand(6)), init("g", 1 + rand(6, scale=0.1)), init("beta", rand(6)),
             init("mean", rand(6, scale=0.1)), init("var", 1 + np.abs(rand(6))), init("bias4", rand(6, 1, 1)),
             init("fw", rand(5, 6)), init("fb", rand(1, 5))]
    m = mk(n, [vi("input_1:0", TP.FLOAT, ["batch", 3, 6, 5])],
           [vi(o, TP.FLOAT, None) for o in ["prob:0", "upl", "mn", "mx"]], inits, 8, "onnx_zoo_opset8")
    m.ir_version = 3
    return m, [dict(name="input_1:0", dtype="float32", shape=["batch", 3, 6, 5])], {}


@graph_model("external_data")
def _():
    """Weights in a side file (what torch.onnx.export does past 2 GiB, and onnx.save(save_as_external_data))."""
    n = [H.make_node("MatMul", ["x", "w"], ["h"]), H.make_node("Add", ["h", "b"], ["y"])]
    m = mk(n, [vi("x", TP.FLOAT, ["batch", 64])], [vi("y", TP.FLOAT, None)],
           [init("w", rand(64, 300)), init("b", rand(300))], 13, "external_data")
    return m, [dict(name="x", dtype="float32", shape=["batch", 64])], dict(external=True)


@graph_model("signal_ops")
def _():
    """STFT / DFT / window ops as newer PyTorch exporters write them for audio front ends (opset 17)."""
    n = [
        H.make_node("HannWindow", ["wlen"], ["win"], periodic=1),
        H.make_node("Unsqueeze", ["x", "axm1"], ["x3"]),
        H.make_node("STFT", ["x3", "step", "win", "wlen"], ["spec"], onesided=1),
        H.make_node("DFT", ["x3"], ["dft"], onesided=0, axis=1),
        H.make_node("DFT", ["dft"], ["idft"], inverse=1, axis=1),
        H.make_node("MelWeightMatrix", ["nmel", "dftlen", "sr", "flo", "fhi"], ["mel"]),
        H.make_node("BlackmanWindow", ["wlen"], ["bwin"]),
        H.make_node("HammingWindow", ["wlen"], ["hwin"], periodic=0),
    ]
    inits = [init("wlen", np.int64(16)), init("axm1", np.array([-1], np.int64)), init("step", np.int64(4)),
             init("nmel", np.int64(5)),
             init("dftlen", np.int64(16)), init("sr", np.int64(8000)), init("flo", np.float32(100)),
             init("fhi", np.float32(3500))]
    outs = ["win", "spec", "dft", "idft", "mel", "bwin", "hwin"]
    m = mk(n, [vi("x", TP.FLOAT, ["batch", 64])], [vi(o, TP.FLOAT, None) for o in outs], inits, 17, "signal_ops")
    return m, [dict(name="x", dtype="float32", shape=["batch", 64])], {}


@graph_model("opset20_misc")
def _():
    """Opset 20 additions: AffineGrid (spatial transformer nets), Gelu, IsNaN/IsInf, ReduceMax on bool-free input."""
    n = [
        H.make_node("AffineGrid", ["theta", "size"], ["grid"], align_corners=0),
        H.make_node("GridSample", ["x", "grid"], ["warped"], mode="linear", padding_mode="zeros"),
        H.make_node("GridSample", ["x", "grid"], ["warped_c"], mode="cubic", padding_mode="border", align_corners=1),
    ]
    th = np.array([[[0.9, 0.1, 0.05], [-0.1, 1.1, 0.0]]], np.float32)
    inits = [init("theta", th), init("size", np.array([1, 2, 5, 7], np.int64))]
    m = mk(n, [vi("x", TP.FLOAT, [1, 2, 6, 8])], [vi(o, TP.FLOAT, None) for o in ["grid", "warped", "warped_c"]],
           inits, 20, "opset20_misc")
    return m, [dict(name="x", dtype="float32", shape=[1, 2, 6, 8])], dict(cases=[{}])


@graph_model("opset23_llm_ops")
def _():
    """Opset 23 ops that current PyTorch exporters emit for LLMs: RMSNormalization, RotaryEmbedding,
    Attention (with a causal mask and grouped-query heads)."""
    B, S, Hq, Hkv, D = 1, 5, 4, 2, 8
    n = [
        H.make_node("RMSNormalization", ["x", "gamma"], ["rms"], axis=-1, epsilon=1e-6),
        H.make_node("Reshape", ["rms", "shp_q"], ["q4"]),
        H.make_node("Transpose", ["q4"], ["qt"], perm=[0, 2, 1, 3]),
        H.make_node("RotaryEmbedding", ["qt", "cos", "sin", "pos"], ["rot"]),
        H.make_node("Attention", ["rot", "k", "v"], ["attn"], is_causal=1),
    ]
    inits = [init("gamma", 1 + rand(Hq * D, scale=0.1)), init("shp_q", np.array([B, S, Hq, D], np.int64)),
             init("cos", np.cos(rand(16, D // 2)).astype(np.float32)), init("sin", np.sin(rand(16, D // 2)).astype(np.float32)),
             init("pos", np.arange(S, dtype=np.int64).reshape(1, S)),
             init("k", rand(B, Hkv, S, D)), init("v", rand(B, Hkv, S, D))]
    m = mk(n, [vi("x", TP.FLOAT, [B, S, Hq * D])], [vi(o, TP.FLOAT, None) for o in ["rms", "rot", "attn"]], inits, 23,
           "opset23_llm_ops")
    m.ir_version = 10
    return m, [dict(name="x", dtype="float32", shape=[B, S, Hq * D])], dict(cases=[{}])


@graph_model("opset23_llm_ops_variants")
def _():
    """The other forms of the opset-23 LLM ops: 3-D Attention with q/kv head counts, a KV cache
    (past_key/past_value -> present), a boolean mask, an additive
    2-D mask with softcap and qk_matmul_output modes; interleaved partial RotaryEmbedding on a
    3-D input with caches indexed per batch; RMSNormalization over two axes with a broadcast
    scale; 3-D AffineGrid with align_corners."""
    B, S, P, Hq, Hkv, D = 2, 3, 4, 4, 2, 6
    T = P + S
    n = [
        H.make_node("RMSNormalization", ["x", "gamma2"], ["rms2"], axis=1, epsilon=1e-5),
        H.make_node("RotaryEmbedding", ["x", "cos3", "sin3"], ["rot3"], interleaved=1, num_heads=Hq,
                    rotary_embedding_dim=4),
        H.make_node("Attention", ["rot3", "k3", "v3", "bmask", "pk", "pv"], ["a1", "present_k", "present_v", "qk1"],
                    q_num_heads=Hq, kv_num_heads=Hkv, is_causal=1, qk_matmul_output_mode=1),
        H.make_node("Attention", ["q4", "k4", "v4", "fmask"], ["a2", "", "", "qk2"], softcap=2.0,
                    scale=0.3, qk_matmul_output_mode=2),
        H.make_node("Attention", ["q4", "k4", "v4", "fmask"], ["a3", "", "", "qk3"], qk_matmul_output_mode=3),
        H.make_node("AffineGrid", ["theta3", "size3"], ["grid3"], align_corners=1),
    ]
    bmask = RNG.random((B, 1, S, T)) > 0.3
    bmask[..., 0] = True
    inits = [init("gamma2", 1 + rand(1, Hq * D, scale=0.1)),
             init("cos3", np.cos(rand(B, S, 2)).astype(np.float32)),
             init("sin3", np.sin(rand(B, S, 2)).astype(np.float32)),
             init("k3", rand(B, S, Hkv * D)), init("v3", rand(B, S, Hkv * 5)),
             init("bmask", bmask), init("pk", rand(B, Hkv, P, D)), init("pv", rand(B, Hkv, P, 5)),
             init("q4", rand(B, Hq, S, D)), init("k4", rand(B, Hq, 5, D)), init("v4", rand(B, Hq, 5, 3)),
             init("fmask", rand(S, 5, scale=1.0)),
             init("theta3", rand(2, 3, 4, scale=0.5) + np.eye(3, 4, dtype=np.float32)),
             init("size3", np.array([2, 1, 3, 4, 5], np.int64))]
    outs = ["rms2", "rot3", "a1", "present_k", "present_v", "qk1", "a2", "qk2", "a3", "qk3", "grid3"]
    m = mk(n, [vi("x", TP.FLOAT, [B, S, Hq * D])], [vi(o, TP.FLOAT, None) for o in outs], inits, 23,
           "opset23_llm_ops_variants")
    m.ir_version = 10
    return m, [dict(name="x", dtype="float32", shape=[B, S, Hq * D])], dict(cases=[{}])


@graph_model("int8_per_channel")
def _():
    """onnxruntime quantiser output with per_channel=True and signed activations (QuantType.QInt8):
    QLinearConv with per-output-channel weight scales, int8 activations, QGemm (com.microsoft)."""
    C = 6
    wq = RNG.integers(-100, 100, (C, 3, 3, 3)).astype(np.int8)
    n = [
        H.make_node("QuantizeLinear", ["x", "xs", "xz"], ["xq"]),
        H.make_node("QLinearConv", ["xq", "xs", "xz", "wq", "ws", "wz", "ys", "yz", "bq"], ["cq"], pads=[0, 1, 1, 0],
                    group=1, dilations=[2, 1]),
        H.make_node("DequantizeLinear", ["wq", "ws", "wz"], ["wdq"], axis=0),
        H.make_node("Flatten", ["cq"], ["fq"]),
        H.make_node("QGemm", ["fq", "ys", "yz", "gb", "gs", "gz", "gc", "ys2", "yz"], ["qg"], domain="com.microsoft",
                    transB=1, alpha=1.0),
    ]
    inits = [init("xs", np.float32(0.008)), init("xz", np.int8(-3)), init("wq", wq),
             init("ws", RNG.uniform(0.002, 0.006, C).astype(np.float32)), init("wz", np.zeros(C, np.int8)),
             init("ys", np.float32(0.03)), init("yz", np.int8(5)), init("bq", RNG.integers(-800, 800, C).astype(np.int32)),
             init("gb", RNG.integers(-90, 90, (4, C * 4 * 5)).astype(np.int8)), init("gs", np.float32(0.004)),
             init("gz", np.int8(0)), init("gc", RNG.integers(-300, 300, 4).astype(np.int32)), init("ys2", np.float32(0.05))]
    g = H.make_graph(n, "int8_per_channel", [vi("x", TP.FLOAT, ["batch", 3, 7, 6])],
                     [vi("cq", TP.INT8, None), vi("wdq", TP.FLOAT, None), vi("qg", TP.INT8, None)], inits)
    m = H.make_model(g, opset_imports=[H.make_opsetid("", 13), H.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m, [dict(name="x", dtype="float32", shape=["batch", 3, 7, 6])], {}


@graph_model("matmul_nbits")
def _():
    """com.microsoft MatMulNBits: 4-bit block-quantised LLM weights (onnxruntime's int4 weight-only
    quantiser output), with and without zero points."""
    K, N, blk = 64, 10, 32
    nb = K // blk
    q = RNG.integers(0, 16, (N, nb, blk)).astype(np.uint8)
    packed = (q[:, :, 0::2] | (q[:, :, 1::2] << 4)).astype(np.uint8)
    zp = RNG.integers(0, 16, (N, nb)).astype(np.uint8)
    zp_packed = np.zeros((N, (nb + 1) // 2), np.uint8)
    for i in range(nb):
        zp_packed[:, i // 2] |= zp[:, i] << (4 * (i % 2))
    n = [
        H.make_node("MatMulNBits", ["x", "wq", "sc", "zp"], ["y"], domain="com.microsoft", K=K, N=N, bits=4,
                    block_size=blk),
        H.make_node("MatMulNBits", ["x", "wq", "sc"], ["y_nozp"], domain="com.microsoft", K=K, N=N, bits=4,
                    block_size=blk),
    ]
    inits = [init("wq", packed), init("sc", RNG.uniform(0.01, 0.05, N * nb).astype(np.float32)), init("zp", zp_packed)]
    g = H.make_graph(n, "matmul_nbits", [vi("x", TP.FLOAT, ["batch", 3, K])],
                     [vi("y", TP.FLOAT, None), vi("y_nozp", TP.FLOAT, None)], inits)
    m = H.make_model(g, opset_imports=[H.make_opsetid("", 17), H.make_opsetid("com.microsoft", 1)])
    m.ir_version = 8
    return m, [dict(name="x", dtype="float32", shape=["batch", 3, K])], {}


@graph_model("graph_edge_cases")
def _():
    """Graph plumbing exporters produce now and then: an output that is a graph input, an output that is
    an initializer, one tensor listed as two outputs... (ONNX forbids duplicate output names, so the same
    value leaves through an Identity), an unused graph input, an unused node output, a node whose output
    feeds both an output and further nodes, and a Constant folded straight to an output."""
    n = [
        H.make_node("Relu", ["x"], ["r"]),
        H.make_node("Identity", ["r"], ["r_again"]),
        H.make_node("Mul", ["r", "c"], ["m"]),
        H.make_node("Split", ["x"], ["s0", "s1_unused"], axis=1),
        H.make_node("Add", ["s0", "m_half"], ["s0p"]),
        H.make_node("Slice", ["m", "st", "en", "axs"], ["m_half"]),
        H.make_node("Constant", [], ["k"], value=NH.from_array(np.array([1.5, -2.0], np.float32))),
        H.make_node("Identity", ["x"], ["x_id"]),
    ]
    inits = [init("c", np.float32(3.0)), init("w_out", rand(2, 3)), init("st", np.array([0], np.int64)),
             init("en", np.array([2], np.int64)), init("axs", np.array([1], np.int64))]
    m = mk(n, [vi("x", TP.FLOAT, ["batch", 4]), vi("unused", TP.FLOAT, [2])],
           [vi(o, TP.FLOAT, None) for o in ["x", "w_out", "r", "r_again", "m", "s0p", "k", "x_id"]], inits, 13,
           "graph_edge_cases")
    return m, [dict(name="x", dtype="float32", shape=["batch", 4]), dict(name="unused", dtype="float32", shape=[2])], {}


@graph_model("ort_fused_conv_gemm")
def _():
    """com.microsoft FusedConv / FusedGemm: what onnxruntime writes when a session saves its optimised
    graph (optimized_model_filepath, 'extended' level) and that file is then served elsewhere."""
    ms = "com.microsoft"
    n = [
        H.make_node("FusedConv", ["x", "w", "b"], ["c"], domain=ms, activation="Relu", pads=[1, 1, 1, 1],
                    kernel_shape=[3, 3]),
        H.make_node("FusedConv", ["x", "w", "b", "c"], ["c2"], domain=ms, activation="LeakyRelu",
                    activation_params=[0.2], pads=[1, 1, 1, 1], kernel_shape=[3, 3]),
        H.make_node("Flatten", ["c2"], ["f"]),
        H.make_node("FusedGemm", ["f", "gw", "gb"], ["y"], domain=ms, transB=1, activation="Tanh"),
    ]
    inits = [init("w", rand(4, 3, 3, 3)), init("b", rand(4)), init("gw", rand(5, 4 * 5 * 5, scale=0.05)),
             init("gb", rand(5))]
    g = H.make_graph(n, "ort_fused_conv_gemm", [vi("x", TP.FLOAT, ["batch", 3, 5, 5])],
                     [vi("c", TP.FLOAT, None), vi("y", TP.FLOAT, None)], inits)
    m = H.make_model(g, opset_imports=[H.make_opsetid("", 13), H.make_opsetid(ms, 1)])
    m.ir_version = 8
    return m, [dict(name="x", dtype="float32", shape=["batch", 3, 5, 5])], {}
