#!/usr/bin/env bash
# write-secret-file.sh DEST [--owner USER:GROUP] [--mode 0600|0640] [--restart UNIT | --reload UNIT]   < content
# Writes stdin to DEST (mode 0600 unless --mode says 0640 for a group that must read it; atomically: a temp file in
# the same directory, then rename; the content is never echoed, never in argv) and, when it changed, restarts or
# reloads UNIT if it is running. Used for EnvironmentFiles (--restart) and token files the service re-reads on
# SIGHUP (--reload: no restart, running requests untouched).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
usage='usage: write-secret-file.sh DEST [--owner USER:GROUP] [--mode 0600|0640] [--restart UNIT | --reload UNIT] < content'
dest=${1:?$usage}
shift
owner=root:root mode=0600 action='' unit=''
while [ $# -gt 0 ]; do
  case $1 in
    --owner) owner=${2:?$usage}; shift 2 ;;
    --mode) mode=${2:?$usage}; shift 2 ;;
    --restart|--reload)
      [ -z "$unit" ] || die "write-secret-file.sh: give one of --restart/--reload"
      action=${1#--}; unit=${2:?$usage}; shift 2 ;;
    *) die "write-secret-file.sh: unknown argument $1" ;;
  esac
done
case $mode in 0600|0640) ;; *) die "write-secret-file.sh: --mode must be 0600 or 0640, not $mode" ;; esac
umask 077
ensure_dir "$(dirname "$dest")" 0750 root:"${owner#*:}"
if install_content "$dest" "$mode" "$owner"; then
  changed "$dest ($mode $owner)"
  if [ -n "$unit" ]; then unit_apply "$action" "$unit"; fi
else
  ok "$dest unchanged"
fi
finish
