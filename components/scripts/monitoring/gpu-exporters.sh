#!/usr/bin/env bash
# gpu-exporters.sh: the metrics side of a GPU host, run as root by the monitoring component (payload on stdin).
#   - prometheus-node-exporter (Ubuntu's package, pinned) on <tailnet-ip>:9100 with the textfile collector
#   - GPU metrics: nvidia-smi-textfile.sh every 15 s (fudbuddy-gpu-metrics.timer), when GPU=1
#   - vLLM's /metrics re-served on <tailnet-ip>:9402 by vllm-metrics-proxy.mjs (vLLM itself stays on 127.0.0.1)
#   - filesystem roles (models, logs) for the disk alerts
#   - optional: Grafana Alloy shipping journald to Loki (LOGS=1)
# Nothing listens on 0.0.0.0; the firewall is not touched (ufw already admits only tailscale0 + SSH).
# Env: STAGE (dir with the payload files), HOST_NAME, GPU=0|1, MODELS_DIR, BIND_ADDRESS (optional, CPU test hosts),
#      VLLM_METRICS_UPSTREAM, LOGS=0|1, LOKI_PUSH_URL, PIN_<CODENAME>_<PACKAGE>, ALLOY_VERSION.
set -euo pipefail
: "${STAGE:?STAGE must name the payload directory}"
# shellcheck source=lib.sh
. "$STAGE/lib.sh"
require_root
: "${HOST_NAME:?}" "${MODELS_DIR:?}"
GPU=${GPU:-1}
LOGS=${LOGS:-0}
VLLM_METRICS_UPSTREAM=${VLLM_METRICS_UPSTREAM:-http://127.0.0.1:8000/metrics}
textfile_dir=/var/lib/prometheus/node-exporter
bind=$(bind_address)
# Plain assignments, so a missing pin stops the script here (set -e) before anything is touched.
ne_version=$(pinned_version prometheus-node-exporter)

# --- node exporter: configure BEFORE installing so it never starts on the package default (:9100 on all addresses)
ne_args="ARGS=\"--web.listen-address=${bind}:9100 --collector.textfile.directory=${textfile_dir} ${NODE_EXPORTER_SYSTEMD_ARGS} --no-collector.wifi --no-collector.infiniband --no-collector.nfs --no-collector.nfsd\""
ne_changed=0
printf '# Managed by the FUD Buddy monitoring component (pulumi up).\n%s\n' "$ne_args" \
  | put /etc/default/prometheus-node-exporter 0644 root:root && ne_changed=1
put /etc/systemd/system/prometheus-node-exporter.service.d/fudbuddy.conf 0644 root:root \
  < "$STAGE/units/node-exporter-override.conf" && ne_changed=1
apt_install_pinned "prometheus-node-exporter=$ne_version"
ensure_dir "$textfile_dir" 0755 root:root
restart_if prometheus-node-exporter "$ne_changed"

# --- scripts and filesystem roles
ensure_dir "$LIB_DIR" 0755 root:root
for f in host-lib.sh lib.sh nvidia-smi-textfile.sh filesystem-roles.sh vllm-metrics-proxy.mjs; do
  mode=0755; [[ $f == *lib.sh ]] && mode=0644
  put "$LIB_DIR/$f" "$mode" root:root < "$STAGE/$f" || true
done
ensure_dir "$CONF_DIR/fs-roles.d" 0755 root:root
printf 'models %s\nlogs /var/log\n' "$MODELS_DIR" | put "$CONF_DIR/fs-roles.d/gpu.conf" 0644 root:root || true
fs_changed=0
put /etc/systemd/system/fudbuddy-fs-roles.service 0644 root:root < "$STAGE/units/fudbuddy-fs-roles.service" && fs_changed=1
systemctl daemon-reload
systemctl enable fudbuddy-fs-roles.service >/dev/null 2>&1
[ "$fs_changed" = 0 ] || changed "filesystem roles"
# Run it now (the unit re-runs it at boot); the script leaves an unchanged textfile alone.
"$LIB_DIR/filesystem-roles.sh" "$CONF_DIR/fs-roles.d" "$textfile_dir/fudbuddy_filesystem_roles.prom" \
  || die "filesystem-roles.sh failed (see above)"

# --- GPU metrics
if [ "$GPU" = 1 ]; then
  command -v nvidia-smi >/dev/null || die "GPU=1 but nvidia-smi is missing: the gpuHost component installs the driver first"
  t=0
  put /etc/systemd/system/fudbuddy-gpu-metrics.service 0644 root:root < "$STAGE/units/fudbuddy-gpu-metrics.service" && t=1
  put /etc/systemd/system/fudbuddy-gpu-metrics.timer 0644 root:root < "$STAGE/units/fudbuddy-gpu-metrics.timer" && t=1
  systemctl daemon-reload
  systemctl enable fudbuddy-gpu-metrics.timer >/dev/null 2>&1
  restart_if fudbuddy-gpu-metrics.timer "$t"
  # One run now, so the first scrape already has GPU metrics (the timer takes over).
  "$LIB_DIR/nvidia-smi-textfile.sh" "$textfile_dir/nvidia_smi.prom" >/dev/null \
    || die "the first GPU metrics run failed: nvidia-smi --query-gpu=... does not work on this host"
else
  if [ -f /etc/systemd/system/fudbuddy-gpu-metrics.timer ] && systemctl is-enabled --quiet fudbuddy-gpu-metrics.timer 2>/dev/null; then
    systemctl disable --now fudbuddy-gpu-metrics.timer
    changed "disabled fudbuddy-gpu-metrics.timer (GPU=0)"
  fi
fi

# --- vLLM metrics proxy on the tailnet address
p=0
printf 'LISTEN_HOST=%s\nLISTEN_PORT=9402\nUPSTREAM_URL=%s\n' "$bind" "$VLLM_METRICS_UPSTREAM" \
  | put "$CONF_DIR/vllm-metrics.env" 0644 root:root && p=1
put /etc/systemd/system/fudbuddy-vllm-metrics.service 0644 root:root < "$STAGE/units/fudbuddy-vllm-metrics.service" && p=1
cmp -s "$STAGE/vllm-metrics-proxy.mjs" "$LIB_DIR/vllm-metrics-proxy.mjs" || p=1
command -v node >/dev/null || die "node is missing: the gpuHost component installs Node.js for the API first"
restart_if fudbuddy-vllm-metrics.service "$p"

# --- logs: journald -> Loki through Grafana Alloy
if [ "$LOGS" = 1 ]; then
  : "${LOKI_PUSH_URL:?LOGS=1 needs LOKI_PUSH_URL}" "${ALLOY_VERSION:?}"
  grafana_repo
  install_alloy "$HOST_NAME" "$LOKI_PUSH_URL"
fi
finish
