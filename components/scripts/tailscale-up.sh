#!/usr/bin/env bash
# tailscale-up.sh --hostname NAME --advertise-tags TAG[,TAG] [EXTRA_FLAG...]   < auth key
# Joins the tailnet once. The auth key comes on stdin and reaches `tailscale up` as --auth-key=file:PATH
# (a 0600 file on tmpfs, removed afterwards): never in argv, logs or output. A node that is already up with
# this hostname and these tags is left alone (the single-use key is not needed again).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
hostname='' tags=''
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --hostname) hostname=$2; shift 2 ;;
    --advertise-tags) tags=$2; shift 2 ;;
    --*) extra+=("$1"); shift ;;
    *) die "tailscale-up.sh: unexpected argument" ;;
  esac
done
[[ $hostname =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "hostname '$hostname' is not a valid tailnet hostname"
[ -n "$tags" ] || die "--advertise-tags is required (the key is tagged; tags must match)"

keydir=/run/fudbuddy
install -d -m 0700 "$keydir"
keyfile=$(mktemp "$keydir/tskey.XXXXXX")
trap 'rm -f "$keyfile"' EXIT
chmod 0600 "$keyfile"
cat > "$keyfile"

state=$(tailscale status --json 2>/dev/null || true)
backend=$(printf '%s' "$state" | python3 -c 'import json,sys
try: d=json.load(sys.stdin)
except Exception: d={}
s=d.get("Self") or {}
print(d.get("BackendState",""), s.get("HostName",""), ",".join(sorted(s.get("Tags") or [])))' 2>/dev/null || echo '')
want_tags=$(tr ',' '\n' <<< "$tags" | sort | paste -sd, -)
if [ "$backend" = "Running $hostname $want_tags" ]; then
  ok "tailscale up as $hostname ($want_tags)"
  finish
  exit 0
fi
[ -s "$keyfile" ] || die "node is not joined and no auth key came on stdin (tailscale.authKey)"
tailscale up --auth-key="file:$keyfile" --hostname="$hostname" --advertise-tags="$tags" "${extra[@]}" >/dev/null 2>&1 \
  || die "tailscale up failed: the key may be expired or used (run pulumi up again to mint a new one), or its tags differ from $tags"
changed "joined the tailnet as $hostname ($tags)"
finish
