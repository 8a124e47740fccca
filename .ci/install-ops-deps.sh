#!/usr/bin/env bash
# Installs what the operations tests need, from the distribution's packages
# (Debian/Ubuntu):
#   prometheus   the Prometheus server (2.42 on Debian 12) and promtool
#   systemd      systemd-analyze, for `systemd-analyze verify` of deploy/systemd/*
#   openssl      test certificates for the TLS / mTLS tests
#
# Idempotent: when everything is already present it does nothing (no
# apt-get update), so reruns take well under a second.
set -euo pipefail

PACKAGES=()
command -v promtool >/dev/null 2>&1 && command -v prometheus >/dev/null 2>&1 || PACKAGES+=(prometheus)
command -v systemd-analyze >/dev/null 2>&1 || PACKAGES+=(systemd)
command -v openssl >/dev/null 2>&1 || PACKAGES+=(openssl)

describe() {
  echo "$(promtool --version 2>&1 | head -n1); $(systemd-analyze --version | head -n1); $(openssl version)"
}

if [[ ${#PACKAGES[@]} -eq 0 ]]; then
  echo "install-ops-deps: all present ($(describe))"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-ops-deps: apt-get not found; install by hand: ${PACKAGES[*]}" >&2
  exit 1
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "install-ops-deps: not root and no sudo; cannot install ${PACKAGES[*]}" >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
# Where systemd runs, Debian also enables and starts prometheus.service on
# :9090; the tests never use it (they start their own Prometheus on a free
# loopback port): `systemctl disable --now prometheus` if it is unwanted.
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"

for tool in promtool prometheus systemd-analyze openssl; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install-ops-deps: packages installed but $tool is still missing" >&2
    exit 1
  fi
done
echo "install-ops-deps: installed ${PACKAGES[*]} ($(describe))"
