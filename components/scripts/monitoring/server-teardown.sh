#!/usr/bin/env bash
# server-teardown.sh --stop UNIT... --unit UNIT... --path PATH...
# The delete of the monitoring component's `server-teardown` step (pulumi destroy, or monitoring turned off), run
# from where monitoring-server.sh installed it (LIB_DIR). Stops and disables the distribution packages' services
# it runs (--stop: Prometheus, Alertmanager, blackbox, Grafana, Loki; the packages stay), removes our own units
# (--unit) and our files (--path: the metrics tokens, the Alertmanager config with its webhook and SMTP password,
# Grafana's admin password, rules, dashboards, drop-ins), and LIB_DIR itself last. The lists are
# MONITORING_SERVER_TEARDOWN of components/lib/hostFootprint.ts; docs/monitoring.md shows them.
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
stops=() units=() paths=()
while [ $# -gt 0 ]; do
  case $1 in
    --stop) stops+=("${2:?}"); shift 2 ;;
    --unit) units+=("${2:?}"); shift 2 ;;
    --path) paths+=("${2:?}"); shift 2 ;;
    *) die "server-teardown.sh: unknown argument $1" ;;
  esac
done
for unit in "${stops[@]}"; do
  [[ $unit =~ ^[a-zA-Z0-9@._-]+\.(service|timer)$ ]] || die "'$unit' is not a service or timer name"
  systemctl cat "$unit" >/dev/null 2>&1 || { ok "$unit not installed"; continue; }
  systemctl disable --now "$unit" >&2 2>/dev/null || log "warning: $unit did not stop cleanly (journalctl -u $unit)"
  changed "stopped and disabled $unit"
done
for unit in "${units[@]}"; do remove_unit "$unit"; done
for path in "${paths[@]}" "$LIB_DIR"; do
  case $path in
    /etc/prometheus/fudbuddy-* | /etc/prometheus/alertmanager.yml | /etc/grafana/fudbuddy-* | /etc/grafana/provisioning/*/fudbuddy.yml \
      | /var/lib/grafana/dashboards/fudbuddy | /etc/systemd/system/*.service.d/fudbuddy.conf | "$CONF_DIR" | "$LIB_DIR") ;;
    *) die "refusing to remove '$path' (not one of the monitoring server's own paths)" ;;
  esac
  remove_path "$path"
done
systemctl daemon-reload >&2 || log "warning: systemctl daemon-reload failed"
finish
