#!/usr/bin/env bash
# End-to-end CLI test: starts `mlambda serve` on a free 127.0.0.1 port with a
# temp data dir and a temp HOME, then drives the real binary through the
# seed's workflow (cluster add/use, upload, apply, predict, list/rm) and its
# error paths (server down, bad YAML, unknown model, 409 on a used version).
#
# usage: e2e_cli.sh /path/to/mlambda
set -u
M=$(realpath "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/mlambda-e2e-cli-XXXXXX)
SERVER_PID=""
PASSED=0
FAILED=0

cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# Isolated user: config goes to $HOME/.config/mlambda/config.yaml.
export HOME=$WORK/home
unset XDG_CONFIG_HOME MLAMBDA_CLUSTER MLAMBDA_SERVER
mkdir -p "$HOME"

OUT=$WORK/out.txt
# run EXPECTED_RC DESCRIPTION CMD...: runs CMD, stores stdout+stderr in $OUT.
run() {
  local want=$1 what=$2
  shift 2
  "$@" >"$OUT" 2>&1
  local rc=$?
  if [ "$rc" -eq "$want" ]; then
    PASSED=$((PASSED + 1))
  else
    FAILED=$((FAILED + 1))
    echo "FAIL: $what: exit $rc, expected $want; output:"
    sed 's/^/    /' "$OUT"
  fi
}
# expect PATTERN DESCRIPTION: the last output matches the extended regex.
expect() {
  if grep -Eq -- "$1" "$OUT"; then
    PASSED=$((PASSED + 1))
  else
    FAILED=$((FAILED + 1))
    echo "FAIL: $2: output does not match /$1/:"
    sed 's/^/    /' "$OUT"
  fi
}
# json_ok PYTHON_EXPR DESCRIPTION: the last output is JSON `d` satisfying the expression.
json_ok() {
  cp "$OUT" "$WORK/last.json"
  run 0 "$2" $PY -c "import json; d = json.load(open('$WORK/last.json')); assert $1, d"
}
reject() {
  if grep -Eq -- "$1" "$OUT"; then
    FAILED=$((FAILED + 1))
    echo "FAIL: $2: output unexpectedly matches /$1/:"
    sed 's/^/    /' "$OUT"
  else
    PASSED=$((PASSED + 1))
  fi
}

free_port() {
  $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
PORT=$(free_port)
GPORT=$(free_port)
URL=http://127.0.0.1:$PORT
SERVE_ARGS=()
CURL_TLS=() # --cacert FILE once the server speaks TLS
start_server() {
  "$M" serve --host 127.0.0.1 --port "$PORT" --grpc-port "$GPORT" --data-dir "$WORK/data" "${SERVE_ARGS[@]}" \
    >>"$WORK/server.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do # up to 30 s: sanitizer builds under a parallel ctest are slow
    curl -sf --noproxy '*' "${CURL_TLS[@]}" "$URL/v2/health/live" >/dev/null 2>&1 && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "FAIL: the server did not start on $URL; its log:"
  sed 's/^/    /' "$WORK/server.log"
  exit 1
}
start_server

# --- model folders -----------------------------------------------------------
ECHO=$WORK/models/echo
mkdir -p "$ECHO"
$PY "$HERE/make_echo_model.py" "$ECHO/model.onnx" || { echo "FAIL: cannot build the test model"; exit 1; }
cat >"$ECHO/serving.yaml" <<'Y'
kind: Model
name: echo
runtime: mlambda-onnx
payload: ["model.onnx"]
Y
echo "not part of the payload" >"$ECHO/notes.txt"

# --- cluster config round trip ------------------------------------------------
run 0 "cluster list (empty)" "$M" cluster list
expect "no clusters configured" "empty config explains itself"
run 0 "cluster add" "$M" cluster add --name local --server "$URL" --grpc "127.0.0.1:$GPORT" --token t0k
expect "cluster 'local' added" "add confirms"
expect "now the current cluster" "first cluster becomes current"
run 0 "cluster add (down)" "$M" cluster add --name down --server http://127.0.0.1:1
CFG=$HOME/.config/mlambda/config.yaml
run 0 "config file exists" test -f "$CFG"
run 0 "config mode 0600" test "$(stat -c %a "$CFG")" = 600
run 0 "cluster list" "$M" cluster list
expect "^\*  +local +$URL" "current cluster marked"
expect "^ +down +http://127.0.0.1:1" "other cluster listed"
run 0 "cluster list --json" "$M" cluster list --json
json_ok "[c['name'] for c in d['clusters'] if c['current']] == ['local']" "cluster list --json"
run 0 "hs alias" "$(dirname "$M")/hs" cluster list
expect "local" "hs reads the same config"
run 0 "cluster use down" "$M" cluster use down
run 3 "server down: model list" "$M" model list
expect "cannot reach the server at http://127.0.0.1:1 \(cluster 'down'\)" "down server is one clear line"
reject "curl:|\\(7\\)" "no raw curl output"
run 0 "--cluster override" "$M" --cluster local model list
run 0 "cluster use local" "$M" cluster use local
run 0 "cluster rm down" "$M" cluster rm down
run 0 "token from stdin" sh -c "echo tok123 | '$M' cluster add --name piped --server http://127.0.0.1:1 --token -"
run 0 "piped token stored" grep -q "token: tok123" "$CFG"
run 0 "cluster rm piped" "$M" cluster rm piped
run 1 "bad gRPC address" "$M" cluster add --name bad --server "$URL" --grpc nope
expect "must look like HOST:PORT" "gRPC address checked"
run 4 "cluster use unknown" "$M" cluster use nope
run 2 "usage error" "$M" cluster add --name x

# --- upload -------------------------------------------------------------------
run 0 "upload" "$M" upload --dir "$ECHO" --label team=qa --description "echo model"
expect "uploading 2 files" "payload globs select model.onnx + serving.yaml"
expect "^upload: 100%" "plain progress line when stdout is not a TTY"
expect "uploaded echo:1 \(sha256:[0-9a-f]{64}\)" "new name:version and digest"
expect "input +input +string" "contract printed"
run 0 "upload --dry-run" "$M" upload --dir "$ECHO" --dry-run --json
cp "$OUT" "$WORK/dry.json"
json_ok "d['files'] == ['model.onnx', 'serving.yaml'] and d['name'] == 'echo'" "dry run lists the payload"
run 0 "model get echo:1 --json" "$M" model get echo:1 --json
json_ok "d['digest'] == json.load(open('$WORK/dry.json'))['digest']" "client and server digests agree"

# The seed's own words: hs upload --name N, run inside the model folder.
run 0 "hs upload in the folder" sh -c "cd '$ECHO' && '$(dirname "$M")/hs' upload --name echo-hs -q"
expect "uploaded echo-hs:1" "hs alias uploads the current folder"
run 0 "model list" "$M" model list
expect "^echo +1 +echo model +team=qa" "model listed in a table"
expect "^echo-hs +1" "second model listed"
run 0 "model list --json" "$M" model list --json
json_ok "sorted(m['name'] for m in d['models']) == ['echo', 'echo-hs']" "model list --json"
run 0 "model get" "$M" model get echo
expect "^1 +ready" "versions table"
expect "^latest contract" "latest version's contract"
run 0 "model get version" "$M" model get echo:1
expect "digest: +sha256:" "version details"
run 4 "unknown model" "$M" model get nope
expect "HTTP 404" "404 shown with status"
run 2 "bad ref" "$M" model get
run 1 "bad version" "$M" model get echo:zero

# --- apply ----------------------------------------------------------------------
# echo2 (output -> reply, so it can follow echo in a pipeline): a folder
# without serving.yaml; the document becomes its serving.yaml.
ECHO2=$WORK/models/echo2
mkdir -p "$ECHO2"
$PY "$HERE/make_echo_model.py" "$ECHO2/model.onnx" first output reply
cat >"$WORK/app.yaml" <<Y
kind: Model
name: echo
path: models/echo
---
kind: Model
name: echo2
path: models/echo2
description: applied
labels: {stage: test}
---
kind: Application
name: chat
singular:
  model: echo:1
---
kind: Application
name: chain
pipeline:
  - - model: echo:1
      weight: 100
  - - model: echo2
Y
run 0 "apply" "$M" apply -f "$WORK/app.yaml"
expect "model echo: unchanged \(echo:1\)" "same folder = unchanged model"
expect "model echo2: created \(echo2:1\)" "new model uploaded"
expect "application chat: created" "app created"
expect "application chain: created" "pipeline app created"
run 0 "apply again" "$M" apply -f "$WORK/app.yaml"
expect "model echo2: unchanged \(echo2:1\)" "idempotent model"
expect "application chat: unchanged" "idempotent app"
reject ": (created|updated)" "nothing changes on re-apply"
expect "^0 created, 0 updated, 4 unchanged, 0 failed" "summary of a no-op apply"
$PY "$HERE/make_echo_model.py" "$ECHO2/model.onnx" second output reply
sed -i '/^singular:/{n;s/echo:1/echo2/}' "$WORK/app.yaml"  # chat now follows echo2's latest
run 0 "apply --dry-run" "$M" apply -f "$WORK/app.yaml" --dry-run
expect "model echo2: updated \(dry run\) \(would upload echo2:2\)" "dry run names the new version"
expect "dry run: 0 created, 2 updated, 2 unchanged, 0 failed" "dry run summary"
run 0 "dry run changed nothing" "$M" model get echo2
reject "^2 " "no version 2 after a dry run"
run 0 "apply changes" "$M" apply -f "$WORK/app.yaml"
expect "^0 created, 3 updated, 1 unchanged, 0 failed" "summary line"
expect "model echo2: updated \(echo2:2\)" "changed folder = new version"
expect "application chat: updated \(echo:1 => echo2:2\)" "changed app shows the change"
expect "application chain: updated \(echo:1 -> echo2:1 => echo:1 -> echo2:2\)" "version-less ref follows the latest"
run 0 "apply --json from stdin" sh -c "cat '$WORK/app.yaml' | (cd '$WORK' && '$M' apply -f - --json)"
json_ok "d['failed'] == 0 and all(r['action'] == 'unchanged' for r in d['results'])" "apply --json"
printf 'kind: Application\nname: split\npipeline:\n  - - model: echo2:1\n      weight: 80\n    - model: echo2:2\n      weight: 20\n' >"$WORK/split.yaml"
run 0 "apply weighted split" "$M" apply -f "$WORK/split.yaml"
expect "application split: created \(echo2:1 \(80%\), echo2:2 \(20%\)\)" "weights shown"
run 0 "app get split" "$M" app get split
expect "^1 +echo2:1 +80%" "first variant"
expect "^ +echo2:2 +20%" "second variant"
run 0 "predict split" "$M" predict split --data '{"output": ["s"]}'
expect '"reply"' "split app answers"
run 0 "app rm split" "$M" app rm split
run 0 "app list" "$M" app list
expect "^chain +echo:1 -> echo2" "pipeline shown"
run 0 "app get" "$M" app get chat
expect "1 +echo2" "app stages"

# A folder of YAML files, applied in name order (models still go first).
mkdir -p "$WORK/deploy"
printf 'kind: Application\nname: solo\nsingular: {model: "echo:1"}\n' >"$WORK/deploy/10-app.yaml"
printf 'kind: Model\nname: echo\npath: ../models/echo\n' >"$WORK/deploy/20-model.yml"
echo "not yaml, not read" >"$WORK/deploy/README.txt"
run 0 "apply a folder" "$M" apply -f "$WORK/deploy"
expect "model echo: unchanged" "model from the folder"
expect "application solo: created \(echo:1\)" "app from the folder"
run 0 "app rm solo" "$M" app rm solo

printf 'kind: Application\nname: broken\n  singular: [\n' >"$WORK/bad.yaml"
run 1 "bad YAML" "$M" apply -f "$WORK/bad.yaml"
expect "bad.yaml:3:[0-9]+: invalid YAML" "YAML error names file and line"
printf 'kind: Application\nname: ghost\nsingular: {model: ghost:1}\n' >"$WORK/ghost.yaml"
run 4 "app with unknown model" "$M" apply -f "$WORK/ghost.yaml"
expect "HTTP 4[0-9][0-9]" "server rejection shown with status"
printf 'kind: Gadget\nname: g\n' >"$WORK/kind.yaml"
run 1 "unknown kind" "$M" apply -f "$WORK/kind.yaml"
expect "needs 'kind: Model' or 'kind: Application'" "kind checked"

# --- predict ----------------------------------------------------------------------
run 0 "predict app --text" "$M" predict chat --text hello
expect '"hello"' "app output printed"
run 0 "predict model --data" "$M" predict echo:1 --data '{"input": ["a", "b"]}'
expect '"output"' "output name"
expect '"b"' "model output printed"
echo '{"input": ["from file"]}' >"$WORK/req.json"
run 0 "predict --data @file --json" "$M" predict echo --data @"$WORK/req.json" --json
expect '^\{"output": ?\["from file"\]\}$' "compact JSON output"
run 0 "predict raw KServe V2" "$M" predict echo:1 --json \
  --data '{"inputs": [{"name": "input", "shape": [1], "datatype": "BYTES", "data": ["raw"]}]}'
json_ok "d['outputs'][0]['data'] == ['raw']" "raw V2 request passes through"
run 4 "predict unknown" "$M" predict nothing --text hi
expect "no model or application named 'nothing'" "unknown target"
run 0 "predict app over gRPC" "$M" predict chat --text "hi there" --grpc
expect '"hi there"' "gRPC app output"
run 0 "predict model over gRPC" "$M" predict echo:1 --data '{"input": ["x", "y"]}' --grpc --json
expect '^\{"output": ?\["x", ?"y"\]\}$' "gRPC model output"
run 4 "gRPC unknown version" "$M" predict echo:9 --text hi --grpc
run 0 "cluster with a dead gRPC port" "$M" cluster add --name nogrpc --server "$URL" --grpc 127.0.0.1:1
run 3 "gRPC server down" "$M" --cluster nogrpc predict echo --text hi --grpc
expect "cannot reach the gRPC server at 127.0.0.1:1" "gRPC down is one clear line"
run 1 "predict wrong input" "$M" predict echo --data '{"nope": ["x"]}'

# --- rm -----------------------------------------------------------------------------
run 1 "rm used version" "$M" model rm echo:1
expect "HTTP 409" "409 conflict for a version in use"
run 0 "app rm chain" "$M" app rm chain
run 0 "app rm chat" "$M" app rm chat
run 4 "app rm again" "$M" app rm chat
run 0 "model rm version" "$M" model rm echo:1
run 0 "model rm whole" "$M" model rm echo2
run 0 "model rm hs" "$M" model rm echo-hs
run 0 "app list empty" "$M" app list
expect "no applications yet" "empty list explained"

stop_server() {
  kill "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null
  SERVER_PID=""
}

# --- an upload over the server's limit: a clean 413, not a broken pipe -------------
stop_server
SERVE_ARGS=(--max-upload-mb 1)
start_server
BIG=$WORK/models/big
mkdir -p "$BIG"
cp "$ECHO/model.onnx" "$BIG/"
head -c 3000000 /dev/urandom >"$BIG/weights.bin"
run 1 "upload over the limit" "$M" upload --dir "$BIG" -q
expect "HTTP 413" "413 shown with status"
reject "Broken pipe|Send failure" "no transport noise"

# --- bearer-token authentication: the cluster's --token reaches REST and gRPC -------
stop_server
printf '# tokens, one per line\nold-token\nt0k\n' >"$WORK/tokens"
chmod 600 "$WORK/tokens"
SERVE_ARGS=(--auth-token-file "$WORK/tokens")
start_server
run 0 "auth: health stays open" curl -sf --noproxy '*' "$URL/v2/health/ready"
run 0 "auth: no token is a 401" sh -c "curl -s --noproxy '*' -o /dev/null -w '%{http_code}' '$URL/api/v2/models' | grep -qx 401"
run 0 "auth: the cluster token is accepted" "$M" --cluster local model list
run 0 "auth: upload with the token" "$M" --cluster local upload --dir "$ECHO" -q
run 0 "auth: gRPC with the token" "$M" --cluster local predict echo --text hi --grpc
expect '"hi"' "gRPC answer with the token"
run 0 "auth: cluster without a token" "$M" cluster add --name anon --server "$URL" --grpc "127.0.0.1:$GPORT"
run 1 "auth: REST without a token" "$M" --cluster anon model list
expect "HTTP 401.*bearer token" "401 explained"
run 1 "auth: gRPC without a token" "$M" --cluster anon predict echo --text hi --grpc
expect "bearer token" "UNAUTHENTICATED explained"

# --- TLS: https for REST and TLS on the gRPC port, trusted through --cacert -------
stop_server
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$WORK/key.pem" -out "$WORK/cert.pem" -days 2 \
  -subj "/CN=127.0.0.1" -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" >/dev/null 2>&1
SERVE_ARGS=(--tls-cert "$WORK/cert.pem" --tls-key "$WORK/key.pem")
URL=https://127.0.0.1:$PORT
CURL_TLS=(--cacert "$WORK/cert.pem")
start_server
run 0 "tls: cluster add --cacert" "$M" cluster add --name tls --server "$URL" --grpc "127.0.0.1:$GPORT" \
  --cacert "$WORK/cert.pem"
run 0 "tls: model list over https" "$M" --cluster tls model list
run 0 "tls: predict over https" "$M" --cluster tls predict echo --text hi
expect '"hi"' "https answer"
run 0 "tls: predict over gRPC with TLS" "$M" --cluster tls predict echo --text hi --grpc
expect '"hi"' "gRPC TLS answer"
run 0 "tls: cluster without the CA" "$M" cluster add --name tls-untrusted --server "$URL"
run 3 "tls: an untrusted certificate fails" "$M" --cluster tls-untrusted model list
expect "certificate" "certificate problem named"
run 0 "tls: plain http to a TLS port fails" sh -c "! curl -sf --noproxy '*' http://127.0.0.1:$PORT/v2/health/live"
stop_server
run 1 "tls: --tls-cert without --tls-key" "$M" serve --port 0 --no-grpc --data-dir "$WORK/data" \
  --tls-cert "$WORK/cert.pem"
expect "needs both --tls-cert and --tls-key" "missing key explained"
URL=http://127.0.0.1:$PORT
CURL_TLS=()
SERVE_ARGS=()
start_server

# --- server down --------------------------------------------------------------------
stop_server
run 3 "server stopped" "$M" app list
expect "cannot reach the server" "down server message"
run 3 "upload to stopped server" "$M" upload --dir "$ECHO" -q

# --- help ---------------------------------------------------------------------------
for c in cluster upload apply model app predict; do
  run 0 "$c --help" "$M" $c --help
  expect "Example" "$c help has an example"
done

if [ "$FAILED" -ne 0 ]; then
  echo "server log (last 40 lines):"
  tail -40 "$WORK/server.log" | sed 's/^/    /'
fi
echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ]
