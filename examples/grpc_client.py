#!/usr/bin/python3
"""Calls an mlambda application over gRPC the way the seed walkthrough did:
a TF-Serving PredictRequest whose model_spec names the application, a
DT_STRING input, and the PredictResponse printed in protobuf text format.

  examples/grpc_client.py [--server 127.0.0.1:9091] [--app seq2seq] [--input input] hello there

Needs Debian's python3-grpcio and python3-grpc-tools (stubs are generated
from src/api/grpc/proto at start-up; nothing generated is committed)."""
import argparse
import os
import sys

import grpc

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "grpc"))
import grpc_stubs  # noqa: E402

grpc_stubs.load()
from tensorflow.core.framework import tensor_pb2, types_pb2  # noqa: E402
from tensorflow_serving.apis import predict_pb2  # noqa: E402
from tensorflow_serving.apis import prediction_service_pb2_grpc  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--server", default="127.0.0.1:9091")
    p.add_argument("--app", default="seq2seq", help="application (or model) name")
    p.add_argument("--input", default="input", help="input tensor name")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("words", nargs="*", default=["hello"])
    args = p.parse_args()

    stub = prediction_service_pb2_grpc.PredictionServiceStub(grpc.insecure_channel(args.server))
    req = predict_pb2.PredictRequest()
    req.model_spec.name = args.app
    tokens = [w.encode() for w in args.words]
    t = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=tokens)
    t.tensor_shape.dim.add(size=len(tokens))
    req.inputs[args.input].CopyFrom(t)
    try:
        res = stub.Predict(req, timeout=args.timeout)
    except grpc.RpcError as e:
        print(f"error: {e.code().name}: {e.details()}", file=sys.stderr)
        return 1
    print(res)
    return 0


if __name__ == "__main__":
    sys.exit(main())
