#!/usr/bin/env bash
# Installs PyTorch for the system /usr/bin/python3 from the distribution's
# packages (Debian/Ubuntu: python3-torch), for the learning-rate-schedule
# comparison test (test/e2e/lr-schedule-torch.test.ts), which checks hpod's
# TypeScript and Python schedules against torch.optim.lr_scheduler.
#
# Idempotent: when `/usr/bin/python3 -c 'import torch'` already works it does
# nothing (no apt-get update) and exits at once.
#
# Large: on Debian 12 (bookworm) python3-torch 1.13.1 pulls in 177 packages
# (OpenCV, FFmpeg, GDAL, Qt libraries, ...): ~136 MiB to download, ~580 MiB
# installed. Measured on a 2-core machine with a fast mirror: 26 s for
# apt-get update + install; a rerun with torch present takes ~1 s (the cost
# of `import torch`).
set -euo pipefail

PY=/usr/bin/python3
PACKAGES=(python3 python3-torch)

# Prints torch's version when /usr/bin/python3 can import it.
torch_version() {
  [[ -x "$PY" ]] && "$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null
}

if version=$(torch_version); then
  echo "install-torch: present (torch $version)"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-torch: apt-get not found; install by hand: ${PACKAGES[*]}" >&2
  exit 1
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "install-torch: not root and no sudo; cannot install ${PACKAGES[*]}" >&2
    exit 1
  fi
fi

started=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"

if ! version=$(torch_version); then
  echo "install-torch: python3-torch installed but '$PY -c \"import torch\"' still fails" >&2
  exit 1
fi
echo "install-torch: installed torch $version in $(( $(date +%s) - started )) s"
