#!/usr/bin/env bash
# model-switch.sh MODEL [REVISION] [MIN_FREE_GB]
# Ops: switch (or update, with a new REVISION) the model vLLM serves, keeping --served-model-name, so the API
# and the edge need no change. Downloads first (disk checked), then rewrites /etc/fudbuddy/vllm-model.env,
# restarts vllm.service and waits for /health. Set vllm.model/revision in the stack config to the same values,
# or the next `pulumi up` that touches the model puts the configured one back.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
model=${1:?usage: model-switch.sh MODEL [REVISION] [MIN_FREE_GB]}
revision=${2:-main}
min_free=${3:-60}
here=$(dirname "$0")
token=/etc/fudbuddy/hf-token
if [ -f "$token" ]; then "$here/model-download.sh" "$model" "$revision" "$min_free" < "$token"
else "$here/model-download.sh" "$model" "$revision" "$min_free" < /dev/null; fi
if install_content /etc/fudbuddy/vllm-model.env 0600 root:root <<ENV
VLLM_MODEL=$model
VLLM_REVISION=$revision
ENV
then
  changed "vllm model set to $model@$revision"
  systemctl restart vllm.service || die "vllm failed to restart: journalctl -u vllm -n 100"
  "$here/wait-for-upstream.sh" http://127.0.0.1:8000/health "${FUDBUDDY_HEALTH_TIMEOUT:-1200}"
  ok "vllm healthy with $model@$revision"
else
  ok "vllm already serves $model@$revision"
fi
finish
