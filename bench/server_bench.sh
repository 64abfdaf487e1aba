#!/usr/bin/env bash
# Server overhead benchmark: a trivial model (x + 1 on 16 floats) served by
# `mlambda serve`, measured over REST (KServe V2 /infer, with wrk) and gRPC
# (ModelInfer, bench_grpc_load) at concurrency 1, 8 and 64, against
#   (a) the direct in-process engine call (bench_engine), and
#   (b) nginx answering the same response bytes from memory (the HTTP ceiling
#       of this machine).
# Everything runs on 127.0.0.1 only.
#   bench/server_bench.sh BUILD_DIR [SECONDS]
# MLAMBDA_SERVE_ARGS adds flags to `mlambda serve` (e.g. "--http-threads 2").
set -euo pipefail
build=$(realpath "${1:-build}")
secs=${2:-5}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/wrk_common.sh"
work=$(mktemp -d /tmp/mlambda-srvbench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

/usr/bin/python3 - "$work/trivial" <<'PY'
import os, sys, onnx
from onnx import TensorProto, helper
out = sys.argv[1]; os.makedirs(out)
g = helper.make_graph([helper.make_node("Add", ["x", "one"], ["y"])], "trivial",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, [-1, 16])],
    [helper.make_tensor_value_info("y", TensorProto.FLOAT, [-1, 16])],
    initializer=[helper.make_tensor("one", TensorProto.FLOAT, [1], [1.0])])
m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]); m.ir_version = 8
onnx.save(m, os.path.join(out, "model.onnx"))
open(os.path.join(out, "serving.yaml"), "w").write("kind: Model\nname: trivial\n")
PY
tar -czf "$work/trivial.tgz" -C "$work/trivial" .

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
gport=$(free_port)
"$build/src/cli/mlambda" serve --host 127.0.0.1 --port 0 --port-file "$work/port" --grpc-port "$gport" \
  --data-dir "$work/data" --log-level warn ${MLAMBDA_SERVE_ARGS:-} &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
curl -sf -X POST "http://127.0.0.1:$port/api/v2/models/upload" -H 'Content-Type: application/gzip' \
  --data-binary @"$work/trivial.tgz" >/dev/null

body='{"inputs":[{"name":"x","datatype":"FP32","shape":[1,16],"data":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15]}]}'
response=$(curl -sf -X POST "http://127.0.0.1:$port/v2/models/trivial/infer" -H 'Content-Type: application/json' -d "$body")
echo "response (${#response} bytes): $response"

write_wrk_post "$work/post.lua" "$body"

nport=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx/nginx.conf" <<NGX
daemon off;
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $work/nginx;
  proxy_temp_path $work/nginx;
  fastcgi_temp_path $work/nginx;
  uwsgi_temp_path $work/nginx;
  scgi_temp_path $work/nginx;
  server {
    listen 127.0.0.1:$nport;
    location / { default_type application/json; return 200 '$response'; }
  }
}
NGX
nginx -c "$work/nginx/nginx.conf" -p "$work/nginx" &
pids+=($!)
sleep 0.5

direct=$("$build/bench/bench_engine" --model "$work/trivial/model.onnx" --spec '[{"name":"x","dtype":"float32","shape":["B",16]}]' \
  --batch 1 --iters 2000 --threads 2)
echo "direct engine call: $direct"

printf '\n| concurrency | REST p50 / p99 | REST req/s | gRPC p50 / p99 | gRPC req/s | nginx static p50 / p99 | nginx req/s | REST / nginx throughput |\n|---|---|---|---|---|---|---|---|\n' >"$work/table"
for c in 1 8 64; do
  t=$(( c < 2 ? 1 : 2 ))
  rest=$(wrk -t"$t" -c"$c" -d"${secs}s" -s "$work/post.lua" "http://127.0.0.1:$port/v2/models/trivial/infer" | tail -1)
  ngx=$(wrk -t"$t" -c"$c" -d"${secs}s" -s "$work/post.lua" "http://127.0.0.1:$nport/" | tail -1)
  grpc=$("$build/bench/bench_grpc_load" --target "127.0.0.1:$gport" --model trivial --concurrency "$c" --seconds "$secs")
  ratio=$(/usr/bin/python3 -c "print(f'{$(json "$rest" rps)/max(1,$(json "$ngx" rps)):.2f}')")
  echo "| $c | $(json "$rest" p50_us) / $(json "$rest" p99_us) µs | $(json "$rest" rps) | $(json "$grpc" p50_us) / $(json "$grpc" p99_us) µs | $(json "$grpc" rps) | $(json "$ngx" p50_us) / $(json "$ngx" p99_us) µs | $(json "$ngx" rps) | **${ratio}×** |" >>"$work/table"
  echo "c=$c rest=$rest grpc=$grpc nginx=$ngx"
done
cat "$work/table"
d50=$(json "$direct" median_us)
echo
echo "direct in-process engine call median: ${d50} µs (REST and gRPC p50 above include it plus loopback networking)"
