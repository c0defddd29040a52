#!/usr/bin/env bash
# nvidia-driver.sh BRANCH [--method ubuntu-drivers|dkms] [--cuda-package PKG]
# The NVIDIA server driver BRANCH (e.g. 570), nouveau blacklisted, its packages held from (unattended) upgrades.
#   ubuntu-drivers (default): Ubuntu's own `ubuntu-drivers install --gpgpu nvidia:BRANCH-server`, which installs
#     the signed, prebuilt linux-modules-nvidia-BRANCH-server-* for the running kernel flavour (loads under Secure
#     Boot, needs no kernel headers), plus nvidia-utils-BRANCH-server for nvidia-smi.
#   dkms: nvidia-driver-BRANCH-server built by DKMS from NVIDIA's CUDA repository; refused under Secure Boot
#     (an unsigned module does not load there).
# Nothing is installed when nvidia-smi already reports BRANCH. After an install it leaves
# /var/lib/fudbuddy/reboot-required and prints REBOOT_REQUIRED=1; reboot-if-required.sh acts on it.
# The hold: a new user-space library under the running kernel module breaks every new CUDA process until a reboot,
# so NVIDIA packages change only through docs/runbook.md "Upgrade the NVIDIA driver" (unhold, upgrade, reboot).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
usage='usage: nvidia-driver.sh BRANCH [--method ubuntu-drivers|dkms] [--cuda-package PKG]'
branch=${1:?$usage}
shift
method=ubuntu-drivers cuda=''
while [ $# -gt 0 ]; do
  case $1 in
    --method) method=${2:?$usage}; shift 2 ;;
    --cuda-package) cuda=${2:?$usage}; shift 2 ;;
    *) die "nvidia-driver.sh: unknown argument $1 ($usage)" ;;
  esac
done
[[ $branch =~ ^[0-9]{3}$ ]] || die "nvidia.driverBranch '$branch' is not a driver branch like 550"
case $method in ubuntu-drivers|dkms) ;; *) die "nvidiaDriverInstall '$method' must be ubuntu-drivers or dkms" ;; esac

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
# shellcheck source=/dev/null
. /etc/os-release
install=0
if [ "${current%%.*}" = "$branch" ]; then
  ok "nvidia driver $current (branch $branch)"
elif [ "${ID:-}" != ubuntu ]; then
  die "the NVIDIA driver is installed the Ubuntu way (ubuntu-drivers or NVIDIA's CUDA repository for Ubuntu); this host is ${ID:-unknown}: install driver $branch by hand, or use gpu: none"
else
  # A branch change: the old branch's packages are held (below); release them so apt may replace them.
  mapfile -t old_holds < <(apt-mark showhold 2>/dev/null | grep -E '^(nvidia-|libnvidia-|linux-modules-nvidia-|linux-objects-nvidia-|linux-signatures-nvidia-|cuda-drivers)' || true)
  if [ "${#old_holds[@]}" -gt 0 ]; then apt-mark unhold "${old_holds[@]}" >&2; changed "released holds for the branch change: ${old_holds[*]}"; fi
  install=1
fi
if [ "$install" = 0 ]; then
  :
elif [ "$method" = ubuntu-drivers ]; then
  apt_ensure ubuntu-drivers-common
  # ubuntu-drivers runs apt itself: it takes its turn in our steps' apt queue (lib.sh), so the node and Tailscale
  # installs beside it wait instead of failing on the dpkg lock.
  apt_queue_enter
  ubuntu-drivers install --gpgpu "nvidia:${branch}-server" >&2 \
    || die "ubuntu-drivers install --gpgpu nvidia:${branch}-server failed: ubuntu-drivers list --gpgpu shows what this host's kernel has; set fudbuddy:nvidiaDriverInstall dkms only for kernels without signed modules"
  apt_queue_leave
  apt_ensure "nvidia-utils-${branch}-server"
  changed "nvidia driver branch $branch installed with ubuntu-drivers (signed modules; was: ${current:-none})"
  install -d -m 0755 /var/lib/fudbuddy
  echo "$branch" > /var/lib/fudbuddy/reboot-required
else
  sb=$(mokutil --sb-state 2>/dev/null || true)
  case $sb in
    *"SecureBoot enabled"*) die "fudbuddy:nvidiaDriverInstall is dkms but Secure Boot is enabled on this host: an unsigned DKMS module does not load. Use the default (ubuntu-drivers: Ubuntu's signed modules), or enrol a MOK key for DKMS first" ;;
  esac
  repo="ubuntu${VERSION_ID//./}"
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
  apt_ensure "linux-headers-$(uname -r)"
  apt_get install -y -q "nvidia-driver-${branch}-server" >&2 \
    || die "installing nvidia-driver-${branch}-server (DKMS) failed: apt-cache policy nvidia-driver-${branch}-server"
  changed "nvidia driver branch $branch installed with DKMS (was: ${current:-none})"
  install -d -m 0755 /var/lib/fudbuddy
  echo "$branch" > /var/lib/fudbuddy/reboot-required
fi
if [ -n "$cuda" ]; then apt_ensure "$cuda"; fi

# Hold every installed NVIDIA package (driver libraries, utils, signed module metas, fabric manager): apt and
# unattended-upgrades skip held packages, and a kernel update that needs a newer module is held back with them.
mapfile -t nvidia_pkgs < <(dpkg-query -W -f='${Package} ${Status}\n' 2>/dev/null \
  | awk '$NF == "installed" && $1 ~ /^(nvidia-|libnvidia-|linux-modules-nvidia-|linux-objects-nvidia-|linux-signatures-nvidia-|cuda-drivers)/ {print $1}')
held=$(apt-mark showhold 2>/dev/null || true)
to_hold=()
for p in "${nvidia_pkgs[@]}"; do grep -qxF "$p" <<<"$held" || to_hold+=("$p"); done
if [ "${#to_hold[@]}" -gt 0 ]; then
  apt-mark hold "${to_hold[@]}" >&2 || die "apt-mark hold ${to_hold[*]} failed"
  changed "held from upgrades: ${to_hold[*]}"
else
  ok "NVIDIA packages held (${#nvidia_pkgs[@]})"
fi
[ -f /var/lib/fudbuddy/reboot-required ] && echo 'REBOOT_REQUIRED=1'
finish
