#!/usr/bin/env bash
# headscale-policy.sh [--cli PATH]   < policy (JSON)
# Runs on the Headscale host. Applies the tailnet policy with the Headscale CLI (`headscale policy set`, which needs
# `policy.mode: database` in Headscale's config) when it differs from the live one. Headscale evaluates the policy's
# `tests` against the existing nodes and refuses a policy whose tests fail; the live policy then stays as it was.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
cli=headscale
while [ $# -gt 0 ]; do
  case $1 in
    --cli) cli=$2; shift 2 ;;
    *) die "headscale-policy.sh: unexpected argument '$1'" ;;
  esac
done
command -v "$cli" >/dev/null || die "the Headscale CLI '$cli' is not on this host (tailnet.headscale.cli names it)"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/policy.json"
[ -s "$work/policy.json" ] || die "no policy came on stdin"

if "$cli" policy get > "$work/live.json" 2>/dev/null \
  && python3 -c 'import json,sys; sys.exit(0 if json.load(open(sys.argv[1])) == json.load(open(sys.argv[2])) else 1)' \
    "$work/live.json" "$work/policy.json" 2>/dev/null; then
  ok "headscale policy is current"
  finish
  exit 0
fi
"$cli" policy set -f "$work/policy.json" > "$work/out" 2>&1 || {
  case $(cat "$work/out") in
    *"resolved to no IP addresses"*) die "headscale refused the policy (the live policy is unchanged): its tests name a login or tag with no device yet. Headscale runs the tests against real nodes: every tailnetAdmins login needs a device on the tailnet, every tagged host must have joined ($(tr '\n' ' ' < "$work/out"))" ;;
    *policy_mode*|*database*) die "headscale policy set failed: Headscale must run with policy.mode: database for the policy to be managed here ($(tr '\n' ' ' < "$work/out"))" ;;
    *) die "headscale refused the policy (the live policy is unchanged): $(tr '\n' ' ' < "$work/out")" ;;
  esac
}
changed "headscale policy applied"
finish
