#!/usr/bin/env bash
# write-secret-file.sh DEST [--owner USER:GROUP] [--restart UNIT]   < content
# Writes stdin to DEST with mode 0600 (atomically; the content is never echoed, never in argv) and, when it
# changed, restarts UNIT if it is running. Used for EnvironmentFiles and tokens.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
dest=${1:?usage: write-secret-file.sh DEST [--owner USER:GROUP] [--restart UNIT] < content}
shift
owner=root:root unit=''
while [ $# -gt 0 ]; do
  case $1 in
    --owner) owner=$2; shift 2 ;;
    --restart) unit=$2; shift 2 ;;
    *) die "write-secret-file.sh: unknown argument $1" ;;
  esac
done
umask 077
ensure_dir "$(dirname "$dest")" 0750 root:"${owner#*:}"
if install_content "$dest" 0600 "$owner"; then
  changed "$dest (0600 $owner)"
  if [ -n "$unit" ] && unit_is_active "$unit"; then
    systemctl restart "$unit" >&2 || die "systemctl restart $unit failed: journalctl -u $unit"
    echo "restarted: $unit"
  fi
else
  ok "$dest unchanged"
fi
finish
