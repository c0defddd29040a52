#!/usr/bin/env bash
# filesystem-roles.sh [CONF_DIR] [OUTPUT_FILE]
# Maps the directories we care about (models, logs, Prometheus TSDB) to their filesystems for the disk alerts:
# reads "ROLE PATH" lines from CONF_DIR/*.conf and writes fudbuddy_filesystem_role{mountpoint,role} 1, one series per
# mountpoint (roles joined with ","), so the alert's `group_left` join never sees two series for one filesystem.
set -euo pipefail
conf_dir=${1:-/etc/fudbuddy-monitoring/fs-roles.d}
out=${2:-/var/lib/prometheus/node-exporter/fudbuddy_filesystem_roles.prom}
declare -A roles=()
shopt -s nullglob
for f in "$conf_dir"/*.conf; do
  while read -r role path _; do
    case $role in ''|'#'*) continue ;; esac
    [[ $role =~ ^[a-z][a-z0-9_-]*$ ]] || { echo "ERROR: $f: bad role '$role'" >&2; exit 1; }
    # The directory may not exist yet (models before the first download): use its closest existing parent.
    p=$path
    while [ ! -e "$p" ] && [ "$p" != / ]; do p=$(dirname "$p"); done
    mnt=$(df --output=target "$p" | tail -n1)
    case ",${roles[$mnt]:-}," in *",$role,"*) ;; *) roles[$mnt]=${roles[$mnt]:+${roles[$mnt]},}$role ;; esac
  done < "$f"
done
tmp=$(mktemp "$(dirname "$out")/.fsroles.XXXXXX")
trap 'rm -f "$tmp"' EXIT
{
  echo '# HELP fudbuddy_filesystem_role Filesystems holding FUD Buddy data (role: models, logs, prometheus).'
  echo '# TYPE fudbuddy_filesystem_role gauge'
  for mnt in "${!roles[@]}"; do
    printf 'fudbuddy_filesystem_role{mountpoint="%s",role="%s"} 1\n' "$mnt" "${roles[$mnt]}"
  done | sort
} > "$tmp"
chmod 0644 "$tmp"
if [ -f "$out" ] && cmp -s "$tmp" "$out"; then exit 0; fi
mv -f "$tmp" "$out"
trap - EXIT
