#!/usr/bin/env bash
# verify-gpu.sh BRANCH [--not-boot-id ID]
# Succeeds when nvidia-smi answers with driver BRANCH (and, after a driver reboot, the boot id has changed).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
branch=${1:?usage: verify-gpu.sh BRANCH [--not-boot-id ID]}
if [ "${2:-}" = --not-boot-id ] && [ -n "${3:-}" ]; then
  [ "$(cat /proc/sys/kernel/random/boot_id)" != "$3" ] \
    || die "the host has not rebooted yet after the driver install: wait, then run pulumi up again"
fi
command -v nvidia-smi >/dev/null || die "nvidia-smi not found: the driver install did not complete"
version=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n1) \
  || die "nvidia-smi fails: is nouveau still loaded (lsmod | grep nouveau)? is Secure Boot blocking the module?"
[ "${version%%.*}" = "$branch" ] || die "driver $version is running, expected branch $branch: reboot the host"
gpus=$(nvidia-smi -L | grep -c '^GPU ' || true)
echo "GPU_COUNT=$gpus"
echo "DRIVER=$version"
