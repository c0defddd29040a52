#!/usr/bin/env bash
# nvidia-driver.sh BRANCH [CUDA_PACKAGE]
# The NVIDIA driver BRANCH (e.g. 550) from NVIDIA's CUDA apt repository (cuda-keyring), nouveau blacklisted.
# Nothing happens when nvidia-smi already reports BRANCH. After an install it leaves
# /var/lib/fudbuddy/reboot-required and prints REBOOT_REQUIRED=1; reboot-if-required.sh acts on it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
branch=${1:?usage: nvidia-driver.sh BRANCH [CUDA_PACKAGE]}
cuda=${2:-}
[[ $branch =~ ^[0-9]{3}$ ]] || die "nvidia.driverBranch '$branch' is not a driver branch like 550"

if install_content /etc/modprobe.d/blacklist-nouveau.conf 0644 root:root <<'CONF'
blacklist nouveau
options nouveau modeset=0
CONF
then
  changed "nouveau blacklisted"
  if command -v update-initramfs >/dev/null; then update-initramfs -u >&2 || log "warning: update-initramfs failed"; fi
fi

current=''
if command -v nvidia-smi >/dev/null; then
  current=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>/dev/null | head -n1 || true)
fi
if [ "${current%%.*}" = "$branch" ]; then
  ok "nvidia driver $current (branch $branch)"
else
  # shellcheck source=/dev/null
  . /etc/os-release
  repo="ubuntu${VERSION_ID//./}"
  [ "${ID:-}" = ubuntu ] || die "NVIDIA's CUDA repository is set up for Ubuntu hosts; this is ${ID:-unknown}. Install driver $branch by hand or use gpu: none"
  if ! dpkg-query -W -f='${Status}' cuda-keyring 2>/dev/null | grep -q 'install ok installed'; then
    tmp=$(mktemp -d)
    curl -fsSL -o "$tmp/cuda-keyring.deb" \
      "https://developer.download.nvidia.com/compute/cuda/repos/${repo}/x86_64/cuda-keyring_1.1-1_all.deb" \
      || die "could not download cuda-keyring for ${repo} (network? supported Ubuntu release?)"
    dpkg -i "$tmp/cuda-keyring.deb" >&2
    rm -rf "$tmp"
    changed "cuda-keyring installed"
  fi
  apt_get update -q >&2 || die "apt-get update failed after adding NVIDIA's repository"
  apt_get install -y -q "nvidia-driver-${branch}-server" >&2 \
    || apt_get install -y -q "cuda-drivers-${branch}" >&2 \
    || die "installing the NVIDIA driver branch $branch failed: apt-cache policy nvidia-driver-${branch}-server"
  changed "nvidia driver branch $branch installed (was: ${current:-none})"
  install -d -m 0755 /var/lib/fudbuddy
  echo "$branch" > /var/lib/fudbuddy/reboot-required
fi
if [ -n "$cuda" ]; then apt_ensure "$cuda"; fi
[ -f /var/lib/fudbuddy/reboot-required ] && echo 'REBOOT_REQUIRED=1'
finish
