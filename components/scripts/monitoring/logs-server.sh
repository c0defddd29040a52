#!/usr/bin/env bash
# logs-server.sh: Loki on the monitoring node's tailnet address (GPU hosts push their journald through Alloy) and
# Alloy for this host's own journal. Only when monitoring.logs is true. Run as root by monitoring-host.sh.
# Env: STAGE, HOST_NAME, BIND_ADDRESS (optional), LOKI_VERSION, ALLOY_VERSION.
set -euo pipefail
: "${STAGE:?STAGE must name the payload directory}"
# shellcheck source=lib.sh
. "$STAGE/lib.sh"
require_root
: "${HOST_NAME:?}" "${LOKI_VERSION:?}" "${ALLOY_VERSION:?}"

bind=$(bind_address)
l=0
printf 'LOKI_LISTEN_ADDRESS=%s\n' "$bind" | put "$CONF_DIR/loki.env" 0644 root:root && l=1
put /etc/systemd/system/loki.service.d/fudbuddy.conf 0644 root:root < "$STAGE/units/loki-override.conf" && l=1
apt_install_pinned "loki=$LOKI_VERSION"
id loki >/dev/null 2>&1 || die "the loki package did not create its user; check apt-cache policy loki"
ensure_dir /var/lib/loki 0750 loki:loki
put /etc/loki/config.yml 0644 root:root < "$STAGE/loki.yml" && l=1
restart_if loki "$l"
install_alloy "$HOST_NAME" "http://$bind:3100/loki/api/v1/push"
finish
