#!/usr/bin/env bash
# install-scripts.sh STAGE_DIR [DEST_DIR]
# Installs the staged host scripts (copied by Pulumi into STAGE_DIR, owned by the SSH user) into DEST_DIR
# (default /opt/fudbuddy/bin, root-owned, 0755) and removes the staging copy.
set -euo pipefail
stage=${1:?usage: install-scripts.sh STAGE_DIR [DEST_DIR]}
dest=${2:-/opt/fudbuddy/bin}
[ "$(id -u)" = 0 ] || { echo "ERROR: run as root (or through sudo -n)" >&2; exit 1; }
# /var/tmp is world-writable: only trust a staging copy made by the SSH user Pulumi logs in as.
want=${SUDO_USER:-root}
owner=$(stat -c %U "$stage" 2>/dev/null) || { echo "ERROR: staged copy $stage is missing: re-run pulumi up" >&2; exit 1; }
[ "$owner" = "$want" ] || { echo "ERROR: $stage is owned by $owner, not $want: refusing to install from it" >&2; exit 1; }
# Group-writable is fine only for the user's private group (umask 0002 SFTP copies); same rule as lib.sh's
# writable_by_others, which cannot be sourced before the staged copy is trusted.
members=$(getent group "$want" | cut -d: -f4)
if getent group "$want" >/dev/null && { [ -z "$members" ] || [ "$members" = "$want" ]; }; then
  bad=$(find "$stage" \( -perm -0002 -o \( -perm -0020 ! -group "$want" \) \) -print -quit)
else
  bad=$(find "$stage" -perm /022 -print -quit)
fi
[ -z "$bad" ] || { echo "ERROR: $bad in $stage is writable by others than $want: refusing" >&2; exit 1; }
# The copy lands in STAGE_DIR or, when the source path had no trailing slash, in STAGE_DIR/<dirname>.
if [ ! -f "$stage/lib.sh" ]; then
  for d in "$stage"/*/; do [ -f "$d/lib.sh" ] && stage=${d%/}; done
fi
[ -f "$stage/lib.sh" ] || { echo "ERROR: $stage does not hold the staged scripts (no lib.sh); re-run pulumi up" >&2; exit 1; }
[ ! -L "$stage" ] || { echo "ERROR: $stage is a symlink; refusing to install from it" >&2; exit 1; }
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$stage/lib.sh"

ensure_dir /opt/fudbuddy 0755 root:root
ensure_dir "$dest" 0755 root:root
for f in "$stage"/*.sh; do
  name=$(basename "$f")
  mode=0755
  [ "$name" = lib.sh ] && mode=0644
  if install_content "$dest/$name" "$mode" root:root < "$f"; then changed "$dest/$name"; fi
done
rm -rf -- "${1:?}"
finish
