#!/usr/bin/env bash
# monitoring-server.sh: Prometheus, Alertmanager, the blackbox exporter, node exporter, Grafana (and optionally Loki
# + Alloy) on the monitoring node (the edge box), run as root by the monitoring component (payload on stdin).
# Every UI/API listens on 127.0.0.1 (Grafana: ssh -L 3000:127.0.0.1:3000); only Loki listens on the tailnet
# address (GPU hosts push logs). Configs are validated with promtool BEFORE they replace the running ones, so a bad
# rule never takes monitoring down. Secrets (metrics tokens, the Alertmanager config, Grafana's password) are NOT
# in this payload: write-secret.sh installs them from Pulumi secret stdin afterwards.
# Env: STAGE, HOST_NAME, RETENTION (30d), LOGS=0|1, GPU_ALSO=0|1 (this host is also a GPU host: its node exporter is
#      managed by gpu-exporters.sh), BIND_ADDRESS (optional), PIN_<CODENAME>_<PACKAGE>, GRAFANA_VERSION,
#      LOKI_VERSION, ALLOY_VERSION.
set -euo pipefail
: "${STAGE:?STAGE must name the payload directory}"
# shellcheck source=lib.sh
. "$STAGE/lib.sh"
require_root
: "${HOST_NAME:?}" "${GRAFANA_VERSION:?}"
RETENTION=${RETENTION:-30d}
LOGS=${LOGS:-0}
GPU_ALSO=${GPU_ALSO:-0}
[[ $RETENTION =~ ^[0-9]+[dwy]$ ]] || die "RETENTION '$RETENTION' is not a Prometheus duration like 30d"
textfile_dir=/var/lib/prometheus/node-exporter
rules_dir=/etc/prometheus/fudbuddy-rules
secrets_dir=/etc/prometheus/fudbuddy-secrets
managed='# Managed by the FUD Buddy monitoring component (pulumi up).'

# --- listen addresses first, so no package ever starts on its default (all addresses)
prom_c=0 am_c=0 bb_c=0 ne_c=0
printf '%s\nARGS="--web.listen-address=127.0.0.1:9090 --storage.tsdb.retention.time=%s"\n' "$managed" "$RETENTION" \
  | put /etc/default/prometheus 0644 root:root && prom_c=1
printf '%s\nARGS="--web.listen-address=127.0.0.1:9093 --cluster.listen-address="\n' "$managed" \
  | put /etc/default/prometheus-alertmanager 0644 root:root && am_c=1
printf '%s\nARGS="--web.listen-address=127.0.0.1:9115 --config.file=/etc/prometheus/blackbox.yml"\n' "$managed" \
  | put /etc/default/prometheus-blackbox-exporter 0644 root:root && bb_c=1
pkgs=(
  "prometheus=$(pinned_version prometheus)"
  "prometheus-alertmanager=$(pinned_version prometheus-alertmanager)"
  "prometheus-blackbox-exporter=$(pinned_version prometheus-blackbox-exporter)"
)
if [ "$GPU_ALSO" != 1 ]; then
  printf '%s\nARGS="--web.listen-address=127.0.0.1:9100 --collector.textfile.directory=%s --collector.systemd --no-collector.wifi"\n' \
    "$managed" "$textfile_dir" | put /etc/default/prometheus-node-exporter 0644 root:root && ne_c=1
  pkgs+=("prometheus-node-exporter=$(pinned_version prometheus-node-exporter)")
fi
put /etc/prometheus/blackbox.yml 0644 root:root < "$STAGE/blackbox.yml" && bb_c=1
apt_install_pinned "${pkgs[@]}"

# --- helper scripts
ensure_dir "$LIB_DIR" 0755 root:root
for f in lib.sh filesystem-roles.sh write-secret.sh; do
  mode=0755; [ "$f" = lib.sh ] && mode=0644
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
systemctl start fudbuddy-fs-roles.service || die "fudbuddy-fs-roles failed: journalctl -u fudbuddy-fs-roles"
put "$textfile_dir/fudbuddy_credentials.prom" 0644 root:root < "$STAGE/credentials.prom" || true

# --- (re)start what changed; Prometheus reloads (SIGHUP) instead of restarting to keep its WAL warm
systemctl daemon-reload
systemctl enable prometheus prometheus-alertmanager prometheus-blackbox-exporter >/dev/null 2>&1
if ! systemctl is-active --quiet prometheus; then
  systemctl restart prometheus || die "prometheus failed to start: journalctl -u prometheus -n 50"
  changed "started prometheus"
elif [ "$prom_c" = 1 ]; then
  systemctl reload prometheus || systemctl restart prometheus || die "prometheus reload failed: journalctl -u prometheus"
  changed "reloaded prometheus"
fi
restart_if prometheus-alertmanager "$am_c"
restart_if prometheus-blackbox-exporter "$bb_c"
[ "$GPU_ALSO" = 1 ] || restart_if prometheus-node-exporter "$ne_c"

# --- Grafana (Grafana's apt repository, pinned), loopback only, provisioned datasource + dashboards
grafana_repo
g=0
put "$CONF_DIR/grafana.env" 0644 root:root < "$STAGE/grafana.env" && g=1
put /etc/systemd/system/grafana-server.service.d/fudbuddy.conf 0644 root:root < "$STAGE/units/grafana-override.conf" && g=1
apt_install_pinned "grafana=$GRAFANA_VERSION"
put /etc/grafana/provisioning/datasources/fudbuddy.yml 0640 root:grafana < "$STAGE/grafana/datasources.yml" && g=1
put /etc/grafana/provisioning/dashboards/fudbuddy.yml 0640 root:grafana < "$STAGE/grafana/dashboards.yml" && g=1
ensure_dir /var/lib/grafana/dashboards 0755 root:root
ensure_dir /var/lib/grafana/dashboards/fudbuddy 0755 root:root
for f in "$STAGE"/dashboards/*.json; do
  name=$(basename "$f")
  put "/var/lib/grafana/dashboards/fudbuddy/$name" 0644 root:root < "$f" || true
done
if [ ! -e /etc/grafana/fudbuddy-admin-password ]; then
  # Placeholder until write-secret.sh --grafana-admin sets the real one; a random value locks the account meanwhile.
  head -c 32 /dev/urandom | base64 | install -m 0600 -o grafana -g grafana /dev/stdin /etc/grafana/fudbuddy-admin-password
  g=1
fi
restart_if grafana-server "$g"

# --- logs (optional): Loki on the tailnet address + Alloy for this host's own journal
if [ "$LOGS" = 1 ]; then
  : "${LOKI_VERSION:?}" "${ALLOY_VERSION:?}"
  bind=$(bind_address)
  l=0
  printf 'LOKI_LISTEN_ADDRESS=%s\n' "$bind" | put "$CONF_DIR/loki.env" 0644 root:root && l=1
  put /etc/systemd/system/loki.service.d/fudbuddy.conf 0644 root:root < "$STAGE/units/loki-override.conf" && l=1
  apt_install_pinned "loki=$LOKI_VERSION"
  put /etc/loki/config.yml 0644 root:root < "$STAGE/loki.yml" && l=1
  restart_if loki "$l"
  a=0
  printf 'CONFIG_FILE=/etc/alloy/config.alloy\nCUSTOM_ARGS="--server.http.listen-addr=127.0.0.1:12345 --disable-reporting"\nFUDBUDDY_HOST=%s\nLOKI_PUSH_URL=http://%s:3100/loki/api/v1/push\n' \
    "$HOST_NAME" "$bind" | put /etc/default/alloy 0644 root:root && a=1
  apt_install_pinned "alloy=$ALLOY_VERSION"
  put /etc/alloy/config.alloy 0644 root:root < "$STAGE/config.alloy" && a=1
  if ! id -nG alloy | grep -qw systemd-journal; then usermod -aG systemd-journal alloy; a=1; changed "alloy in group systemd-journal"; fi
  restart_if alloy "$a"
fi
finish
