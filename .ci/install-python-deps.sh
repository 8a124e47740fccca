#!/usr/bin/env bash
# Installs what the Python example client (examples/python/) needs, from the
# distribution's packages (Debian/Ubuntu):
#   python3-grpcio, python3-protobuf   runtime, into the system /usr/bin/python3
#   protobuf-compiler (+libprotobuf-dev) protoc >= 3.15 and the well-known types
#   protobuf-compiler-grpc             /usr/bin/grpc_python_plugin
#
# Idempotent: when everything is already present it does nothing (no
# apt-get update), so reruns take well under a second.
#
# Note: Debian's python3-grpc-tools bundles a protoc too old for proto3
# `optional`, so stubs are generated with the system protoc plus
# grpc_python_plugin (see examples/python/generate.sh).
set -euo pipefail

PY=/usr/bin/python3
PACKAGES=(python3 python3-grpcio python3-protobuf protobuf-compiler libprotobuf-dev protobuf-compiler-grpc)

have_all() {
  [[ -x "$PY" ]] || return 1
  "$PY" -c 'import grpc, google.protobuf' >/dev/null 2>&1 || return 1
  command -v protoc >/dev/null 2>&1 || return 1
  [[ -x /usr/bin/grpc_python_plugin ]] || return 1
  [[ -f /usr/include/google/protobuf/duration.proto ]] || return 1
  [[ -f /usr/include/google/protobuf/timestamp.proto ]] || return 1
  return 0
}

if have_all; then
  echo "install-python-deps: all present ($("$PY" -c 'import grpc; print("grpcio", grpc.__version__)'), $(protoc --version))"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-python-deps: apt-get not found; install by hand: ${PACKAGES[*]}" >&2
  exit 1
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "install-python-deps: not root and no sudo; cannot install ${PACKAGES[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"

if ! have_all; then
  echo "install-python-deps: packages installed but checks still fail" >&2
  exit 1
fi
echo "install-python-deps: installed ($("$PY" -c 'import grpc; print("grpcio", grpc.__version__)'), $(protoc --version))"
