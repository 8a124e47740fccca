#!/usr/bin/env bash
# Installs what the GPU runner's Slurm and PyTorch tests need, from the
# distribution's packages (Debian/Ubuntu):
#   slurmctld slurmd slurm-client   a real single-node Slurm (22.05 on Debian 12)
#   munge                           Slurm's authentication daemon
#   python3-torch                   PyTorch for /usr/bin/python3 (examples/pytorch)
#
# Idempotent: what is already present is skipped; when everything is present
# it does nothing (no apt-get update) and exits at once. Installing the
# packages starts no daemon here (no systemd as PID 1); the tests start their
# own munged/slurmctld/slurmd with a generated configuration
# (test/helpers/slurm.ts).
set -euo pipefail

PY=/usr/bin/python3
PACKAGES=()
command -v slurmctld >/dev/null 2>&1 || PACKAGES+=(slurmctld)
command -v slurmd >/dev/null 2>&1 || PACKAGES+=(slurmd)
{ command -v sbatch >/dev/null 2>&1 && command -v squeue >/dev/null 2>&1 && command -v scontrol >/dev/null 2>&1 \
  && command -v scancel >/dev/null 2>&1; } || PACKAGES+=(slurm-client)
{ command -v munged >/dev/null 2>&1 && command -v mungekey >/dev/null 2>&1; } || PACKAGES+=(munge)
{ [[ -x "$PY" ]] && "$PY" -c 'import torch' >/dev/null 2>&1; } || PACKAGES+=(python3 python3-torch)

describe() {
  local slurm torch
  # sbatch --version needs a slurm.conf; ask dpkg instead.
  slurm="slurm $(dpkg-query -W -f='${Version}' slurm-client 2>/dev/null || echo '?')"
  torch=$("$PY" -c 'import torch; print(torch.__version__)' 2>/dev/null || echo "?")
  echo "$slurm; $(munged --version 2>&1 | head -n1 | awk '{print $1}'); torch $torch"
}

if [[ ${#PACKAGES[@]} -eq 0 ]]; then
  echo "install-runner-deps: all present ($(describe))"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-runner-deps: apt-get not found; install by hand: ${PACKAGES[*]}" >&2
  exit 1
fi

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO=(sudo)
  else
    echo "install-runner-deps: not root and no sudo; cannot install ${PACKAGES[*]}" >&2
    exit 1
  fi
fi

started=$(date +%s)
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"

for tool in slurmctld slurmd sbatch squeue scontrol scancel munged mungekey; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "install-runner-deps: packages installed but $tool is still missing" >&2
    exit 1
  fi
done
if ! "$PY" -c 'import torch' >/dev/null 2>&1; then
  echo "install-runner-deps: python3-torch installed but '$PY -c \"import torch\"' still fails" >&2
  exit 1
fi
echo "install-runner-deps: installed ${PACKAGES[*]} in $(( $(date +%s) - started )) s ($(describe))"
