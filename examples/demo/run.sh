#!/usr/bin/env bash
# The demo behind scripts/demo.sh: the seed walkthrough with mlambda.
#   run.sh PATH/TO/mlambda KEEP(0|1)
# Starts `mlambda serve` on the embedded default (SQLite + local artifacts) in
# a fresh data dir, registers the cluster with the seed's `hs` commands,
# uploads the seq2seq chat model and its pre/post stages, creates the
# monolithic and pipeline applications, asks three questions over REST and
# gRPC and prints the replies.
set -euo pipefail
mlambda=$(realpath "$1")
keep=${2:-0}
root=$(cd "$(dirname "$0")/../.." && pwd)
hs=$(dirname "$mlambda")/hs
[ -x "$hs" ] || hs=$mlambda

work=$(mktemp -d /tmp/mlambda-demo.XXXXXX)
# The demo's cluster config lives in the temp dir: your own ~/.config is untouched.
export XDG_CONFIG_HOME=$work/config

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=${MLAMBDA_DEMO_PORT:-9090}
grpc_port=${MLAMBDA_DEMO_GRPC_PORT:-9091}
port_free "$port" || port=0
port_free "$grpc_port" || grpc_port=$((20000 + RANDOM % 20000))

echo "== starting: mlambda serve (data dir $work/data)"
"$mlambda" serve --host 127.0.0.1 --port "$port" --grpc-port "$grpc_port" --data-dir "$work/data" \
  --port-file "$work/port" >"$work/server.log" 2>&1 &
server=$!
stop() {
  kill -TERM "$server" 2>/dev/null && wait "$server" 2>/dev/null || true
  rm -rf "$work"
}
trap stop EXIT
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
[ -s "$work/port" ] || { cat "$work/server.log"; echo "the server did not start"; exit 1; }
port=$(cat "$work/port")
url=http://localhost:$port

run() { echo "\$ $*"; "$@"; }
echo "== the seed's commands (hs is mlambda's alias)"
run "$hs" cluster add --name local --server "$url" --grpc "127.0.0.1:$grpc_port"
run "$hs" cluster use local
(cd "$root/examples/seq2seq/model" && run "$hs" upload --name seq2seq --quiet)
run "$mlambda" upload --dir "$root/examples/seq2seq/pre" --quiet
run "$mlambda" upload --dir "$root/examples/seq2seq/post" --quiet
run "$mlambda" apply -f "$root/examples/seq2seq/app-monolithic.yaml"
run "$mlambda" apply -f "$root/examples/seq2seq/app-pipeline.yaml"

echo
echo "== asking the monolithic application (tokens in, tokens out) over REST"
for prompt in "hello" "how does honey taste" "what is your name"; do
  tokens=$(printf '"%s",' $prompt)
  echo "> $prompt"
  run "$mlambda" predict seq2seq --data "{\"input\": [${tokens%,}]}"
done

echo
echo "== asking the pipeline application (sentence in, words out) over REST"
for prompt in "Hello!" "How does honey taste?" "What is your name?"; do
  echo "> $prompt"
  run "$mlambda" predict chat --text "$prompt"
done

echo
echo "== asking over gRPC (TF-Serving PredictionService, as in the seed)"
if /usr/bin/python3 -c "import grpc, grpc_tools" 2>/dev/null; then
  run /usr/bin/python3 "$root/examples/grpc_client.py" --server "127.0.0.1:$grpc_port" --app seq2seq how does honey taste
else
  run "$mlambda" predict seq2seq --grpc --data '{"input": ["how", "does", "honey", "taste"]}'
fi

echo
echo "Web UI: $url/   (REST API on $url, gRPC on 127.0.0.1:$grpc_port)"
if [ "$keep" = 1 ]; then
  echo "The server keeps running; press Ctrl-C to stop it."
  wait "$server"
fi
