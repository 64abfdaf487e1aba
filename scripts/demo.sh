#!/usr/bin/env bash
# The README's main job: build mlambda, start the server on the embedded
# default (SQLite + local artifact folder) in a fresh data dir, register the
# cluster, upload the seq2seq example model (and its pipeline stages), create
# the applications, ask three questions over REST and gRPC and print the
# answers (examples/demo/run.sh does the talking).
#   scripts/demo.sh                 run the demo, then stop the server
#   scripts/demo.sh --keep-running  leave the server up for the web UI
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

keep=0
[ "${1:-}" = "--keep-running" ] && keep=1

bash scripts/install-deps.sh --demo
if [ ! -x build/src/cli/mlambda ] || [ -n "$(find src ui -newer build/src/cli/mlambda -type f 2>/dev/null | head -1)" ]; then
  echo "== building mlambda (Release)"
  mkdir -p build
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >build/demo-build.log 2>&1 &&
    cmake --build build -j"$(nproc)" --target mlambda >>build/demo-build.log 2>&1 ||
    { tail -40 build/demo-build.log; echo "build failed (full log: build/demo-build.log)"; exit 1; }
fi
mlambda=$root/build/src/cli/mlambda

exec bash "$root/examples/demo/run.sh" "$mlambda" "$keep"
