#!/usr/bin/env bash
# monitoring-host.sh: the monitoring node's install, entry of the payload the monitoring component sends (stdin of
# one remote.Command, triggered by its content hash): Prometheus & co., then (GRAFANA=1) Grafana, then (LOGS=1)
# Loki + Alloy. Grafana, Loki and Alloy come from Grafana's apt repository (grafana-server.sh adds it), so LOGS=1
# needs GRAFANA=1; the payload builder (components/lib/monitoringPayloads.ts) sets both, the stack config refuses
# the other pairing. Each part validates before it replaces anything and is idempotent; see the scripts for their env.
set -euo pipefail
: "${STAGE:?STAGE must name the payload directory}"
grafana=${GRAFANA:-1} logs=${LOGS:-0}
case "$grafana$logs" in
  10 | 11 | 00) ;;
  01) echo "monitoring-host.sh: LOGS=1 needs GRAFANA=1 (Loki and Alloy come from Grafana's apt repository)" >&2; exit 1 ;;
  *) echo "monitoring-host.sh: GRAFANA and LOGS must be 0 or 1, got GRAFANA=$grafana LOGS=$logs" >&2; exit 1 ;;
esac
bash "$STAGE/monitoring-server.sh"
if [ "$grafana" = 1 ]; then bash "$STAGE/grafana-server.sh"; fi
if [ "$logs" = 1 ]; then bash "$STAGE/logs-server.sh"; fi
