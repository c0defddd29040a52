#!/usr/bin/env bash
# nvidia-fabricmanager.sh BRANCH
# NVSwitch (HGX/DGX) boxes need NVIDIA Fabric Manager, at exactly the running driver's version, or their GPUs never
# finish fabric initialisation and CUDA fails. Runs after the driver is loaded (verify-gpu.sh): when `nvidia-smi -q`
# shows a GPU Fabric state (NVSwitch systems report one; others N/A), installs nvidia-fabricmanager-BRANCH at the
# driver version, holds it with the driver, enables the service. Prints FABRIC_MANAGER=needed|not-needed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
branch=${1:?usage: nvidia-fabricmanager.sh BRANCH}
[[ $branch =~ ^[0-9]{3}$ ]] || die "nvidia.driverBranch '$branch' is not a driver branch like 550"
query=$(nvidia-smi -q) || die "nvidia-smi -q fails: the driver is not loaded (run after verify-gpu.sh)"
# The Fabric block of each GPU: "State : Completed|In Progress|Not Started" on NVSwitch systems, "N/A" elsewhere.
states=$(awk '/^ *Fabric *$/ {f=1; next} f && /State/ {sub(/.*: */, ""); print; f=0}' <<<"$query")
if [ -z "$states" ] || ! grep -qv '^N/A$' <<<"$states"; then
  echo 'FABRIC_MANAGER=not-needed'
  ok "no NVSwitch fabric on this host"
  finish
  exit 0
fi
echo 'FABRIC_MANAGER=needed'
driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -n1)
pkg="nvidia-fabricmanager-${branch}"
have=$(dpkg-query -W -f='${Version}' "$pkg" 2>/dev/null || true)
if [[ $have == "$driver"-* ]]; then
  ok "$pkg $have matches driver $driver"
else
  apt-get update -q >&2 || die "apt-get update failed"
  want=$(apt-cache madison "$pkg" | awk -F'|' -v d="$driver" '{gsub(/ /, "", $2)} index($2, d "-") == 1 {print $2; exit}')
  [ -n "$want" ] || die "no $pkg at driver version $driver in the apt sources (apt-cache madison $pkg): Fabric Manager must match the driver exactly; upgrade the driver and Fabric Manager together (docs/runbook.md)"
  apt-mark unhold "$pkg" >/dev/null 2>&1 || true
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-change-held-packages "$pkg=$want" >&2 || die "installing $pkg=$want failed"
  apt-mark hold "$pkg" >&2
  changed "$pkg $want (driver $driver), held"
fi
if ! systemctl is-enabled --quiet nvidia-fabricmanager.service || ! unit_is_active nvidia-fabricmanager.service; then
  systemctl enable --now nvidia-fabricmanager.service >&2 || die "nvidia-fabricmanager.service does not start: journalctl -u nvidia-fabricmanager"
  changed "nvidia-fabricmanager.service enabled and started"
fi
finish
