#!/usr/bin/env bash
# firewall.sh --ssh-from CIDR[,CIDR...] [--ssh-port PORT] [--allow PORT:CIDR]... [--no-tailscale]
# ufw: inbound denied by default, tailscale0 (+ WireGuard 41641/udp) allowed (the tailnet ACL filters it), SSH open from the given
# sources on sshd's own port(s) (first, so Pulumi is never locked out), 8000 (vLLM) denied everywhere. Rules this script added
# before and no longer wants are deleted; rules added by others are left alone. Idempotent.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root

ssh_port='' ssh_from='' tailscale=1 allows=()
while [ $# -gt 0 ]; do
  case $1 in
    --ssh-port) ssh_port=$2; shift 2 ;;
    --ssh-from) ssh_from=$2; shift 2 ;;
    --allow) allows+=("$2"); shift 2 ;;
    --no-tailscale) tailscale=0; shift ;;
    *) die "firewall.sh: unknown argument $1" ;;
  esac
done
[ -n "$ssh_from" ] || die "firewall.sshSources is empty: refusing to enable a firewall that would lock out SSH"
[ -z "$ssh_port" ] || [[ $ssh_port =~ ^[0-9]+$ ]] || die "ssh port '$ssh_port' is not a number"
command -v ufw >/dev/null || die "ufw is not installed (base-setup.sh installs it)"

# Open the port(s) sshd itself listens on. Behind a port forward (GPU clouds often map another port to sshd's) the
# port Pulumi dials never reaches this host, and opening only it would lock Pulumi out next step. So the step
# passes no port (the dialed one is the connection's business: a new forward must not re-run this); --ssh-port
# is only a last resort when neither sshd's config nor its listening sockets can be read.
sshd_ports=$(sshd -T 2>/dev/null | awk '$1 == "port" { print $2 }' | sort -un || true)
if [ -z "$sshd_ports" ]; then
  sshd_ports=$(ss -Hltnp 2>/dev/null | awk '/"sshd"/ { n = split($4, a, ":"); print a[n] }' | sort -un || true)
  [ -n "$sshd_ports" ] && log "warning: sshd -T failed; opening the ports sshd listens on (ss): ${sshd_ports//$'\n'/ }"
fi
if [ -z "$sshd_ports" ]; then
  [ -n "$ssh_port" ] || die "cannot tell sshd's port (sshd -T and ss both failed): refusing to enable a firewall that could lock out SSH; pass --ssh-port"
  log "warning: could not read sshd's ports (sshd -T, ss); opening --ssh-port $ssh_port"
  sshd_ports=$ssh_port
elif [ -n "$ssh_port" ] && ! grep -qx "$ssh_port" <<< "$sshd_ports"; then
  log "--ssh-port $ssh_port but sshd listens on ${sshd_ports//$'\n'/ }: a port forward; opening sshd's port"
fi
rules=("deny 8000/tcp")
IFS=',' read -r -a sources <<< "$ssh_from"
for p in $sshd_ports; do
  for src in "${sources[@]}"; do
    if [ "$src" = any ]; then rules+=("allow $p/tcp"); else rules+=("allow from $src to any port $p proto tcp"); fi
  done
done
if [ "$tailscale" = 1 ]; then
  # tailscale0 carries only what the tailnet ACL admits; 41641/udp lets peers connect directly instead of via DERP.
  rules+=("allow in on tailscale0" "allow 41641/udp")
fi
for a in "${allows[@]}"; do
  port=${a%%:*} from=${a#*:}
  [[ $port =~ ^[0-9]+$ ]] || die "--allow $a: port is not a number"
  [ "$port" != 8000 ] || die "--allow $a: port 8000 (vLLM) is never exposed"
  if [ "$from" = any ]; then rules+=("allow $port/tcp"); else rules+=("allow from $from to any port $port proto tcp"); fi
done

state=/etc/fudbuddy/ufw.rules
desired=$(printf '%s\n' "${rules[@]}")
if [ -f "$state" ] && [ "$(cat "$state")" = "$desired" ] && ufw status | grep -q '^Status: active'; then
  ok "firewall rules unchanged"
  finish
  exit 0
fi

for r in "${rules[@]}"; do
  # shellcheck disable=SC2086 # a rule is a list of ufw words
  ufw $r >&2 || die "ufw $r failed"
done
if [ -f "$state" ]; then
  while IFS= read -r old; do
    [ -n "$old" ] || continue
    if ! grep -qxF -- "$old" <<< "$desired"; then
      # shellcheck disable=SC2086
      ufw delete $old >&2 || log "warning: could not delete old rule '$old'"
    fi
  done < "$state"
fi
ufw default deny incoming >&2
ufw default allow outgoing >&2
ufw --force enable >&2 || die "ufw enable failed (is iptables usable on this host?)"
mkdir -p /etc/fudbuddy
printf '%s\n' "$desired" > "$state"
changed "firewall: ${#rules[@]} rules, default deny inbound"
finish
