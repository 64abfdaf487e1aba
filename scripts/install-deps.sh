#!/usr/bin/env bash
# Installs every Debian package mlambda's build, tests and demo need.
# Idempotent and quiet: skips apt entirely when everything is present.
#   scripts/install-deps.sh            build + tests + demo
#   scripts/install-deps.sh --build    only what compiling needs
#   scripts/install-deps.sh --demo     compiling + the demo's Python gRPC client
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
  libonnx-dev protobuf-c-compiler libprotobuf-c-dev
  libopenblas-dev libjansson-dev libyaml-dev libarchive-dev
  libsqlite3-dev libpq-dev libcurl4-openssl-dev libssl-dev
  libmicrohttpd-dev libgrpc-dev zlib1g-dev
)
# Tests: the ONNX conformance data, a real PostgreSQL server, curl for the
# HTTP tests, python3-onnx/-torch for building test and benchmark models,
# python3-grpcio/-grpc-tools for the gRPC client tests, chromium for the UI test.
TEST_PKGS=(
  libonnx-testdata postgresql python3 python3-numpy python3-onnx curl ca-certificates openssl
  chromium python3-grpcio python3-grpc-tools python3-protobuf python3-torch python3-torchvision
)

DEMO_PKGS=(python3 python3-grpcio python3-grpc-tools python3-protobuf)

pkgs=("${BUILD_PKGS[@]}")
case "${1:-}" in
  --build) ;;
  --demo) pkgs+=("${DEMO_PKGS[@]}") ;;
  *) pkgs+=("${TEST_PKGS[@]}" "${DEMO_PKGS[@]}") ;;
esac

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js (browser tests, benchmarks against onnxruntime-node) may come from
# another repository already; only install Debian's when there is none.
if [ -z "${1:-}" ] && ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
