#!/usr/bin/env bash
# Installs every Debian package mlambda's build, tests and demo need.
# Idempotent and quiet: skips apt entirely when everything is present.
#   scripts/install-deps.sh            build + tests + demo
#   scripts/install-deps.sh --build    only what compiling needs
set -euo pipefail

BUILD_PKGS=(
  build-essential cmake pkg-config clang libclang-rt-14-dev clang-format
  libonnx-dev protobuf-c-compiler libprotobuf-c-dev
  libopenblas-dev libjansson-dev libyaml-dev libarchive-dev
  libsqlite3-dev libpq-dev libcurl4-openssl-dev libssl-dev
  libmicrohttpd-dev libgrpc-dev
)
TEST_PKGS=(
  libonnx-testdata postgresql python3 python3-numpy python3-onnx
  python3-grpcio python3-grpc-tools python3-protobuf
  nodejs npm chromium curl ca-certificates
)

pkgs=("${BUILD_PKGS[@]}")
[ "${1:-}" = "--build" ] || pkgs+=("${TEST_PKGS[@]}")

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
