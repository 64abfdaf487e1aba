"""Generates Python gRPC stubs from mlambda's own .proto files at run time
(Debian's python3-grpc-tools), so no generated code is committed.
The google/protobuf well-known types come from python3-protobuf itself."""
import os
import subprocess
import sys
import tempfile

PROTO_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "api", "grpc", "proto")


def load(proto_dir=PROTO_DIR):
    out = tempfile.mkdtemp(prefix="mlambda-stubs-")
    protos = []
    for root, _, files in os.walk(proto_dir):
        for f in files:
            rel = os.path.relpath(os.path.join(root, f), proto_dir)
            if f.endswith(".proto") and not rel.startswith("google"):
                protos.append(rel)
    subprocess.run([sys.executable, "-m", "grpc_tools.protoc", f"-I{proto_dir}", f"--python_out={out}",
                    f"--grpc_python_out={out}"] + sorted(protos), check=True)
    sys.path.insert(0, out)
    return out
