#!/usr/bin/env bash
# tailscale-up.sh --hostname NAME --advertise-tags TAG[,TAG] [--login-server[=]URL] [EXTRA_FLAG...]   < auth key
# Joins the tailnet, or brings an existing node to the wanted hostname, tags and control server. The auth key comes
# on stdin and reaches `tailscale up` as --auth-key=file:PATH (a 0600 file on tmpfs, removed afterwards): never in
# argv, logs or output. A node that is already up with this hostname, these tags and this control server is left
# alone (the single-use key is not needed again).
#   --login-server URL   a self-hosted control server (Headscale). Headscale refuses a pre-auth key combined with
#                        --advertise-tags (the key's own tags apply), so the tags are then only compared, not sent.
# A node that is already logged in is re-authenticated when its hostname, tags or control server differ: with the
# new key on the same Headscale, otherwise with --force-reauth (see below).
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
hostname='' tags='' login_server=''
extra=()
while [ $# -gt 0 ]; do
  case $1 in
    --hostname) hostname=$2; shift 2 ;;
    --advertise-tags) tags=$2; shift 2 ;;
    --login-server) login_server=$2; shift 2 ;;
    --login-server=*) login_server=${1#*=}; shift ;;
    --*) extra+=("$1"); shift ;;
    *) die "tailscale-up.sh: unexpected argument" ;;
  esac
done
[[ $hostname =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "hostname '$hostname' is not a valid tailnet hostname"
[[ $tags =~ ^tag:[a-z0-9-]+(,tag:[a-z0-9-]+)*$ ]] || die "--advertise-tags must be tag:name[,tag:name] (the key is tagged; tags must match)"
[[ -z $login_server || $login_server =~ ^https?://[A-Za-z0-9.:/_-]+$ ]] || die "--login-server '$login_server' is not an http(s) URL"

keydir=/run/fudbuddy
install -d -m 0700 "$keydir"
keyfile=$(mktemp "$keydir/tskey.XXXXXX")
errfile=$(mktemp "$keydir/tserr.XXXXXX")
trap 'rm -f "$keyfile" "$errfile"' EXIT
chmod 0600 "$keyfile"
cat > "$keyfile"

want_tags=$(tr ',' '\n' <<< "$tags" | sort | paste -sd, -)
# read_node: sets backend, have_host, have_tags, have_key (HaveNodeKey: the CLI's own test for "logged in before"),
# login_error (tailscaled's health report of the last refused login, if any), have_server (the CLI's default,
# Tailscale's, when prefs do not say) and server_ok (1: the wanted control server).
read_node() {
  local state current
  state=$(tailscale status --json 2>/dev/null || true)
  current=$(printf '%s' "$state" | python3 -c 'import json,re,sys
try: d=json.load(sys.stdin)
except Exception: d={}
s=d.get("Self") or {}
print(d.get("BackendState","") or "-", s.get("HostName","") or "-", ",".join(sorted(s.get("Tags") or [])) or "-",
      1 if d.get("HaveNodeKey") else 0)
m=[re.sub(r".*login error was: ", "", h) for h in (d.get("Health") or []) if "login error" in h]
print(m[0] if m else "")' 2>/dev/null || printf '%s\n' '- - - 0' '')
  # $(...) drops an empty last line: no login error reads as end of input.
  { read -r backend have_host have_tags have_key; IFS= read -r login_error || login_error=''; } <<< "$current"
  have_server=$(tailscale debug prefs 2>/dev/null | python3 -c 'import json,sys
try: print(json.load(sys.stdin).get("ControlURL",""))
except Exception: print("")' 2>/dev/null || true)
  server_ok=1
  if [ -n "$login_server" ] && [ "${have_server%/}" != "${login_server%/}" ]; then server_ok=0; fi
  if [ -z "$login_server" ] && [ -n "$have_server" ] && [[ $have_server != *tailscale.com* ]]; then server_ok=0; fi
}
joined_as_wanted() { [ "$backend $have_host $have_tags" = "Running $hostname $want_tags" ] && [ "$server_ok" = 1 ]; }
read_node
if joined_as_wanted; then
  ok "tailscale up as $hostname ($want_tags)"
  finish
  exit 0
fi
[ -s "$keyfile" ] || die "node is not joined as $hostname ($want_tags) and no auth key came on stdin (tailnet key output)"

# --reset: these flags are the whole truth (no "mention all non-default flags" refusal after a change);
# --timeout: a refused key ends the command instead of waiting for an interactive login forever.
args=(up --reset --auth-key="file:$keyfile" --hostname="$hostname" --timeout=120s)
if [ -n "$login_server" ]; then args+=(--login-server="$login_server"); else args+=(--advertise-tags="$tags"); fi
why='joined the tailnet' forced=0 error_before=$login_error
if [ "$have_key" = 1 ]; then
  why="re-authenticated (was ${have_host} ${have_tags}$([ $server_ok = 1 ] || echo " on ${have_server:-?}"))"
  # Headscale (0.29, state.go) re-tags a node in place when it presents a new tagged key with its current node key,
  # which is the one login `tailscale up` makes on a node that has a node key. --force-reauth would add a second,
  # interactive login with a new node key (up.go), which Headscale refuses as a key rotation with a spent key
  # ("authkey already used") whenever the first got there first. A change of control server needs --force-reauth
  # (the CLI refuses a new --login-server without it); so does Tailscale's control server, which this machine cannot
  # run, as before.
  if [ -z "$login_server" ] || [ "$server_ok" = 0 ]; then args+=(--force-reauth); forced=1; fi
fi
rc=0
tailscale "${args[@]}" "${extra[@]}" >/dev/null 2>"$errfile" || rc=$?
# The CLI's message names the cause (e.g. "invalid key: ...", "key expired"); it never contains the key itself,
# which only ever was in the file. Strip anything token-shaped all the same before echoing it.
reason=$(sed -E 's/(tskey|hskey)-[A-Za-z0-9_-]+/<key>/g; s/[0-9a-f]{40,}/<key>/g' "$errfile" | grep -v '^\s*$' | tail -n 3 | tr '\n' ' ' || true)
# The node's own state decides, not the CLI's exit status: on a node that has a network map the CLI returns once
# it is Running, before the new login is answered; and under load a forced re-authentication has reported
# "authkey already used" for a login that went through. A login error that tailscaled reports anew ends the wait.
wait_s=30
[ "$rc" = 0 ] || wait_s=10
for ((i = 0; i < wait_s; i++)); do
  read_node
  if joined_as_wanted; then
    if [ "$rc" = 0 ]; then changed "$why as $hostname ($want_tags)"; else changed "$why as $hostname ($want_tags); tailscale up had reported: ${reason:-exit $rc}"; fi
    finish
    exit 0
  fi
  if [ -n "$login_error" ] && [ "$login_error" != "$error_before" ]; then break; fi
  sleep 1
done
reason=${reason:-$login_error}
kept=''
if [ "$have_key" = 1 ] && [ "$forced" = 0 ]; then
  # The refused key leaves tailscaled retrying it (with its map updates paused); a login without a key (the node
  # key is still valid) puts the node back as it was, on the tailnet with its old tags. `down` first: on a Running
  # node a keyless `up` only edits prefs (up.go justEdit) and the client keeps the refused key.
  { tailscale down && tailscale up --reset --hostname="$hostname" --login-server="$login_server" --timeout=60s "${extra[@]}"; } >/dev/null 2>&1 || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    read_node
    if [ "$backend" = Running ] && [ -z "$login_error" ]; then kept="; the node stays on the tailnet with its old tags (${have_tags})"; break; fi
    sleep 1
  done
fi
# How a new key comes: the Tailscale provider re-mints an invalid key on refresh; a Headscale key is a command
# output, which a refresh does not re-run (docs/runbook.md, 'A host did not join').
if [ -n "$login_server" ]; then
  fix="Mint a new one by replacing the host's Headscale key step (\`pulumi up --replace\` of its URN; docs/runbook.md, 'A host did not join')"
else
  fix="A new key is minted by the next \`pulumi up --refresh\` (docs/runbook.md, 'A host did not join')"
fi
case $reason in
  *[Ii]nvalid*key*|*[Ee]xpired*|*not\ valid*|*already\ used*|*[Aa]uth*key*)
    die "tailscale up refused the auth key for $hostname ($want_tags): it is used, expired or revoked ($reason)$kept. $fix" ;;
  *)
    die "tailscale up failed for $hostname ($want_tags): ${reason:-the node did not come up within $wait_s s}$kept. The key may be expired or used, or its tags differ from $tags. $fix" ;;
esac
