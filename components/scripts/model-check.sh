#!/usr/bin/env bash
# model-check.sh [MIN_FREE_GB]
# Ops: disk space in the models directory, downloaded models, GPU memory, vLLM health. Exits 1 when free disk is
# below MIN_FREE_GB (default 20) or a GPU/health check fails, so it can run from cron or monitoring.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
min_free=${1:-20}
models=${FUDBUDDY_MODELS_DIR:-/var/lib/fudbuddy/models}
status=0
free_gb=$(( $(df -Pk "$models" | awk 'NR==2 {print $4}') / 1024 / 1024 ))
echo "disk: ${free_gb} GiB free in $models (minimum ${min_free})"
[ "$free_gb" -ge "$min_free" ] || { echo "WARN: low disk: remove unused models under $models/hub"; status=1; }
if [ -d "$models/hub" ]; then
  du -sh "$models"/hub/models--* 2>/dev/null | sed 's/^/model: /' || true
fi
if [ -f /etc/fudbuddy/vllm-model.env ]; then sed 's/^/serving: /' /etc/fudbuddy/vllm-model.env; fi
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=index,name,memory.used,memory.total,utilization.gpu --format=csv,noheader \
    | sed 's/^/gpu: /' || { echo "WARN: nvidia-smi failed"; status=1; }
else
  echo "gpu: none (no nvidia-smi)"
fi
if curl -fsS -o /dev/null --max-time 5 http://127.0.0.1:8000/health; then echo "model server: healthy"
else echo "WARN: model server on 127.0.0.1:8000 does not answer /health"; status=1; fi
exit "$status"
