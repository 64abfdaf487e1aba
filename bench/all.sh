#!/usr/bin/env bash
# Every benchmark in one command, printing the ratio tables of docs/performance.md:
#   1. engine vs onnxruntime 1.30 (run.mjs), 2 threads each
#   2. server overhead: REST / gRPC vs nginx static and the direct engine call
#   3. dynamic batching vs unbatched at concurrency 32 on the MLP
#   4. JSON request decode / response encode micro-benchmarks
# Installs what it needs (wrk, nginx, onnxruntime-node), builds the targets.
#   bench/all.sh [BUILD_DIR] [REPS]
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
reps=${2:-3}
bash scripts/install-deps.sh
command -v wrk >/dev/null && command -v nginx >/dev/null ||
  { apt-get update -qq && apt-get install -y -qq wrk nginx >/dev/null; }
(cd bench && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" -j"$(nproc)" --target mlambda bench_engine bench_grpc_load json_write_bench \
  json_decode_bench >/dev/null
/usr/bin/python3 bench/make_models.py >/dev/null
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(date -u +%F)"
echo "== 1. engine vs onnxruntime (2 threads)"
node bench/run.mjs --bin "$build/bench/bench_engine" --threads 2 --reps "$reps" --iters 20
echo "== 2. server overhead"
bench/server_bench.sh "$build" 5
echo "== 3. dynamic batching"
bench/batching_bench.sh "$build" 10
echo "== 4. JSON codecs"
"$build/bench/json_decode_bench"
"$build/bench/json_write_bench"
