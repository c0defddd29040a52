#!/usr/bin/env bash
# monitoring-server.sh: Prometheus, Alertmanager, the blackbox exporter and node exporter on the monitoring node
# (the edge box), run as root by monitoring-host.sh. Everything listens on 127.0.0.1. Configs are validated with
# promtool BEFORE they replace the running ones, so a bad rule never takes monitoring down. Secrets (metrics
# tokens, the Alertmanager config) are NOT in this payload: write-secret.sh installs them from Pulumi secret stdin.
# Env: STAGE, HOST_NAME, RETENTION (30d), GPU_ALSO=0|1 (this host is also a GPU host: its node exporter is managed
#      by gpu-exporters.sh), PIN_<CODENAME>_<PACKAGE>.
set -euo pipefail
: "${STAGE:?STAGE must name the payload directory}"
# shellcheck source=lib.sh
. "$STAGE/lib.sh"
require_root
: "${HOST_NAME:?}"
RETENTION=${RETENTION:-30d}
GPU_ALSO=${GPU_ALSO:-0}
[[ $RETENTION =~ ^[0-9]+[dwy]$ ]] || die "RETENTION '$RETENTION' is not a Prometheus duration like 30d"
textfile_dir=/var/lib/prometheus/node-exporter
rules_dir=/etc/prometheus/fudbuddy-rules
secrets_dir=/etc/prometheus/fudbuddy-secrets
managed='# Managed by the FUD Buddy monitoring component (pulumi up).'
# Plain assignments, so a missing pin stops the script here (set -e) before anything is touched.
v_prometheus=$(pinned_version prometheus)
v_alertmanager=$(pinned_version prometheus-alertmanager)
v_blackbox=$(pinned_version prometheus-blackbox-exporter)
v_node=$(pinned_version prometheus-node-exporter)

# --- listen addresses first, so no package ever starts on its default (all addresses). Prometheus' flags are read
# at start only: a change of them (the retention) restarts it; a config or rules change only reloads it.
prom_c=0 prom_args_c=0 am_c=0 bb_c=0 ne_c=0
printf '%s\nARGS="--web.listen-address=127.0.0.1:9090 --storage.tsdb.retention.time=%s"\n' "$managed" "$RETENTION" \
  | put /etc/default/prometheus 0644 root:root && prom_args_c=1
printf '%s\nARGS="--web.listen-address=127.0.0.1:9093 --cluster.listen-address="\n' "$managed" \
  | put /etc/default/prometheus-alertmanager 0644 root:root && am_c=1
printf '%s\nARGS="--web.listen-address=127.0.0.1:9115 --config.file=/etc/prometheus/blackbox.yml"\n' "$managed" \
  | put /etc/default/prometheus-blackbox-exporter 0644 root:root && bb_c=1
pkgs=("prometheus=$v_prometheus" "prometheus-alertmanager=$v_alertmanager" "prometheus-blackbox-exporter=$v_blackbox")
if [ "$GPU_ALSO" != 1 ]; then
  printf '%s\nARGS="--web.listen-address=127.0.0.1:9100 --collector.textfile.directory=%s %s --no-collector.wifi"\n' \
    "$managed" "$textfile_dir" "$NODE_EXPORTER_SYSTEMD_ARGS" | put /etc/default/prometheus-node-exporter 0644 root:root && ne_c=1
  pkgs+=("prometheus-node-exporter=$v_node")
fi
put /etc/prometheus/blackbox.yml 0644 root:root < "$STAGE/blackbox.yml" && bb_c=1
apt_install_pinned "${pkgs[@]}"

# --- helper scripts
ensure_dir "$LIB_DIR" 0755 root:root
for f in host-lib.sh lib.sh filesystem-roles.sh write-secret.sh server-teardown.sh; do
  mode=0755; [[ $f == *lib.sh ]] && mode=0644
  put "$LIB_DIR/$f" "$mode" root:root < "$STAGE/$f" || true
done

# --- secrets directory; empty placeholders until write-secret.sh runs (promtool insists the files exist)
ensure_dir "$secrets_dir" 0750 root:prometheus
for s in api-metrics-token edge-metrics-token; do
  if [ ! -e "$secrets_dir/$s" ]; then
    install -m 0600 -o prometheus -g prometheus /dev/null "$secrets_dir/$s"
    changed "placeholder $secrets_dir/$s"
  fi
done

# --- rules: validate the staged set, then sync the directory
promtool check rules "$STAGE"/rules/*.yml >&2 || die "staged alert rules are invalid; nothing was changed"
ensure_dir "$rules_dir" 0755 root:root
for f in "$STAGE"/rules/*.yml; do
  name=$(basename "$f")
  put "$rules_dir/$name" 0644 root:root < "$f" && prom_c=1
done
for f in "$rules_dir"/*.yml; do
  [ -e "$f" ] || continue
  if [ ! -e "$STAGE/rules/$(basename "$f")" ]; then rm -f -- "$f"; prom_c=1; changed "removed $f"; fi
done

# --- prometheus.yml: check the candidate against the installed rules and secrets, then swap it in
cp "$STAGE/prometheus.yml" /etc/prometheus/.prometheus.yml.candidate
if ! promtool check config /etc/prometheus/.prometheus.yml.candidate >&2; then
  rm -f /etc/prometheus/.prometheus.yml.candidate
  die "rendered prometheus.yml is invalid; the running config was kept"
fi
rm -f /etc/prometheus/.prometheus.yml.candidate
put /etc/prometheus/prometheus.yml 0644 root:root < "$STAGE/prometheus.yml" && prom_c=1

# --- textfiles: filesystem roles and credential expiries
ensure_dir "$textfile_dir" 0755 root:root
ensure_dir "$CONF_DIR/fs-roles.d" 0755 root:root
printf 'prometheus /var/lib/prometheus\nlogs /var/log\n' | put "$CONF_DIR/fs-roles.d/monitoring.conf" 0644 root:root || true
put /etc/systemd/system/fudbuddy-fs-roles.service 0644 root:root < "$STAGE/units/fudbuddy-fs-roles.service" || true
systemctl daemon-reload
systemctl enable fudbuddy-fs-roles.service >/dev/null 2>&1
"$LIB_DIR/filesystem-roles.sh" "$CONF_DIR/fs-roles.d" "$textfile_dir/fudbuddy_filesystem_roles.prom" \
  || die "filesystem-roles.sh failed (see above)"
put "$textfile_dir/fudbuddy_credentials.prom" 0644 root:root < "$STAGE/credentials.prom" || true

# --- (re)start what changed; Prometheus reloads (SIGHUP) instead of restarting to keep its WAL warm
systemctl daemon-reload
systemctl enable prometheus prometheus-alertmanager prometheus-blackbox-exporter >/dev/null 2>&1
if ! systemctl is-active --quiet prometheus; then
  systemctl restart prometheus || die "prometheus failed to start: journalctl -u prometheus -n 50"
  changed "started prometheus"
elif [ "$prom_args_c" = 1 ]; then
  systemctl restart prometheus || die "prometheus failed to restart with its new flags: journalctl -u prometheus -n 50"
  changed "restarted prometheus (new flags)"
elif [ "$prom_c" = 1 ]; then
  systemctl reload prometheus || systemctl restart prometheus || die "prometheus reload failed: journalctl -u prometheus"
  changed "reloaded prometheus"
fi
restart_if prometheus-alertmanager "$am_c"
restart_if prometheus-blackbox-exporter "$bb_c"
[ "$GPU_ALSO" = 1 ] || restart_if prometheus-node-exporter "$ne_c"
finish
