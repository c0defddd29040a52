#!/usr/bin/env bash
# tailscale-status.sh
# Prints this node's tailnet identity as one JSON line: {"ip":"100.x.y.z","dnsName":"host.tailnet.ts.net"}.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
for _ in $(seq 1 60); do
  ip=$(tailscale ip -4 2>/dev/null | head -n1 || true)
  [ -n "$ip" ] && break
  sleep 2
done
[ -n "${ip:-}" ] || die "tailscale has no IPv4 address after 120s: tailscale status"
dns=$(tailscale status --json | python3 -c 'import json,sys; print((json.load(sys.stdin).get("Self") or {}).get("DNSName","").rstrip("."))')
printf '{"ip":"%s","dnsName":"%s"}\n' "$ip" "$dns"
