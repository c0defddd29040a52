#!/usr/bin/env bash
# grafana-server.sh: Grafana (Grafana's apt repository, pinned) on the monitoring node, loopback only
# (ssh -L 3000:127.0.0.1:3000), with the provisioned Prometheus (+ Loki) datasource and the FUD Buddy dashboards.
# The admin password is set afterwards by write-secret.sh --grafana-admin (Pulumi secret on stdin); until then a
# random placeholder locks the account. Run as root by monitoring-host.sh.
# Env: STAGE, GRAFANA_VERSION.
set -euo pipefail
: "${STAGE:?STAGE must name the payload directory}"
# shellcheck source=lib.sh
. "$STAGE/lib.sh"
require_root
: "${GRAFANA_VERSION:?}"

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
  put "/var/lib/grafana/dashboards/fudbuddy/$name" 0644 root:root < "$f" && g=1
done
for f in /var/lib/grafana/dashboards/fudbuddy/*.json; do
  [ -e "$f" ] || continue
  name=$(basename "$f")
  if [ ! -e "$STAGE/dashboards/$name" ]; then rm -f -- "$f"; changed "removed dashboard $name"; fi
done
if [ ! -e /etc/grafana/fudbuddy-admin-password ]; then
  # Placeholder until write-secret.sh --grafana-admin sets the real one; a random value locks the account meanwhile.
  head -c 32 /dev/urandom | base64 | install -m 0600 -o grafana -g grafana /dev/stdin /etc/grafana/fudbuddy-admin-password
  g=1
fi
restart_if grafana-server "$g"
finish
