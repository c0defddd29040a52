#!/usr/bin/env bash
# wait-for-port.sh HOST PORT [TIMEOUT_S]
# ExecStartPost of the model and API units: `systemctl start/restart` (and so the Pulumi step) returns only once
# the service accepts connections, not merely once its process exists.
set -euo pipefail
host=${1:?usage: wait-for-port.sh HOST PORT [TIMEOUT_S]}
port=${2:?usage: wait-for-port.sh HOST PORT [TIMEOUT_S]}
timeout=${3:-60}
deadline=$(( $(date +%s) + timeout ))
until (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; do
  # systemd sets MAINPID for ExecStartPost= and does not stop this wait when the main process exits (measured on
  # systemd 252: a crash at start still waited the whole timeout): a service that died will never listen.
  if [ -n "${MAINPID:-}" ] && ! kill -0 "$MAINPID" 2>/dev/null; then
    echo "ERROR: the main process ($MAINPID) exited before accepting connections on $host:$port (its error is in the journal above)" >&2
    exit 1
  fi
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "ERROR: nothing accepts connections on $host:$port after ${timeout}s: journalctl -u <unit> -n 50" >&2
    exit 1
  fi
  sleep 0.5
done
