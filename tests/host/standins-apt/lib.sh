#!/usr/bin/env bash
# Shared by the apt/dpkg stand-ins: a fake package database in $STANDIN_STATE (installed: "pkg version" lines,
# holds: one package a line, log: every call). Sourced, never run.
: "${STANDIN_STATE:?stand-ins need STANDIN_STATE}"
touch "$STANDIN_STATE/installed" "$STANDIN_STATE/holds"
echo "$(basename "$0") $*" >> "$STANDIN_STATE/log"
# Versions the fake archive offers: "pkg version" lines in $STANDIN_STATE/archive (first match wins).
archive_version() { awk -v p="$1" '$1 == p {print $2; exit}' "$STANDIN_STATE/archive" 2>/dev/null; }
mark_installed() {
  local pkg=$1 ver=${2:-}
  [ -n "$ver" ] || ver=$(archive_version "$pkg")
  [ -n "$ver" ] || ver=1.0-standin
  grep -v "^$pkg " "$STANDIN_STATE/installed" > "$STANDIN_STATE/installed.new" || true
  echo "$pkg $ver" >> "$STANDIN_STATE/installed.new"
  mv "$STANDIN_STATE/installed.new" "$STANDIN_STATE/installed"
}
is_held() { grep -qxF "$1" "$STANDIN_STATE/holds"; }
