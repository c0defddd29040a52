#!/usr/bin/env bash
# node-install.sh MAJOR
# Node.js MAJOR (or newer) for the inference API, from NodeSource's apt repository when missing or older.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
major=${1:?usage: node-install.sh MAJOR}
[[ $major =~ ^[0-9]+$ ]] || die "nodeMajor '$major' is not a number"

have=0
if command -v node >/dev/null; then have=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0); fi
if [ "$have" -ge "$major" ]; then
  ok "node $(node --version) >= $major"
  finish
  exit 0
fi

apt_ensure ca-certificates curl gnupg
install -d -m 0755 /etc/apt/keyrings
curl -fsSL https://deb.nodesource.com/gpgkey/nodesource-repo.gpg.key \
  | gpg --dearmor --yes -o /etc/apt/keyrings/nodesource.gpg \
  || die "could not fetch NodeSource's signing key (network?)"
echo "deb [signed-by=/etc/apt/keyrings/nodesource.gpg] https://deb.nodesource.com/node_${major}.x nodistro main" \
  > /etc/apt/sources.list.d/nodesource.list
apt_get update -q >&2 || die "apt-get update failed after adding NodeSource"
apt_get install -y -q nodejs >&2 || die "installing nodejs from NodeSource failed"
changed "node $(node --version)"
finish
