#!/usr/bin/python3
"""Builds the benchmark models into bench/models/ (generated, not committed)
and writes bench/models/manifest.json describing their inputs.

Models: an MLP, a small MNIST-size CNN, a ResNet-style block stack, a
BERT-tiny-style transformer encoder (PyTorch exports), a tree ensemble
(ai.onnx.ml, built with onnx.helper), and the seq2seq example."""
import json
import os
import sys

import numpy as np
import onnx
import onnx.numpy_helper
import torch
from onnx import TensorProto, helper
from torch import nn

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "models")


def export(module, example, path, input_names, output_names, dynamic):
    module.eval()
    with torch.no_grad():
        torch.onnx.export(module, example, path, opset_version=17, input_names=input_names,
                          output_names=output_names, dynamic_axes=dynamic)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(784, 512), nn.ReLU(), nn.Linear(512, 512), nn.ReLU(), nn.Linear(512, 10))

    def forward(self, x):
        return self.net(x)


class MnistCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                                      nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))
        self.fc = nn.Sequential(nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(), nn.Linear(128, 10))

    def forward(self, x):
        return self.fc(self.features(x))


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c1, self.b1 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)
        self.c2, self.b2 = nn.Conv2d(c, c, 3, padding=1, bias=False), nn.BatchNorm2d(c)

    def forward(self, x):
        y = torch.relu(self.b1(self.c1(x)))
        return torch.relu(x + self.b2(self.c2(y)))


class ResNetStack(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1, bias=False), nn.BatchNorm2d(32), nn.ReLU())
        self.blocks = nn.Sequential(*[Block(32) for _ in range(4)])
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(32, 10))

    def forward(self, x):
        return self.head(self.blocks(self.stem(x)))


class EncoderLayer(nn.Module):
    """Post-norm BERT layer written out so the export is plain MatMul/Softmax/LayerNorm/Erf."""

    def __init__(self, d, heads, ff):
        super().__init__()
        self.h, self.dk = heads, d // heads
        self.qkv = nn.Linear(d, 3 * d)
        self.o = nn.Linear(d, d)
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.ff1, self.ff2 = nn.Linear(d, ff), nn.Linear(ff, d)

    def forward(self, x):
        b, t, d = x.shape
        q, k, v = self.qkv(x).split(d, dim=2)
        q = q.reshape(b, t, self.h, self.dk).transpose(1, 2)
        k = k.reshape(b, t, self.h, self.dk).transpose(1, 2)
        v = v.reshape(b, t, self.h, self.dk).transpose(1, 2)
        att = torch.softmax(q @ k.transpose(-1, -2) / self.dk ** 0.5, dim=-1)
        y = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = self.ln1(x + self.o(y))
        return self.ln2(x + self.ff2(nn.functional.gelu(self.ff1(x))))


class TinyBert(nn.Module):
    def __init__(self, vocab=1000, d=128, layers=2, heads=2, ff=512, max_len=128):
        super().__init__()
        self.tok, self.pos = nn.Embedding(vocab, d), nn.Embedding(max_len, d)
        self.ln = nn.LayerNorm(d)
        self.layers = nn.ModuleList([EncoderLayer(d, heads, ff) for _ in range(layers)])
        self.pool = nn.Linear(d, d)

    def forward(self, ids):
        pos = torch.arange(ids.shape[1]).unsqueeze(0)
        x = self.ln(self.tok(ids) + self.pos(pos))
        for layer in self.layers:
            x = layer(x)
        return torch.tanh(self.pool(x[:, 0]))


class AttentionCore(nn.Module):
    """softmax(q k^T / sqrt(d) + mask) v over 12 heads, as BERT-base exports it (the graph
    optimiser fuses it into one ScaledDotProductAttention)."""

    def forward(self, q, k, v, mask):
        return torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5 + mask, dim=-1) @ v


def tree_ensemble(path, n_trees=100, depth=6, n_features=20, seed=3):
    rng = np.random.default_rng(seed)
    attrs = {k: [] for k in ("nodes_treeids", "nodes_nodeids", "nodes_featureids", "nodes_values", "nodes_modes",
                             "nodes_truenodeids", "nodes_falsenodeids", "target_treeids", "target_nodeids",
                             "target_ids", "target_weights")}
    for t in range(n_trees):
        n_internal = 2 ** depth - 1
        for node in range(2 ** (depth + 1) - 1):
            attrs["nodes_treeids"].append(t)
            attrs["nodes_nodeids"].append(node)
            if node < n_internal:
                attrs["nodes_featureids"].append(int(rng.integers(n_features)))
                attrs["nodes_values"].append(float(rng.normal()))
                attrs["nodes_modes"].append("BRANCH_LEQ")
                attrs["nodes_truenodeids"].append(2 * node + 1)
                attrs["nodes_falsenodeids"].append(2 * node + 2)
            else:
                attrs["nodes_featureids"].append(0)
                attrs["nodes_values"].append(0.0)
                attrs["nodes_modes"].append("LEAF")
                attrs["nodes_truenodeids"].append(0)
                attrs["nodes_falsenodeids"].append(0)
                attrs["target_treeids"].append(t)
                attrs["target_nodeids"].append(node)
                attrs["target_ids"].append(0)
                attrs["target_weights"].append(float(rng.normal() * 0.1))
    node = helper.make_node("TreeEnsembleRegressor", ["X"], ["Y"], domain="ai.onnx.ml", n_targets=1,
                            aggregate_function="SUM", **attrs)
    graph = helper.make_graph([node], "trees", [helper.make_tensor_value_info("X", TensorProto.FLOAT, ["N", n_features])],
                              [helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["N", 1])])
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("ai.onnx.ml", 3)])
    m.ir_version = 8
    onnx.save(m, path)


def main():
    os.makedirs(OUT, exist_ok=True)
    torch.manual_seed(0)
    dyn = lambda *names: {n: {0: "batch"} for n in names}
    export(MLP(), torch.randn(1, 784), os.path.join(OUT, "mlp.onnx"), ["x"], ["y"], dyn("x", "y"))
    export(MnistCNN(), torch.randn(1, 1, 28, 28), os.path.join(OUT, "cnn_mnist.onnx"), ["x"], ["y"], dyn("x", "y"))
    res = ResNetStack()
    for mod in res.modules():  # non-trivial batch-norm statistics
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1)
            mod.running_var.uniform_(0.5, 1.5)
    export(res, torch.randn(1, 3, 32, 32), os.path.join(OUT, "resnet_blocks.onnx"), ["x"], ["y"], dyn("x", "y"))
    export(TinyBert(), torch.zeros(1, 64, dtype=torch.long), os.path.join(OUT, "bert_tiny.onnx"), ["ids"], ["pooled"],
           dyn("ids", "pooled"))
    s, h = 256, 12
    export(AttentionCore(), (torch.randn(1, h, s, 64), torch.randn(1, h, s, 64), torch.randn(1, h, s, 64),
                             torch.zeros(1, 1, 1, s)),
           os.path.join(OUT, "attention.onnx"), ["q", "k", "v", "mask"], ["y"], dyn("q", "k", "v", "mask", "y"))
    tree_ensemble(os.path.join(OUT, "trees.onnx"))
    seq2seq = os.path.join(HERE, "..", "examples", "seq2seq", "model", "model.onnx")
    manifest = [
        {"name": "mlp", "file": "mlp.onnx", "inputs": [{"name": "x", "dtype": "float32", "shape": ["B", 784]}]},
        {"name": "seq2seq", "file": os.path.abspath(seq2seq), "batches": [1],
         "inputs": [{"name": "input", "dtype": "string", "shape": [4], "values": ["how", "does", "honey", "taste"]}]},
        {"name": "cnn_mnist", "file": "cnn_mnist.onnx", "inputs": [{"name": "x", "dtype": "float32", "shape": ["B", 1, 28, 28]}]},
        {"name": "resnet_blocks", "file": "resnet_blocks.onnx",
         "inputs": [{"name": "x", "dtype": "float32", "shape": ["B", 3, 32, 32]}]},
        {"name": "bert_tiny", "file": "bert_tiny.onnx",
         "inputs": [{"name": "ids", "dtype": "int64", "shape": ["B", 64], "max": 1000}]},
        {"name": "attention", "file": "attention.onnx", "batches": [1],
         "inputs": [{"name": n, "dtype": "float32", "shape": ["B", 12, 256, 64]} for n in "qkv"] +
                   [{"name": "mask", "dtype": "float32", "shape": ["B", 1, 1, 256]}]},
        {"name": "trees", "file": "trees.onnx", "inputs": [{"name": "X", "dtype": "float32", "shape": ["B", 20]}]},
    ]
    with open(os.path.join(OUT, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
    print(f"wrote {len(manifest)} models to {OUT}")


def big_mlp(path, dims=(1024, 4096, 4096, 10), seed=0):
    """A memory-bound MLP (84 MB of weights, more than the caches): each batch-1 run streams
    every weight from memory, so a shared batch run costs little more than one row. For
    bench/batching_bench.sh (BENCH_MODEL); not in the engine manifest."""
    rng = np.random.default_rng(seed)
    nodes, inits, cur = [], [], "x"
    for i in range(len(dims) - 1):
        w = (rng.standard_normal((dims[i], dims[i + 1])) / np.sqrt(dims[i])).astype(np.float32)
        inits += [onnx.numpy_helper.from_array(w, f"w{i}"),
                  onnx.numpy_helper.from_array(np.zeros(dims[i + 1], np.float32), f"b{i}")]
        nodes += [helper.make_node("MatMul", [cur, f"w{i}"], [f"m{i}"]),
                  helper.make_node("Add", [f"m{i}", f"b{i}"], [f"a{i}"])]
        cur = f"a{i}"
        if i < len(dims) - 2:
            nodes.append(helper.make_node("Relu", [cur], [f"r{i}"]))
            cur = f"r{i}"
    nodes.append(helper.make_node("Identity", [cur], ["y"]))
    g = helper.make_graph(nodes, "big_mlp", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["B", dims[0]])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["B", dims[-1]])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, path)


if __name__ == "__main__":
    if sys.argv[1:] == ["--big-mlp"]:
        os.makedirs(OUT, exist_ok=True)
        big_mlp(os.path.join(OUT, "mlp_big.onnx"))
        sys.exit(0)
    sys.exit(main())
