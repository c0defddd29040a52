#!/usr/bin/env bash
# install-unit.sh UNIT_NAME [--no-start]   < unit file content
# Installs /etc/systemd/system/UNIT_NAME, enables it and (re)starts it when the unit changed or is not running.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
unit=${1:?usage: install-unit.sh UNIT_NAME [--no-start] < unit}
start=1
[ "${2:-}" = --no-start ] && start=0
[[ $unit =~ ^[a-zA-Z0-9@._-]+\.(service|timer|socket)$ ]] || die "'$unit' is not a unit file name"

path=/etc/systemd/system/$unit
# The previous unit file is kept until the unit came up with the new one: a failed restart puts it back (the host
# stays as Pulumi's state, which keeps the old step, says it is).
prev=$(mktemp /etc/systemd/system/.fudbuddy-prev.XXXXXX)
trap 'rm -f "$prev"' EXIT
had=0
if [ -f "$path" ]; then cp -p -- "$path" "$prev"; had=1; fi
if install_content "$path" 0644 root:root; then
  changed "$path"
  systemctl daemon-reload >&2
  unit_changed=1
else
  ok "$path unchanged"
  unit_changed=0
fi
if ! systemctl is-enabled --quiet "$unit" 2>/dev/null; then
  systemctl enable "$unit" >&2 || die "systemctl enable $unit failed"
  changed "enabled $unit"
fi
# A failed start ends the step at its first failed attempt with the unit's own last log lines in the error (what
# Pulumi shows), so the cause is on screen without a second SSH session (lib.sh unit_run).
if [ "$start" = 1 ]; then
  if [ "$unit_changed" = 1 ] && unit_is_active "$unit"; then
    if ! unit_run restart "$unit"; then
      if [ "$had" = 1 ]; then mv -f -- "$prev" "$path"; else rm -f -- "$path"; fi
      systemctl daemon-reload >&2
      # Not waited for: the step fails now, with the cause; the unit comes back on its own.
      systemctl restart --no-block "$unit" >&2 || log "warning: could not restart $unit with the previous unit file"
      die "$unit failed to restart with the new unit file (journal above); rolled back and restarting with the previous one: the host is as before this step"
    fi
    changed "restarted $unit"
  elif ! unit_is_active "$unit"; then
    unit_run start "$unit" || exit 1
    changed "started $unit"
  else
    ok "$unit active"
  fi
fi
finish
