#!/usr/bin/python3
"""gRPC API tests against a live `mlambda serve` on 127.0.0.1: both services
(KServe V2 GRPCInferenceService, TF-Serving PredictionService), string and
float models, an application addressed through model_spec.name, and the error
paths (wrong dtype, unknown model, oversized message, deadline).

Usage: test_grpc.py PATH/TO/mlambda"""
import io
import json
import re
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import traceback
import urllib.request

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import grpc_stubs  # noqa: E402
import make_models  # noqa: E402

grpc_stubs.load()
from kserve import grpc_predict_v2_pb2 as kv2  # noqa: E402
from kserve import grpc_predict_v2_pb2_grpc as kv2_grpc  # noqa: E402
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2, types_pb2  # noqa: E402
from tensorflow_serving.apis import get_model_metadata_pb2, predict_pb2  # noqa: E402
from tensorflow_serving.apis import prediction_service_pb2_grpc as tf_grpc  # noqa: E402

MAX_MESSAGE = 1 << 20  # the server is started with this limit
passed = failed = 0


def check(name, fn):
    global passed, failed
    try:
        fn()
        passed += 1
        print(f"PASS {name}", flush=True)
    except Exception as e:  # noqa: BLE001 - report any failure and go on
        failed += 1
        print(f"FAIL {name}: {e}", flush=True)
        traceback.print_exc()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http(base, method, path, body=None, ctype="application/json"):
    req = urllib.request.Request(base + path, data=body, method=method, headers={"Content-Type": ctype})
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.loads(r.read() or b"null")


def tar_gz(folder):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as t:
        for f in sorted(os.listdir(folder)):
            t.add(os.path.join(folder, f), arcname=f)
    return buf.getvalue()


def expect_code(call, code, text=None):
    try:
        call()
    except grpc.RpcError as e:
        assert e.code() == code, f"expected {code}, got {e.code()}: {e.details()}"
        if text:
            assert text in e.details(), f"'{text}' not in '{e.details()}'"
        return e
    raise AssertionError(f"expected {code}, the call succeeded")


def string_tensor(values, shape=None):
    t = tensor_pb2.TensorProto(dtype=types_pb2.DT_STRING, string_val=[v.encode() for v in values])
    t.tensor_shape.CopyFrom(tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=s) for s in (shape or [len(values)])]))
    return t


def main(binary):
    work = tempfile.mkdtemp(prefix="mlambda-grpc-")
    make_models.main(work)
    port_file = os.path.join(work, "port")
    grpc_port = free_port()
    server = subprocess.Popen([binary, "serve", "--host", "127.0.0.1", "--port", "0", "--port-file", port_file,
                               "--grpc-port", str(grpc_port), "--grpc-max-message", str(MAX_MESSAGE),
                               "--grpc-workers", "8",
                               "--data-dir", os.path.join(work, "data")])
    try:
        for _ in range(200):
            if os.path.exists(port_file) and open(port_file).read().strip():
                break
            time.sleep(0.05)
        base = f"http://127.0.0.1:{open(port_file).read().strip()}"
        for name in ("echo", "add", "slow"):
            http(base, "POST", f"/api/v2/models/upload?name={name}", tar_gz(os.path.join(work, name)),
                 "application/gzip")
        http(base, "PUT", "/api/v2/applications/chat",
             json.dumps({"kind": "Application", "name": "chat", "singular": {"model": "echo:1"}}).encode())

        channel = grpc.insecure_channel(f"127.0.0.1:{grpc_port}")
        grpc.channel_ready_future(channel).result(timeout=10)
        kserve = kv2_grpc.GRPCInferenceServiceStub(channel)
        tf = tf_grpc.PredictionServiceStub(channel)
        run_checks(channel, kserve, tf, base)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            rc = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            rc = "killed"
        shutil.rmtree(work, ignore_errors=True)
    def clean_exit():
        assert rc == 0, f"exit status {rc}"
    check("server exits cleanly on SIGTERM", clean_exit)


def run_checks(channel, kserve, tf, base):
    def health():
        assert kserve.ServerLive(kv2.ServerLiveRequest()).live
        assert kserve.ServerReady(kv2.ServerReadyRequest()).ready
        md = kserve.ServerMetadata(kv2.ServerMetadataRequest())
        assert md.name == "mlambda", md
        assert kserve.ModelReady(kv2.ModelReadyRequest(name="echo")).ready
    check("kserve health and server metadata", health)

    def model_metadata():
        md = kserve.ModelMetadata(kv2.ModelMetadataRequest(name="add"))
        assert md.name == "add" and list(md.versions) == ["1"], md
        ins = {t.name: (t.datatype, list(t.shape)) for t in md.inputs}
        assert ins == {"a": ("FP32", [-1, 2]), "b": ("FP32", [-1, 2])}, ins
        assert [(t.name, t.datatype) for t in md.outputs] == [("sum", "FP32")]
    check("kserve ModelMetadata gives the contract", model_metadata)

    def infer_strings():
        req = kv2.ModelInferRequest(model_name="echo", id="req-1")
        t = req.inputs.add(name="input", datatype="BYTES", shape=[3])
        t.contents.bytes_contents.extend([b"hello", "sch\u00f6n".encode(), b""])
        res = kserve.ModelInfer(req)
        assert res.id == "req-1" and res.model_name == "echo" and res.model_version == "1", res
        out = res.outputs[0]
        assert out.name == "output" and out.datatype == "BYTES" and list(out.shape) == [3], out
        assert list(out.contents.bytes_contents) == [b"hello", "sch\u00f6n".encode(), b""]
    check("kserve ModelInfer with BYTES contents", infer_strings)

    def infer_raw():
        req = kv2.ModelInferRequest(model_name="echo", model_version="1")
        req.inputs.add(name="input", datatype="BYTES", shape=[2])
        req.raw_input_contents.append(struct.pack("<I", 2) + b"hi" + struct.pack("<I", 5) + b"there")
        res = kserve.ModelInfer(req)
        raw = res.raw_output_contents[0]
        assert raw == struct.pack("<I", 2) + b"hi" + struct.pack("<I", 5) + b"there", raw
    check("kserve ModelInfer with raw_input_contents (binary BYTES)", infer_raw)

    def infer_float():
        req = kv2.ModelInferRequest(model_name="add")
        a = req.inputs.add(name="a", datatype="FP32", shape=[2, 2])
        a.contents.fp32_contents.extend([1, 2, 3, 4])
        b = req.inputs.add(name="b", datatype="FP32", shape=[2, 2])
        b.contents.fp32_contents.extend([10, 20, 30, 40])
        req.outputs.add(name="sum")
        res = kserve.ModelInfer(req)
        assert list(res.outputs[0].contents.fp32_contents) == [11, 22, 33, 44], res
        assert list(res.outputs[0].shape) == [2, 2]
    check("kserve ModelInfer FP32 with requested outputs", infer_float)

    def wrong_dtype():
        req = kv2.ModelInferRequest(model_name="echo")
        t = req.inputs.add(name="input", datatype="FP32", shape=[1])
        t.contents.fp32_contents.append(1.0)
        expect_code(lambda: kserve.ModelInfer(req), grpc.StatusCode.INVALID_ARGUMENT, "input")
    check("wrong dtype is INVALID_ARGUMENT naming the field", wrong_dtype)

    def bad_count():
        req = kv2.ModelInferRequest(model_name="add")
        a = req.inputs.add(name="a", datatype="FP32", shape=[2, 2])
        a.contents.fp32_contents.extend([1, 2, 3])
        expect_code(lambda: kserve.ModelInfer(req), grpc.StatusCode.INVALID_ARGUMENT, "'a'")
    check("contents not matching the shape is INVALID_ARGUMENT", bad_count)

    def unknown_model():
        expect_code(lambda: kserve.ModelInfer(kv2.ModelInferRequest(model_name="nope")),
                    grpc.StatusCode.NOT_FOUND, "nope")
        expect_code(lambda: kserve.ModelReady(kv2.ModelReadyRequest(name="echo", version="9")),
                    grpc.StatusCode.NOT_FOUND)
    check("unknown model or version is NOT_FOUND", unknown_model)

    def oversized():
        req = kv2.ModelInferRequest(model_name="echo")
        t = req.inputs.add(name="input", datatype="BYTES", shape=[1])
        t.contents.bytes_contents.append(b"x" * (MAX_MESSAGE + 10))
        expect_code(lambda: kserve.ModelInfer(req), grpc.StatusCode.RESOURCE_EXHAUSTED)
    check("a message over the size limit is RESOURCE_EXHAUSTED", oversized)

    def tf_predict_app():
        req = predict_pb2.PredictRequest()
        req.model_spec.name = "chat"
        req.model_spec.signature_name = "predict"
        req.inputs["input"].CopyFrom(string_tensor(["how", "are", "you"]))
        res = tf.Predict(req)
        out = res.outputs["output"]
        assert out.dtype == types_pb2.DT_STRING, out
        assert list(out.string_val) == [b"how", b"are", b"you"], out
        assert [d.size for d in out.tensor_shape.dim] == [3]
        assert res.model_spec.name == "chat" and res.model_spec.signature_name == "predict"
    check("tf Predict on an application (model_spec.name) with DT_STRING", tf_predict_app)

    def tf_predict_model_version():
        req = predict_pb2.PredictRequest()
        req.model_spec.name = "add"
        req.model_spec.version.value = 1
        a = tensor_pb2.TensorProto(dtype=types_pb2.DT_DOUBLE, double_val=[1.5, 2.5])
        a.tensor_shape.dim.add(size=1)
        a.tensor_shape.dim.add(size=2)
        b = tensor_pb2.TensorProto(dtype=types_pb2.DT_FLOAT, float_val=[1.0])  # one value fills the shape
        b.tensor_shape.dim.add(size=1)
        b.tensor_shape.dim.add(size=2)
        req.inputs["a"].CopyFrom(a)
        req.inputs["b"].CopyFrom(b)
        res = tf.Predict(req)
        assert list(res.outputs["sum"].float_val) == [2.5, 3.5], res
        assert res.model_spec.version.value == 1
    check("tf Predict on a model version (double converted to the float contract)", tf_predict_model_version)

    def tf_errors():
        req = predict_pb2.PredictRequest()
        expect_code(lambda: tf.Predict(req), grpc.StatusCode.INVALID_ARGUMENT, "model_spec.name")
        req.model_spec.name = "missing"
        expect_code(lambda: tf.Predict(req), grpc.StatusCode.NOT_FOUND)
        req.model_spec.name = "echo"
        req.inputs["input"].CopyFrom(tensor_pb2.TensorProto(dtype=types_pb2.DT_INT64, int64_val=[1]))
        expect_code(lambda: tf.Predict(req), grpc.StatusCode.INVALID_ARGUMENT, "input")
    check("tf Predict errors: no name, unknown model, wrong dtype", tf_errors)

    def tf_metadata():
        req = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        req.model_spec.name = "echo"
        res = tf.GetModelMetadata(req)
        any_msg = res.metadata["signature_def"]
        sigs = get_model_metadata_pb2.SignatureDefMap()
        assert any_msg.Unpack(sigs), any_msg.type_url
        sig = sigs.signature_def["serving_default"]
        assert sig.inputs["input"].dtype == types_pb2.DT_STRING
        assert [d.size for d in sig.inputs["input"].tensor_shape.dim] == [-1]
        assert res.model_spec.version.value == 1
    check("tf GetModelMetadata returns the signature_def", tf_metadata)

    def deadline():
        slow = kv2.ModelInferRequest(model_name="slow")
        slow.inputs.add(name="x", datatype="FP32", shape=[256, 512]).contents.fp32_contents.extend([1.0] * 256 * 512)
        start = time.time()
        expect_code(lambda: kserve.ModelInfer(slow, timeout=0.05), grpc.StatusCode.DEADLINE_EXCEEDED)
        assert time.time() - start < 1.0, "the deadline did not end the call promptly"
        # the server passed the deadline to the engine, which stopped the run
        # (it would take seconds otherwise): the failure shows in the metrics
        stopped = False
        for _ in range(40):
            metrics = urllib.request.urlopen(base + "/metrics", timeout=10).read().decode()
            if re.search(r'mlambda_model_errors_total\{model="slow"[^}]*\} 1\b', metrics):
                stopped = True
                break
            time.sleep(0.025)
        assert stopped, "the server did not stop the run within 1 s of the deadline"
        # the server keeps serving: a call with a generous deadline succeeds
        req = kv2.ModelInferRequest(model_name="echo")
        req.inputs.add(name="input", datatype="BYTES", shape=[1]).contents.bytes_contents.append(b"x")
        assert kserve.ModelInfer(req, timeout=30).outputs[0].contents.bytes_contents == [b"x"]
    check("deadlines end calls and the server keeps serving", deadline)

    def unimplemented():
        method = channel.unary_unary("/inference.GRPCInferenceService/RepositoryIndex")
        expect_code(lambda: method(b""), grpc.StatusCode.UNIMPLEMENTED, "not implemented")
    check("an unknown method is UNIMPLEMENTED", unimplemented)

    def concurrent():
        errors = []

        def worker(i):
            try:
                req = kv2.ModelInferRequest(model_name="add")
                req.inputs.add(name="a", datatype="FP32", shape=[1, 2]).contents.fp32_contents.extend([i, i])
                req.inputs.add(name="b", datatype="FP32", shape=[1, 2]).contents.fp32_contents.extend([1, 2])
                for _ in range(20):
                    got = list(kserve.ModelInfer(req).outputs[0].contents.fp32_contents)
                    if got != [i + 1, i + 2]:
                        errors.append(f"{i}: {got}")
            except Exception as e:  # noqa: BLE001
                errors.append(str(e))
        threads = [threading.Thread(target=worker, args=(i,)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors[:3]
    check("16 concurrent clients x 20 calls get their own answers", concurrent)


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]))
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)
