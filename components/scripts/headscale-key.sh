#!/usr/bin/env bash
# headscale-key.sh --tags TAG[,TAG] --expiration DURATION [--cli PATH]
# Runs on the Headscale host. Mints one single-use, tags-only pre-auth key (Headscale's pre-auth keys are
# pre-authorised by nature) with the Headscale CLI, as a Headscale admin does (`headscale preauthkeys create`), and
# prints the key alone on stdout: the caller (a Pulumi command with secret stdout) hands it to the joining host.
# The key is never in argv, logs or any file here.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
tags='' expiration='' cli=headscale
while [ $# -gt 0 ]; do
  case $1 in
    --tags) tags=$2; shift 2 ;;
    --expiration) expiration=$2; shift 2 ;;
    --cli) cli=$2; shift 2 ;;
    *) die "headscale-key.sh: unexpected argument '$1'" ;;
  esac
done
[[ $tags =~ ^tag:[a-z0-9-]+(,tag:[a-z0-9-]+)*$ ]] || die "--tags must be tag:name[,tag:name]"
[[ $expiration =~ ^[0-9]+[smhd]$ ]] || die "--expiration must be a duration like 3600s"
command -v "$cli" >/dev/null || die "the Headscale CLI '$cli' is not on this host (tailnet.headscale.cli names it)"

# Headscale's CLI mints a key for any tag (the admin is trusted) and the node then joins with it; a tag this stack's
# policy does not own would put a host outside every grant. Refuse it here, naming the tag.
policy=$("$cli" policy get 2>&1) || die "headscale policy get failed (is the policy applied? Headscale needs policy.mode: database): $(tail -n 2 <<< "$policy" | tr '\n' ' ')"
unowned=$(TAGS=$tags python3 -c 'import json,os,sys
owners=(json.loads(sys.stdin.read()).get("tagOwners") or {})
print(",".join(t for t in os.environ["TAGS"].split(",") if t not in owners))' <<< "$policy") \
  || die "the live Headscale policy is not JSON: cannot check the key's tags"
[ -z "$unowned" ] || die "refusing to mint a key with $unowned: not in the live policy's tagOwners (apply the policy first)"

if ! out=$("$cli" preauthkeys create --tags "$tags" --expiration "$expiration" -o json 2>&1); then
  die "headscale preauthkeys create --tags $tags failed: $(tail -n 3 <<< "$out" | tr '\n' ' ')(are the tags in the applied policy's tagOwners, and may this user run the headscale CLI?)"
fi
key=$(python3 -c 'import json,sys
try: print(json.loads(sys.stdin.read()).get("key",""))
except Exception: print("")' <<< "$out")
[ -n "$key" ] || die "headscale preauthkeys create printed no key (headscale CLI output was not JSON)"
printf '%s\n' "$key"
