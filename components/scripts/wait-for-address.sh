#!/usr/bin/env bash
# wait-for-address.sh tailscale|address ADDRESS [TIMEOUT_S]
# ExecStartPre of fudbuddy-api.service: binds fail until the address exists, and After=tailscaled.service
# only orders the start of tailscaled, not the moment it has an address. Polls until ADDRESS is there.
set -euo pipefail
mode=${1:?usage: wait-for-address.sh tailscale|address ADDRESS [TIMEOUT_S]}
want=${2:?usage: wait-for-address.sh tailscale|address ADDRESS [TIMEOUT_S]}
timeout=${3:-180}
deadline=$(( $(date +%s) + timeout ))
while :; do
  case $mode in
    tailscale) have=$(tailscale ip -4 2>/dev/null || true) ;;
    address) have=$(ip -o addr show 2>/dev/null | awk '{print $4}' | cut -d/ -f1) ;;
    *) echo "ERROR: mode must be tailscale or address" >&2; exit 2 ;;
  esac
  if grep -qxF -- "$want" <<< "$have"; then exit 0; fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "ERROR: $want is not an address of this host after ${timeout}s (mode $mode): check 'tailscale status' / 'ip addr'" >&2
    exit 1
  fi
  sleep 2
done
