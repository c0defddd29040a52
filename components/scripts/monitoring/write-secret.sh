#!/usr/bin/env bash
# write-secret.sh DEST OWNER:GROUP [--reload UNIT] [--amtool] [--grafana-admin]   < secret
# Installs a secret from stdin as a 0600 file (atomically; never echoed, never in argv) on the monitoring host.
#   --amtool         validate it as an Alertmanager config first (amtool check-config); invalid = nothing changes
#   --reload UNIT    reload UNIT when the file changed (e.g. prometheus-alertmanager)
#   --grafana-admin  also set Grafana's admin password to it (grafana cli, password on stdin)
set -euo pipefail
# shellcheck source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
dest=${1:?usage: write-secret.sh DEST OWNER:GROUP [--reload UNIT] [--amtool] [--grafana-admin] < secret}
owner=${2:?usage: write-secret.sh DEST OWNER:GROUP ...}
shift 2
reload='' amtool=0 grafana=0
while [ $# -gt 0 ]; do
  case $1 in
    --reload) reload=${2:?--reload needs a unit}; shift 2 ;;
    --amtool) amtool=1; shift ;;
    --grafana-admin) grafana=1; shift ;;
    *) die "write-secret.sh: unknown argument $1" ;;
  esac
done
umask 077
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
cat > "$tmp"
[ -s "$tmp" ] || die "write-secret.sh: empty secret for $dest (is the Pulumi secret set?)"
if [ "$amtool" = 1 ]; then
  # amtool prints the parsed config on success: keep its output out of the Pulumi log.
  amtool check-config "$tmp" >/dev/null 2>&1 || die "the rendered Alertmanager config for $dest is invalid (amtool check-config); nothing changed"
fi
if install_content "$dest" 0600 "$owner" < "$tmp"; then
  changed "$dest (0600 $owner)"
  if [ "$grafana" = 1 ]; then
    systemctl is-active --quiet grafana-server || systemctl start grafana-server
    # --password-from-stdin keeps the password out of argv; as the grafana user so the DB keeps its owner.
    runuser -u grafana -- grafana cli --homepath /usr/share/grafana --config /etc/grafana/grafana.ini admin reset-admin-password --password-from-stdin \
      < "$tmp" >/dev/null 2>&1 || die "grafana cli could not set the admin password: journalctl -u grafana-server"
    changed "grafana admin password"
  fi
  if [ -n "$reload" ] && systemctl is-active --quiet "$reload"; then
    systemctl reload "$reload" || systemctl restart "$reload" || die "reloading $reload failed: journalctl -u $reload"
    echo "reloaded: $reload"
  fi
else
  ok "$dest unchanged"
fi
finish
