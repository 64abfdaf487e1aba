"""Small models for the gRPC tests: a string echo and a float adder."""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(folder, graph, serving):
    os.makedirs(folder, exist_ok=True)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, os.path.join(folder, "model.onnx"))
    with open(os.path.join(folder, "serving.yaml"), "w") as f:
        f.write(serving)


def main(out):
    save(os.path.join(out, "echo"), helper.make_graph(
        [helper.make_node("Identity", ["input"], ["output"])], "echo",
        [helper.make_tensor_value_info("input", TensorProto.STRING, [-1])],
        [helper.make_tensor_value_info("output", TensorProto.STRING, [-1])]),
        "kind: Model\nname: echo\n")
    save(os.path.join(out, "add"), helper.make_graph(
        [helper.make_node("Add", ["a", "b"], ["sum"])], "add",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [-1, 2]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [-1, 2])],
        [helper.make_tensor_value_info("sum", TensorProto.FLOAT, [-1, 2])]),
        "kind: Model\nname: add\n")

    # "slow": 200 chained 512x512 matrix products (~27 GFLOP at 256 rows), for deadline tests.
    w = numpy_helper.from_array((np.eye(512, dtype=np.float32) * 0.5), "w")
    nodes, cur = [], "x"
    for i in range(200):
        nodes.append(helper.make_node("MatMul", [cur, "w"], [f"h{i}"]))
        cur = f"h{i}"
    nodes.append(helper.make_node("Identity", [cur], ["y"]))
    save(os.path.join(out, "slow"), helper.make_graph(
        nodes, "slow", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [-1, 512])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [-1, 512])], initializer=[w]),
        "kind: Model\nname: slow\n")


if __name__ == "__main__":
    main(sys.argv[1])
