#!/usr/bin/env bash
# tailnet-toolchain.sh — builds the real tailnet the tests run (Tailscale's tailscale/tailscaled and the Headscale
# control server) from Go modules into a cache directory keyed by what built it.
#
#   scripts/tailnet-toolchain.sh build     build what is missing (default); prints the bin directory last
#   scripts/tailnet-toolchain.sh bindir    print the bin directory (no build; it may not exist yet)
#   scripts/tailnet-toolchain.sh status    what is built, and the recorded build times
#   scripts/tailnet-toolchain.sh tailscale-src
#                                          print the tailscale.com module's source directory (Go's module cache;
#                                          downloaded if missing): the systemd unit and defaults file Tailscale's
#                                          packages ship (cmd/tailscaled/), which the VM tests pre-place
#
# Versions (why these: tests/support/tailnet.ts and docs/testing-tailnet.md):
#   tailscale.com v1.102.5        newer releases need a newer Go than this machine kind has, or have dependencies
#                                 the reachable Go module proxy refuses
#   github.com/juanfont/headscale v0.29.3
#                                 served, but its version list is not, so `go install …@v0.29.3` fails: the module is
#                                 downloaded by exact version, copied out of the read-only module cache and built there
#
# The bin directory is $cache/<key>/bin, key = hash(versions, Go version, this script's build recipe): a new version
# or Go builds beside the old one, and an unchanged key costs nothing.
# Exit codes: 0 built/cached; 3 the Go module proxy is unreachable and nothing is cached (callers print SKIPPED);
# anything else is a real failure.
set -euo pipefail

tailscale_version=v1.102.5
headscale_version=v0.29.3

cache_root=${TAILNET_TOOLCHAIN_CACHE:-${HOME:-/root}/.cache/fudbuddy-tailnet}
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}
export GOFLAGS=-mod=mod

say() { echo "tailnet-toolchain: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

command -v go >/dev/null || die "go is not installed (the Go toolchain builds tailscaled and headscale)"

key=$({
  go version
  echo "tailscale=$tailscale_version headscale=$headscale_version"
  sed -n '/^# build-recipe:start/,/^# build-recipe:end/p' "$0"
} | sha256sum | cut -c1-16)
dir=$cache_root/$key
bin=$dir/bin
logs=$dir/logs

built() { [ -x "$bin/tailscale" ] && [ -x "$bin/tailscaled" ] && [ -x "$bin/headscale" ]; }

# build-recipe:start (hashed into the cache key: edit anything here and the next build starts afresh)
build_tailscale() {
  local t0=$SECONDS
  say "building tailscale + tailscaled $tailscale_version (tailscale.com/cmd/...)..."
  GOBIN=$bin.new nice -n 10 timeout 3600 go install -trimpath -ldflags "-s -w" \
    "tailscale.com/cmd/tailscale@$tailscale_version" "tailscale.com/cmd/tailscaled@$tailscale_version" \
    > "$logs/build-tailscale.log" 2>&1 \
    || { tail -n 30 "$logs/build-tailscale.log" >&2; die "building tailscale failed (log: $logs/build-tailscale.log)"; }
  echo "$(date -u +%FT%TZ) tailscale $((SECONDS - t0))s" >> "$logs/timings.log"
}

build_headscale() {
  local t0=$SECONDS src
  say "building headscale $headscale_version (github.com/juanfont/headscale/cmd/headscale)..."
  src=$(go mod download -json "github.com/juanfont/headscale@$headscale_version" \
    | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -d "${src:-/nonexistent}" ] || die "go mod download gave no source directory for headscale $headscale_version"
  rm -rf "$dir/headscale-src" && cp -r "$src" "$dir/headscale-src" && chmod -R u+w "$dir/headscale-src"
  (cd "$dir/headscale-src" && nice -n 10 timeout 3600 go build -trimpath -ldflags "-s -w" \
    -o "$bin.new/headscale" ./cmd/headscale) > "$logs/build-headscale.log" 2>&1 \
    || { tail -n 30 "$logs/build-headscale.log" >&2; die "building headscale failed (log: $logs/build-headscale.log)"; }
  rm -rf "$dir/headscale-src"
  echo "$(date -u +%FT%TZ) headscale $((SECONDS - t0))s" >> "$logs/timings.log"
}
# build-recipe:end

proxy_reachable() {
  # Seconds when Go's module cache has both; proves the proxy otherwise, so a build never fails half-way offline.
  timeout 900 go mod download -json "tailscale.com@$tailscale_version" "github.com/juanfont/headscale@$headscale_version" \
    > "$logs/proxy-check.json" 2>&1
}

cmd_build() {
  mkdir -p "$logs"
  # One build at a time per cache (parallel test runs share it).
  exec 8>"$dir/.lock"
  flock 8
  if built; then
    say "cached in $bin"
    echo "$bin"
    return 0
  fi
  if ! proxy_reachable; then
    say "the Go module proxy is unreachable and the tailnet toolchain is not cached: $(grep -o '"Error": *"[^"]*' "$logs/proxy-check.json" | head -n1)"
    exit 3
  fi
  rm -rf "$bin.new" && mkdir -p "$bin.new"
  build_tailscale
  build_headscale
  "$bin.new/tailscaled" --version >/dev/null || die "the built tailscaled does not run"
  "$bin.new/headscale" version >/dev/null || die "the built headscale does not run"
  rm -rf "$bin" && mv "$bin.new" "$bin"
  say "built in $bin"
  echo "$bin"
}

cmd_status() {
  echo "cache: $dir (tailscale $tailscale_version, headscale $headscale_version, $(go version | awk '{print $3}'))"
  if built; then
    echo "built: $("$bin/tailscale" version | head -n1) / headscale $("$bin/headscale" version 2>/dev/null | head -n1)"
  else
    echo "not built (run: bash scripts/tailnet-toolchain.sh build)"
  fi
  [ -f "$logs/timings.log" ] && tail -n 4 "$logs/timings.log"
  true
}

cmd_tailscale_src() {
  local src
  src=$(go mod download -json "tailscale.com@$tailscale_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -f "${src:-/nonexistent}/cmd/tailscaled/tailscaled.service" ] || die "go mod download gave no tailscale.com $tailscale_version source"
  echo "$src"
}

case ${1:-build} in
  build) cmd_build ;;
  bindir) echo "$bin" ;;
  tailscale-src) cmd_tailscale_src ;;
  status) cmd_status ;;
  *) die "usage: tailnet-toolchain.sh [build|bindir|status|tailscale-src]" ;;
esac
