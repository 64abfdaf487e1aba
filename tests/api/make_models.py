#!/usr/bin/env python3
"""Builds the tiny ONNX models the HTTP tests upload, each packed as a
tar.gz model folder. Usage: make_models.py OUTDIR

  ident.tgz   Identity over strings: input "input" [-1] -> "output"; serving.yaml
  double.tgz  y = x + x  (float [-1]) ; no serving.yaml (contract derived)
  square.tgz  y = x * x  (float [-1]) ; same contract as double (split tests)
  pre.tgz     h = x + x  (float [-1])  stage 1 of a pipeline
  post.tgz    y = h * h  (float [-1])  stage 2 (its input is stage 1's output)
  add2.tgz    z = a + b  (float [-1,2]) two inputs
  bdouble.tgz y = x + x  (float [-1,2]) with batching: {max_batch_size: 8, instances: 2}
  bpref.tgz   bdouble with preferred_batch_sizes [2] and a 1 s delay
  bsum.tgz    y = sum(x) (float [1,1])  with batching (not batchable: runs alone)
  spin.tgz    y = x + 10^12 one at a time (a Loop that never ends in practice),
              for request deadlines
  clf.tgz     scikit-learn-style classifier as skl2onnx exports it: LinearClassifier
              (3 classes 10/20/30) -> "label" [N] int64 and Normalizer -> ZipMap ->
              "probabilities", a sequence of maps; no serving.yaml (derived contract)
"""
import io
import os
import sys
import tarfile

import onnx
from onnx import TensorProto, helper


def model(name, nodes, inputs, outputs):
    g = helper.make_graph(nodes, name, inputs, outputs)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], producer_name="mlambda-tests")
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m.SerializeToString()


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


def seq_of_maps_type(key, value):
    """sequence(map(key, tensor(value))); onnx 1.12's helper has no map builder."""
    t = onnx.TypeProto()
    mt = t.sequence_type.elem_type.map_type
    mt.key_type = key
    mt.value_type.tensor_type.elem_type = value
    return t


def pack(path, files, top=None):
    with tarfile.open(path, "w:gz") as tar:
        for fname, data in files.items():
            info = tarfile.TarInfo((top + "/" if top else "") + fname)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))


def main(out):
    os.makedirs(out, exist_ok=True)
    F = TensorProto.FLOAT
    ident = model("ident", [helper.make_node("Identity", ["input"], ["output"])],
                  [vi("input", TensorProto.STRING, [-1])], [vi("output", TensorProto.STRING, [-1])])
    serving = b"""kind: Model
name: ident
runtime: mlambda-onnx
contract:
  predict:
    inputs:
      input: {shape: [-1], type: string, profile: text}
    outputs:
      output: {shape: [-1], type: string, profile: text}
metadata: {author: "tests"}
"""
    pack(os.path.join(out, "ident.tgz"), {"model.onnx": ident, "serving.yaml": serving}, top="ident")
    double = model("double", [helper.make_node("Add", ["x", "x"], ["y"])], [vi("x", F, ["n"])], [vi("y", F, ["n"])])
    pack(os.path.join(out, "double.tgz"), {"double.onnx": double})
    square = model("square", [helper.make_node("Mul", ["x", "x"], ["y"])], [vi("x", F, ["n"])], [vi("y", F, ["n"])])
    pack(os.path.join(out, "square.tgz"), {"square.onnx": square})
    pre = model("pre", [helper.make_node("Add", ["x", "x"], ["h"])], [vi("x", F, ["n"])], [vi("h", F, ["n"])])
    pack(os.path.join(out, "pre.tgz"), {"model.onnx": pre, "serving.yaml": b"kind: Model\nname: pre\n"})
    post = model("post", [helper.make_node("Mul", ["h", "h"], ["y"])], [vi("h", F, ["n"])], [vi("y", F, ["n"])])
    pack(os.path.join(out, "post.tgz"), {"model.onnx": post, "serving.yaml": b"kind: Model\nname: post\n"})
    add2 = model("add2", [helper.make_node("Add", ["a", "b"], ["z"])], [vi("a", F, ["n", 2]), vi("b", F, ["n", 2])],
                 [vi("z", F, ["n", 2])])
    pack(os.path.join(out, "add2.tgz"), {"add2.onnx": add2})
    # Dynamic batching: elementwise (batches) and a full reduction (cannot
    # batch: its output has no batch dimension, so requests run alone).
    bdouble = model("bdouble", [helper.make_node("Add", ["x", "x"], ["y"])], [vi("x", F, ["n", 2])],
                    [vi("y", F, ["n", 2])])
    batching = b"kind: Model\nname: %s\nbatching: {max_batch_size: 8, max_queue_delay_us: 20000}\n"
    # bdouble may run two batches at once (two threads take from its queue)
    pack(os.path.join(out, "bdouble.tgz"),
         {"model.onnx": bdouble,
          "serving.yaml": b"kind: Model\nname: bdouble\n"
                          b"batching: {max_batch_size: 8, max_queue_delay_us: 20000, instances: 2}\n"})
    # bpref: preferred batch size 2 with a long (1 s) delay, so pairs go at once
    pack(os.path.join(out, "bpref.tgz"),
         {"model.onnx": bdouble,
          "serving.yaml": b"kind: Model\nname: bpref\nbatching: {max_batch_size: 8, "
                          b"max_queue_delay_us: 1000000, preferred_batch_sizes: [2]}\n"})
    bsum = model("bsum", [helper.make_node("ReduceSum", ["x"], ["y"], keepdims=1)], [vi("x", F, ["n", 2])],
                 [vi("y", F, [1, 1])])
    pack(os.path.join(out, "bsum.tgz"), {"model.onnx": bsum, "serving.yaml": batching % b"bsum"})
    # A Loop of 10^12 iterations: only a deadline ends it.
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]),
         helper.make_node("Add", ["v_in", "one"], ["v_out"])],
        "spin_body",
        [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []), vi("v_in", F, ["n"])],
        [vi("cond_out", TensorProto.BOOL, []), vi("v_out", F, ["n"])],
        [helper.make_tensor("one", F, [], [1.0])])
    spin = model("spin", [
        helper.make_node("Constant", [], ["trips"], value=helper.make_tensor("t", TensorProto.INT64, [], [10**12])),
        helper.make_node("Constant", [], ["go"], value=helper.make_tensor("g", TensorProto.BOOL, [], [True])),
        helper.make_node("Loop", ["trips", "go", "x"], ["y"], body=body)],
        [vi("x", F, ["n"])], [vi("y", F, ["n"])])
    pack(os.path.join(out, "spin.tgz"), {"spin.onnx": spin})
    # skl2onnx's classifier layout: label + ZipMap'd probabilities.
    I64 = TensorProto.INT64
    clf_nodes = [
        helper.make_node("LinearClassifier", ["x"], ["label", "scores"], domain="ai.onnx.ml",
                         classlabels_ints=[10, 20, 30], coefficients=[1.0, 0.0, 0.0, 1.0, -1.0, -1.0],
                         intercepts=[0.0, 0.0, 0.5], post_transform="SOFTMAX"),
        helper.make_node("ZipMap", ["scores"], ["probabilities"], domain="ai.onnx.ml",
                         classlabels_int64s=[10, 20, 30]),
    ]
    g = helper.make_graph(clf_nodes, "clf", [vi("x", F, ["n", 2])],
                          [vi("label", I64, ["n"]),
                           helper.make_value_info("probabilities", seq_of_maps_type(I64, F))])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("ai.onnx.ml", 1)],
                          producer_name="mlambda-tests")
    m.ir_version = 8
    onnx.checker.check_model(m)
    pack(os.path.join(out, "clf.tgz"), {"clf.onnx": m.SerializeToString()})
    # Hostile archives: path traversal and a symlink.
    with tarfile.open(os.path.join(out, "evil.tgz"), "w:gz") as tar:
        info = tarfile.TarInfo("../escape.onnx")
        info.size = len(double)
        tar.addfile(info, io.BytesIO(double))
    with tarfile.open(os.path.join(out, "symlink.tgz"), "w:gz") as tar:
        info = tarfile.TarInfo("model.onnx")
        info.type = tarfile.SYMTYPE
        info.linkname = "/etc/passwd"
        tar.addfile(info)
    with open(os.path.join(out, "garbage.tgz"), "wb") as f:
        f.write(b"this is not a tar.gz archive at all" * 10)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "models")
