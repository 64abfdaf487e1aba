#!/usr/bin/python3
"""Writes a tiny model folder for the UI test: an ONNX graph that echoes a
1-D string tensor (Identity), plus a serving.yaml with its contract."""
import os
import sys

import onnx
from onnx import TensorProto, helper

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
graph = helper.make_graph(
    [helper.make_node("Identity", ["input"], ["output"])],
    "echo",
    [helper.make_tensor_value_info("input", TensorProto.STRING, [-1])],
    [helper.make_tensor_value_info("output", TensorProto.STRING, [-1])],
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, os.path.join(out, "model.onnx"))
with open(os.path.join(out, "serving.yaml"), "w") as f:
    f.write("""kind: Model
name: echo
runtime: mlambda-onnx
contract:
  inputs:
    input: {shape: [-1], type: string, profile: text}
  outputs:
    output: {shape: [-1], type: string, profile: text}
metadata:
  purpose: web UI test
""")
