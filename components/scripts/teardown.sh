#!/usr/bin/env bash
# teardown.sh — the delete step of a GPU host's `teardown` resource: runs on `pulumi destroy` or when the host leaves
# the stack (never on an update: that resource's inputs do not change). Stops and removes the services and the
# configuration the stack installed. Keeps what is slow to get back and harmless when idle: packages, the NVIDIA
# driver, Node, the vLLM venv, the model cache, the tailnet membership, the service users, the firewall (SSH stays
# open) and /opt/fudbuddy/bin (ops scripts). docs/host.md says how to remove those by hand.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root

for unit in fudbuddy-api.service fudbuddy-model-stub.service vllm.service; do
  path=/etc/systemd/system/$unit
  [ -f "$path" ] || { ok "$unit not installed"; continue; }
  systemctl disable --now "$unit" >&2 || log "warning: $unit did not stop cleanly (journalctl -u $unit)"
  rm -f -- "$path"
  changed "removed $unit"
done
systemctl daemon-reload >&2 || log "warning: systemctl daemon-reload failed"

for path in /etc/fudbuddy /etc/fudbuddy-api /opt/fudbuddy/api /opt/fudbuddy/prompts /opt/fudbuddy/model-stub; do
  if [ -e "$path" ]; then
    rm -rf -- "$path"
    changed "removed $path"
  else
    ok "$path absent"
  fi
done
finish
