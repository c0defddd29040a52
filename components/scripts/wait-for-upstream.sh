#!/usr/bin/env bash
# wait-for-upstream.sh URL [TIMEOUT_S]
# ExecStartPre of fudbuddy-api.service: the API goes live only after the model server answers URL (/health).
# vLLM loads the weights for minutes after its start, hence the long default.
set -euo pipefail
url=${1:?usage: wait-for-upstream.sh URL [TIMEOUT_S]}
timeout=${2:-1200}
deadline=$(( $(date +%s) + timeout ))
until curl -fsS -o /dev/null --max-time 5 "$url"; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "ERROR: $url did not answer within ${timeout}s: journalctl -u vllm (or fudbuddy-model-stub)" >&2
    exit 1
  fi
  sleep 3
done
