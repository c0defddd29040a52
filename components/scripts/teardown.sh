#!/usr/bin/env bash
# teardown.sh --unit UNIT... --path PATH... [--user USER]... [--glob GLOB]... [--keep-firewall]
# The delete step of a GPU host's `teardown` resource: runs on `pulumi destroy` or when the host leaves the stack
# (never on an update: that resource's inputs do not change). What it removes and what it keeps (and why) is one
# list, components/lib/hostFootprint.ts, which passes the arguments; docs/host.md shows it. Also deletes the ufw
# rules firewall.sh added (/etc/fudbuddy/ufw.rules) except those for sshd's own port(s): under default-deny, removing
# the SSH rule would lock the operator out. --keep-firewall: a part's own teardown (the monitoring exporters') leaves
# the host's rules to the host's teardown.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
units=() paths=() users=() globs=() firewall=1
while [ $# -gt 0 ]; do
  case $1 in
    --unit) units+=("${2:?}"); shift 2 ;;
    --path) paths+=("${2:?}"); shift 2 ;;
    --user) users+=("${2:?}"); shift 2 ;;
    --glob) globs+=("${2:?}"); shift 2 ;;
    --keep-firewall) firewall=0; shift ;;
    *) die "teardown.sh: unknown argument $1" ;;
  esac
done
if [ "${#units[@]}" -eq 0 ] || [ "${#paths[@]}" -eq 0 ]; then
  die "usage: teardown.sh --unit UNIT... --path PATH... (the teardown step passes them)"
fi

for unit in "${units[@]}"; do remove_unit "$unit"; done
systemctl daemon-reload >&2 || log "warning: systemctl daemon-reload failed"
systemctl reset-failed "${units[@]}" >&2 2>/dev/null || true

# Before /etc/fudbuddy goes: it holds the record of our ufw rules.
rules=/etc/fudbuddy/ufw.rules
if [ "$firewall" = 1 ] && [ -f "$rules" ] && command -v ufw >/dev/null; then
  sshd_ports=$(sshd -T 2>/dev/null | awk '$1 == "port" { print $2 }' | sort -un || true)
  while IFS= read -r rule; do
    [ -n "$rule" ] || continue
    keep=0
    for p in $sshd_ports; do
      if [[ " $rule " == *" port $p proto tcp "* || $rule == "allow $p/tcp" ]]; then keep=1; fi
    done
    # Unknown sshd ports: keep every allow rule with a port (one of them may be SSH).
    if [ -z "$sshd_ports" ] && [[ $rule == allow*port* || $rule =~ ^allow\ [0-9]+/tcp$ ]]; then keep=1; fi
    if [ "$keep" = 1 ]; then ok "kept ufw rule '$rule' (SSH)"; continue; fi
    # shellcheck disable=SC2086 # a rule is a list of ufw words
    if ufw delete $rule >&2; then changed "removed ufw rule '$rule'"; else log "warning: could not delete ufw rule '$rule'"; fi
  done < "$rules"
fi

for path in "${paths[@]}"; do
  [[ $path == /etc/fudbuddy* || $path == /opt/fudbuddy/* || $path == /usr/local/lib/fudbuddy-* ]] \
    || die "refusing to remove '$path' (not under /etc/fudbuddy*, /opt/fudbuddy/ or /usr/local/lib/fudbuddy-*)"
  remove_path "$path"
done

for user in "${users[@]}"; do
  [[ $user == fudbuddy-* ]] || die "refusing to remove user '$user'"
  if id -u "$user" >/dev/null 2>&1; then
    userdel "$user" >&2 || die "userdel $user failed"
    getent group "$user" >/dev/null && { groupdel "$user" >&2 || log "warning: groupdel $user failed"; }
    changed "removed user $user"
  else
    ok "user $user absent"
  fi
done

for glob in "${globs[@]}"; do
  [[ $glob == /var/tmp/fudbuddy-* || $glob == /run/lock/fudbuddy-* ]] || die "refusing to remove '$glob'"
  for path in $glob; do
    [ -e "$path" ] || continue
    rm -rf -- "$path"
    changed "removed $path"
  done
done
finish
