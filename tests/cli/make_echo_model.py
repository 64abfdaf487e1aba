"""Writes a tiny ONNX model: Identity on a 1-D string tensor (input -> output).

usage: make_echo_model.py OUT.onnx [DOC [INPUT_NAME OUTPUT_NAME]]
DOC changes the bytes, not the behaviour; the names default to input/output.
"""
import sys

import onnx
from onnx import TensorProto, helper

out = sys.argv[1]
doc = sys.argv[2] if len(sys.argv) > 2 else "echo"
in_name = sys.argv[3] if len(sys.argv) > 3 else "input"
out_name = sys.argv[4] if len(sys.argv) > 4 else "output"
graph = helper.make_graph(
    [helper.make_node("Identity", [in_name], [out_name])],
    "echo",
    [helper.make_tensor_value_info(in_name, TensorProto.STRING, ["N"])],
    [helper.make_tensor_value_info(out_name, TensorProto.STRING, ["N"])],
    doc_string=doc,
)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, out)
