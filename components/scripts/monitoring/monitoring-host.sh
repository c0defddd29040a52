#!/usr/bin/env bash
# monitoring-host.sh: the monitoring node's install, entry of the payload the monitoring component sends (stdin of
# one remote.Command, triggered by its content hash): Prometheus & co., then Grafana, then (LOGS=1) Loki + Alloy.
# Each part validates before it replaces anything and is idempotent; see the scripts for their env.
set -euo pipefail
: "${STAGE:?STAGE must name the payload directory}"
bash "$STAGE/monitoring-server.sh"
bash "$STAGE/grafana-server.sh"
if [ "${LOGS:-0}" = 1 ]; then bash "$STAGE/logs-server.sh"; fi
