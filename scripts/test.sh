#!/usr/bin/env bash
# The test command from the README: installs dependencies, then builds and
# runs every test twice — a Release build and an ASan+UBSan build — and checks
# formatting. Exits non-zero on any failure.
#   scripts/test.sh            everything
#   scripts/test.sh --quick    Release build only (no sanitizers, no format check)
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=$(nproc 2>/dev/null || echo 2)

bash scripts/install-deps.sh
# Browser-test tooling (playwright-core drives Debian's chromium; no browser download).
(cd tests/ui && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
# onnxruntime-node: the reference engine of the benchmarks (its native library ships in the package).
(cd bench && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)

status=0
run_suite() { # name build-dir cmake-args... ; ctest args in CTEST_ARGS
  local name=$1 dir=$2
  shift 2
  echo "== $name: configure + build ($dir)"
  cmake -S . -B "$dir" "$@" >"$dir.configure.log" 2>&1 || { cat "$dir.configure.log"; return 1; }
  cmake --build "$dir" -j"$jobs" >"$dir.build.log" 2>&1 || { tail -50 "$dir.build.log"; return 1; }
  echo "== $name: ctest"
  (cd "$dir" && ctest --output-on-failure -j"$jobs" ${CTEST_ARGS:-})
}

mkdir -p build
CTEST_ARGS="" run_suite release build -DCMAKE_BUILD_TYPE=Release || status=1

if [ $quick -eq 0 ]; then
  # The sanitizer build runs the same tests (the conformance suite too, so
  # memory errors in any kernel on real models show up), except the benchmark
  # smoke run, which only compares speeds' inputs and would take minutes at -O0.
  CTEST_ARGS="-LE bench" run_suite asan build-asan -DCMAKE_BUILD_TYPE=Debug -DMLAMBDA_SANITIZE=ON || status=1
  echo "== fuzz smoke: libFuzzer, ${FUZZ_SECONDS:-15} s per parser"
  if CC=clang cmake -S . -B build-fuzz -DMLAMBDA_FUZZ=ON -DCMAKE_BUILD_TYPE=Debug >build-fuzz.configure.log 2>&1 &&
     cmake --build build-fuzz -j"$jobs" --target fuzz_onnx_loader fuzz_json_request fuzz_grpc_request \
       fuzz_kserve_fast \
       >build-fuzz.build.log 2>&1; then
    mkdir -p build-fuzz/corpus-onnx
    # seed the loader with real models
    { find /usr/share/libonnx-testdata/data/node -name model.onnx || true; } | head -40 |
      while read -r m; do cp "$m" "build-fuzz/corpus-onnx/$(echo "$m" | md5sum | cut -c1-12)"; done
    mkdir -p build-fuzz/corpus-kserve
    cp fuzz/seeds-kserve/* build-fuzz/corpus-kserve/
    for t in fuzz_onnx_loader:corpus-onnx fuzz_json_request:corpus-json fuzz_grpc_request:corpus-grpc \
             fuzz_kserve_fast:corpus-kserve; do
      mkdir -p "build-fuzz/${t#*:}"
      dict=()
      [ "${t%%:*}" = fuzz_kserve_fast ] && dict=(-dict=fuzz/kserve.dict)
      if "build-fuzz/fuzz/${t%%:*}" -max_total_time="${FUZZ_SECONDS:-15}" -rss_limit_mb=2048 "${dict[@]}" \
           "build-fuzz/${t#*:}" >"build-fuzz/${t%%:*}.log" 2>&1; then
        echo "fuzz ${t%%:*}: $(grep -o 'Done [0-9]* runs' "build-fuzz/${t%%:*}.log"), no crash"
      else
        tail -30 "build-fuzz/${t%%:*}.log"; echo "fuzz ${t%%:*}: FAILED"; status=1
      fi
    done
  else
    tail -30 build-fuzz.build.log; echo "fuzz build failed"; status=1
  fi
  echo "== format-check"
  cmake --build build --target format-check >/dev/null 2>build.format.log || {
    head -30 build.format.log; echo "format-check failed: run 'cmake --build build --target format'"; status=1; }
fi

if [ $status -eq 0 ]; then echo "ALL TEST SUITES PASSED"; else echo "SOME TEST SUITES FAILED"; fi
exit $status
