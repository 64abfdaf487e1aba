#!/usr/bin/env bash
# Dynamic batching benchmark: the bench MLP (784-512-512-10, bench/models/mlp.onnx)
# uploaded twice to one `mlambda serve` - once plain, once with
# `batching: {max_batch_size: 32, max_queue_delay_us: D}` - and loaded with wrk at
# concurrency 32 (one-row KServe V2 requests). Prints both throughputs and the
# batched / unbatched ratio, all measured in this run. 127.0.0.1 only.
#   bench/batching_bench.sh BUILD_DIR [SECONDS] [DELAY_US]
# MLAMBDA_SERVE_ARGS adds flags to `mlambda serve` (e.g. "--http-threads 2");
# BENCH_MODEL=path.onnx BENCH_WIDTH=N benchmarks another model with one input
# "x" of shape [batch, N] instead, e.g. the memory-bound MLP from
# `make_models.py --big-mlp`: BENCH_MODEL=bench/models/mlp_big.onnx BENCH_WIDTH=1024.
set -euo pipefail
build=$(realpath "${1:-build}")
secs=${2:-10}
delay=${3:-2000}
here=$(cd "$(dirname "$0")" && pwd)
. "$here/wrk_common.sh"
model=${BENCH_MODEL:-$here/models/mlp.onnx}
width=${BENCH_WIDTH:-784}
[ -f "$model" ] || /usr/bin/python3 "$here/make_models.py" >/dev/null
work=$(mktemp -d /tmp/mlambda-batchbench.XXXXXX)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
[ -n "${MLAMBDA_BENCH_KEEP:-}" ] && trap - EXIT

for variant in plain batched; do
  mkdir -p "$work/$variant"
  cp "$model" "$work/$variant/model.onnx"
  printf 'kind: Model\nname: mlp_%s\n' "$variant" >"$work/$variant/serving.yaml"
done
printf 'batching: {max_batch_size: 32, max_queue_delay_us: %s}\n' "$delay" >>"$work/batched/serving.yaml"

"$build/src/cli/mlambda" serve --host 127.0.0.1 --port 0 --port-file "$work/port" --no-grpc \
  --data-dir "$work/data" --log-level warn ${MLAMBDA_SERVE_ARGS:-} &
pids+=($!)
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(cat "$work/port")
for variant in plain batched; do
  tar -czf "$work/$variant.tgz" -C "$work/$variant" .
  curl -sf -X POST "http://127.0.0.1:$port/api/v2/models/upload" -H 'Content-Type: application/gzip' \
    --data-binary @"$work/$variant.tgz" >/dev/null
done

# one row of $width values in [0, 1)
body=$(/usr/bin/python3 -c 'import json,sys; w=int(sys.argv[1]); print(json.dumps({"inputs":[{"name":"x","datatype":"FP32","shape":[1,w],"data":[round((i*37%100)/100,2) for i in range(w)]}]}, separators=(",",":")))' "$width")
for variant in plain batched; do
  a=$(curl -sf -X POST "http://127.0.0.1:$port/v2/models/mlp_$variant/infer" -H 'Content-Type: application/json' -d "$body")
  echo "$variant answer: ${a:0:160}..."
done
write_wrk_post "$work/post.lua" "$body"

declare -A rps p50 p99
for variant in plain batched; do
  r=$(wrk -t2 -c32 -d"${secs}s" -s "$work/post.lua" "http://127.0.0.1:$port/v2/models/mlp_$variant/infer" | tail -1)
  echo "$variant: $r"
  [ "$(json "$r" errors)" = 0 ] || { echo "errors during the $variant run" >&2; exit 1; }
  rps[$variant]=$(json "$r" rps)
  p50[$variant]=$(json "$r" p50_us)
  p99[$variant]=$(json "$r" p99_us)
done
metrics=$(curl -sf "http://127.0.0.1:$port/metrics")
batches=$(grep -E '^mlambda_model_batches_total\{model="mlp_batched"' <<<"$metrics" | awk '{print $2}')
batched=$(grep -E '^mlambda_model_batched_requests_total\{model="mlp_batched"' <<<"$metrics" | awk '{print $2}')
ratio=$(/usr/bin/python3 -c "print(f'{${rps[batched]}/max(1,${rps[plain]}):.2f}')")
printf '\n| MLP, concurrency 32 | req/s | p50 | p99 |\n|---|---|---|---|\n'
printf '| unbatched | %s | %s µs | %s µs |\n' "${rps[plain]}" "${p50[plain]}" "${p99[plain]}"
printf '| batched (max 32, %s µs) | %s | %s µs | %s µs |\n' "$delay" "${rps[batched]}" "${p50[batched]}" "${p99[batched]}"
echo
echo "batched / unbatched throughput: ${ratio}x (${batched:-0} requests in ${batches:-0} shared runs)"
