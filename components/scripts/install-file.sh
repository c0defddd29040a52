#!/usr/bin/env bash
# install-file.sh SRC DEST [--restart UNIT | --reload UNIT]
# Installs a staged file (or a directory of files: prompts/) from SRC to DEST (root-owned, world-readable, no
# secrets), removes SRC, and when anything changed restarts UNIT (running or enabled; lib.sh unit_apply) or
# reloads it if it is running.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
src=${1:?usage: install-file.sh SRC DEST [--restart UNIT | --reload UNIT]}
dest=${2:?usage: install-file.sh SRC DEST [--restart UNIT | --reload UNIT]}
staged=$src
shift 2
action='' unit=''
case ${1:-} in
  --restart|--reload) action=${1#--}; unit=${2:?"$1 needs a unit name"} ;;
  '') ;;
  *) die "install-file.sh: unknown argument $1" ;;
esac
check_staged "$src"

ensure_dir "$(dirname "$dest")" 0755 root:root
if [ -d "$src" ]; then
  # The copy lands one level deeper (STAGE/<dirname>) when the source path has no trailing slash.
  only=$(find "$src" -mindepth 1 -maxdepth 1)
  if [ "$(printf '%s\n' "$only" | wc -l)" = 1 ] && [ -d "$only" ] && [ ! -L "$only" ]; then src=$only; fi
  ensure_dir "$dest" 0755 root:root
  for f in "$src"/*; do
    [ -f "$f" ] || continue
    target="$dest/$(basename "$f")"
    if install_content "$target" 0644 root:root < "$f"; then changed "$target"; fi
  done
  for f in "$dest"/*; do
    [ -e "$f" ] || continue
    if [ ! -e "$src/$(basename "$f")" ]; then rm -f -- "$f"; changed "removed $f"; fi
  done
else
  # The previous file is kept until the unit came up with the new one (as write-secret-file.sh does).
  prev=$(mktemp "$(dirname "$dest")/.fudbuddy-prev.XXXXXX")
  trap 'rm -f "$prev"' EXIT
  had=0
  if [ -f "$dest" ]; then cp -p -- "$dest" "$prev"; had=1; fi
  if install_content "$dest" 0644 root:root < "$src"; then changed "$dest"; fi
fi

if [ "$FUDBUDDY_CHANGED" = 1 ] && [ -n "$unit" ] && ! unit_apply "$action" "$unit"; then
  # A failed step leaves the host as it was, and its staged copy in place: Pulumi's state keeps the old step (so
  # reverting converges) and the copy step's success (so a retry finds the copy, which is not sent again).
  if [ ! -d "$src" ]; then
    if [ "$had" = 1 ]; then mv -f -- "$prev" "$dest"; else rm -f -- "$dest"; fi
    # Not waited for: the step fails now, with the cause; the unit comes back on its own.
    systemctl "$action" --no-block "$unit" >&2 || log "warning: could not $action $unit with the previous version"
  fi
  die "$unit failed to $action after installing $dest (journal above)${had:+; rolled back, the host is as before this step}"
fi
rm -rf -- "$staged"
finish
