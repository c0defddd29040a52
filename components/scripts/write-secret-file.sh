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
# The previous version, kept (same directory, same mode) until the unit came up with the new one: a step that fails
# leaves the host as it was, as Pulumi's state (which keeps the old step) says it is. Otherwise reverting the
# config to its last good value would be a no-op `up` while the host still ran the broken one.
prev=$(mktemp "$(dirname "$dest")/.fudbuddy-prev.XXXXXX")
trap 'rm -f "$prev"' EXIT
had=0
if [ -f "$dest" ]; then cp -p -- "$dest" "$prev"; had=1; fi
if install_content "$dest" "$mode" "$owner"; then
  changed "$dest ($mode $owner)"
  if [ -n "$unit" ] && ! unit_apply "$action" "$unit"; then
    if [ "$had" = 1 ]; then mv -f -- "$prev" "$dest"; else rm -f -- "$dest"; fi
    # Not waited for: the step fails now, with the cause; the unit comes back on its own (journalctl -u UNIT).
    systemctl "$action" --no-block "$unit" >&2 || log "warning: could not $action $unit with the previous version"
    die "$unit failed to $action with the new $dest (journal above); the file was rolled back and $unit is ${action}ing with it: the host is as before this step"
  fi
else
  ok "$dest unchanged"
fi
finish
