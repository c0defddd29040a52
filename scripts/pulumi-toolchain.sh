#!/usr/bin/env bash
# pulumi-toolchain.sh — builds the Pulumi engine pieces the real-engine tests need, from Go modules, into a cache
# directory that is reused while nothing it was built from changed.
#
#   scripts/pulumi-toolchain.sh build     build what is missing or stale (default); prints the bin directory last
#   scripts/pulumi-toolchain.sh bindir    print the bin directory (no build)
#   scripts/pulumi-toolchain.sh status    what is built, at which version, and what cannot be built here
#   scripts/pulumi-toolchain.sh bench     cold (empty Go caches) and warm build times -> docs/benchmarks.md section
#
# What it builds (versions follow package.json; a mismatch with the wrapper go.mod files is an error):
#   pulumi                    the CLI/engine, github.com/pulumi/pulumi/pkg/v3/cmd/pulumi, through the wrapper
#                             module scripts/pulumi-toolchain/cli (it repeats upstream's non-relative replace)
#   pulumi-language-nodejs    FUD Buddy's own minimal language host (scripts/pulumi-toolchain/plugins): the
#                             upstream module is refused by the reachable Go module proxy
#   pulumi-resource-command   FUD Buddy's stand-in for the command provider (the upstream module is not served
#                             by the proxy: 404), following pulumi-command v1.2.1's source (docs/engine-tests.md)
#   pulumi-resource-tailscale, pulumi-resource-cloudflare
#                             a PREVIEW-ONLY stand-in: the real bridged providers are refused by the proxy too
#                             (checked on a cold build, reported by `status`); it refuses any real create/update.
#
# Exit codes: 0 built/cached; 3 the Go module proxy is unreachable and nothing is cached (callers print SKIPPED);
# anything else is a real failure.
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
src=$repo/scripts/pulumi-toolchain
cache=${PULUMI_TOOLCHAIN_CACHE:-${HOME:-/root}/.cache/fudbuddy-pulumi}
bin=$cache/bin
logs=$cache/logs
mkdir -p "$bin" "$logs"

export GOFLAGS=-mod=mod
export GOTOOLCHAIN=${GOTOOLCHAIN:-local}

say() { echo "pulumi-toolchain: $*" >&2; }
die() { say "ERROR: $*"; exit 1; }

command -v go >/dev/null || die "go is not installed (the Go toolchain builds the Pulumi engine)"
command -v node >/dev/null || die "node is not installed"

pkgver() { # version of an npm dependency as pinned in package.json
  node -e 'const p=require(process.argv[1]);const v=(p.dependencies||{})[process.argv[2]];if(!v){process.exit(1)}console.log(v.replace(/^[~^=]/,""))' \
    "$repo/package.json" "$1"
}
pulumi_version=$(pkgver @pulumi/pulumi) || die "package.json has no @pulumi/pulumi dependency"
command_version=$(pkgver @pulumi/command) || die "package.json has no @pulumi/command dependency"
standin_versions="tailscale=$(pkgver @pulumi/tailscale || echo 0.0.1),cloudflare=$(pkgver @pulumi/cloudflare || echo 0.0.1)"

gomod_require() { # version a wrapper go.mod requires for a module
  awk -v m="$2" '$1==m {print $2} $1=="require" && $2==m {print $3}' "$1" | head -n1
}
check_pins() {
  local want=v$pulumi_version got
  got=$(gomod_require "$src/cli/go.mod" github.com/pulumi/pulumi/pkg/v3)
  [ "$got" = "$want" ] || die "scripts/pulumi-toolchain/cli/go.mod pins pkg/v3 $got but package.json has @pulumi/pulumi $pulumi_version: run (cd scripts/pulumi-toolchain/cli && GOFLAGS=-mod=mod go get -tool github.com/pulumi/pulumi/pkg/v3/cmd/pulumi@$want)"
  got=$(gomod_require "$src/plugins/go.mod" github.com/pulumi/pulumi/sdk/v3)
  [ "$got" = "$want" ] || die "scripts/pulumi-toolchain/plugins/go.mod pins sdk/v3 $got but package.json has @pulumi/pulumi $pulumi_version: run (cd scripts/pulumi-toolchain/plugins && GOFLAGS=-mod=mod go get github.com/pulumi/pulumi/sdk/v3@$want && go mod tidy)"
}

# A stamp is the hash of everything a binary is built from; an equal stamp means the cached binary is current.
stamp_of() { # component
  {
    go version
    echo "$pulumi_version $command_version $standin_versions"
    case $1 in
      cli) cat "$src/cli/go.mod" "$src/cli/go.sum" ;;
      plugins) find "$src/plugins" -type f \( -name '*.go' -o -name go.mod -o -name go.sum \) -print0 | sort -z | xargs -0 cat ;;
    esac
  } | sha256sum | cut -c1-16
}
is_current() { # component binary...
  local c=$1; shift
  [ -f "$bin/.stamp-$c" ] && [ "$(cat "$bin/.stamp-$c")" = "$(stamp_of "$c")" ] || return 1
  local b
  for b in "$@"; do [ -x "$bin/$b" ] || return 1; done
}

proxy_reachable() {
  # Download (or find in Go's module cache) every module both builds need: seconds when cached, and it proves the
  # proxy otherwise, so a build below never fails half-way for want of the network.
  { (cd "$src/cli" && timeout 900 go mod download -x) && (cd "$src/plugins" && timeout 900 go mod download -x); } \
    > "$logs/proxy-check.json" 2>&1
}

build_cli() {
  local t0=$SECONDS
  say "building pulumi v$pulumi_version (github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)..."
  (cd "$src/cli" && nice -n 10 timeout 3600 go build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$pulumi_version" \
    -o "$bin/pulumi.new" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) > "$logs/build-cli.log" 2>&1 \
    || { tail -n 30 "$logs/build-cli.log" >&2; die "building the pulumi CLI failed (log: $logs/build-cli.log)"; }
  mv -f "$bin/pulumi.new" "$bin/pulumi"
  stamp_of cli > "$bin/.stamp-cli"
  echo "$(date -u +%FT%TZ) cli $((SECONDS - t0))s" >> "$logs/timings.log"
  say "pulumi built in $((SECONDS - t0))s"
}

build_plugins() {
  local t0=$SECONDS
  say "building pulumi-language-nodejs and pulumi-resource-command (scripts/pulumi-toolchain/plugins)..."
  rm -rf "$bin/.plugins.new" && mkdir -p "$bin/.plugins.new"
  local out=$bin/.plugins.new
  (cd "$src/plugins" && nice -n 10 timeout 1800 go build -trimpath \
    -ldflags "-s -w -X main.version=$command_version" -o "$out/" ./cmd/pulumi-resource-command &&
    nice -n 10 timeout 1800 go build -trimpath -ldflags "-s -w -X main.version=$pulumi_version" \
      -o "$out/" ./cmd/pulumi-language-nodejs &&
    nice -n 10 timeout 1800 go build -trimpath -ldflags "-s -w -X main.versions=$standin_versions" \
      -o "$out/" ./cmd/pulumi-resource-preview-standin) > "$logs/build-plugins.log" 2>&1 \
    || { tail -n 30 "$logs/build-plugins.log" >&2; die "building the plugins failed (log: $logs/build-plugins.log)"; }
  # The preview-only stand-in answers as the providers that cannot be built here (it reads its own name).
  cp "$out/pulumi-resource-preview-standin" "$out/pulumi-resource-tailscale"
  mv -f "$out/pulumi-resource-preview-standin" "$out/pulumi-resource-cloudflare"
  mv -f "$out/"* "$bin/" && rmdir "$out"
  stamp_of plugins > "$bin/.stamp-plugins"
  echo "$(date -u +%FT%TZ) plugins $((SECONDS - t0))s" >> "$logs/timings.log"
  say "plugins built in $((SECONDS - t0))s"
}

# The bridged providers: record whether the proxy serves them (it did not when this was written).
probe_bridged() {
  local name mod ver out
  : > "$cache/bridged-status.txt"
  for name in tailscale cloudflare; do
    ver=$(pkgver "@pulumi/$name" || echo unknown)
    case $name in
      tailscale) mod=github.com/pulumi/pulumi-tailscale/provider ;;
      cloudflare) mod=github.com/pulumi/pulumi-cloudflare/provider/v${ver%%.*} ;;
    esac
    if out=$(timeout 120 go mod download -json "$mod@v$ver" 2>&1); then
      echo "$name v$ver: served by the Go module proxy but not built (bridged provider; see docs/engine-tests.md)" >> "$cache/bridged-status.txt"
    else
      local why
      case $out in
        *"403 Forbidden"*) why="$mod@v$ver is refused by the Go module proxy (403)" ;;
        *"404 Not Found"*|*"410 Gone"*) why="$mod@v$ver is not on the Go module proxy" ;;
        *) why="$mod@v$ver could not be downloaded: $(echo "$out" | grep -o '"Error": *"[^"]*' | head -n1 | sed -e 's/"Error": *"//' -e 's#https\{0,1\}://[^ ]*#<url>#g' | cut -c1-160)" ;;
      esac
      echo "$name v$ver: NOT BUILDABLE here ($why): preview-only stand-in" >> "$cache/bridged-status.txt"
    fi
  done
}

cmd_build() {
  check_pins
  # One build at a time per cache (parallel test runs share it).
  exec 8>"$cache/.lock"
  flock 8
  local need_cli=1 need_plugins=1
  is_current cli pulumi && need_cli=0
  is_current plugins pulumi-language-nodejs pulumi-resource-command pulumi-resource-tailscale pulumi-resource-cloudflare && need_plugins=0
  if [ $need_cli = 0 ] && [ $need_plugins = 0 ]; then
    say "cached and current in $bin"
    echo "$bin"
    return 0
  fi
  if ! proxy_reachable; then
    say "the Go module proxy is unreachable and the toolchain is not cached: $(grep -v '^#\|^mkdir\|^rm\|^mv' "$logs/proxy-check.json" | tail -n 3 | tr '\n' ' ')"
    exit 3
  fi
  [ $need_plugins = 0 ] || build_plugins
  [ $need_cli = 0 ] || build_cli
  [ -f "$cache/bridged-status.txt" ] || probe_bridged
  "$bin/pulumi" version >/dev/null || die "the built pulumi does not run"
  echo "$bin"
}

cmd_status() {
  echo "cache: $cache"
  local c
  for c in pulumi pulumi-language-nodejs pulumi-resource-command; do
    if [ -x "$bin/$c" ]; then echo "$c: built"; else echo "$c: missing"; fi
  done
  is_current cli pulumi && echo "cli: current (v$pulumi_version)" || echo "cli: stale or missing"
  is_current plugins pulumi-language-nodejs pulumi-resource-command && echo "plugins: current" || echo "plugins: stale or missing"
  [ -f "$cache/bridged-status.txt" ] || probe_bridged
  cat "$cache/bridged-status.txt"
  [ -f "$logs/timings.log" ] && tail -n 6 "$logs/timings.log"
  true
}

# Writes only this script's section of docs/benchmarks.md.
write_bench_section() { # text
  local doc=$repo/docs/benchmarks.md start='<!-- section:pulumi-toolchain:start -->' end='<!-- section:pulumi-toolchain:end -->'
  [ -f "$doc" ] || printf '# Benchmarks\n' > "$doc"
  if ! grep -qF "$start" "$doc"; then printf '\n%s\n%s\n' "$start" "$end" >> "$doc"; fi
  BENCH_TEXT=$1 node -e '
    const fs=require("fs");const [f,s,e]=process.argv.slice(1);const t=fs.readFileSync(f,"utf8");
    const a=t.indexOf(s),b=t.indexOf(e);
    fs.writeFileSync(f,t.slice(0,a+s.length)+"\n"+process.env.BENCH_TEXT.trim()+"\n"+t.slice(b));
  ' "$doc" "$start" "$end"
}

cmd_bench() {
  check_pins
  local t0 cold_dl cold_cli cold_plugins warm
  bench_tmp=$(mktemp -d /tmp/pulumi-toolchain-bench.XXXXXX)
  # Go's module cache is read-only; make it writable to remove it.
  trap 'chmod -R u+w "$bench_tmp" 2>/dev/null; rm -rf "$bench_tmp"' EXIT
  local tmp=$bench_tmp
  say "cold build into $tmp (empty GOMODCACHE and GOCACHE; this takes a long time on 2 cores)"
  t0=$SECONDS
  (cd "$src/cli" && GOMODCACHE=$tmp/mod GOCACHE=$tmp/cache go mod download) > "$logs/bench.log" 2>&1
  (cd "$src/plugins" && GOMODCACHE=$tmp/mod GOCACHE=$tmp/cache go mod download) >> "$logs/bench.log" 2>&1
  cold_dl=$((SECONDS - t0)); t0=$SECONDS
  say "cold module download: ${cold_dl}s"
  (cd "$src/plugins" && GOMODCACHE=$tmp/mod GOCACHE=$tmp/cache nice -n 10 go build -trimpath -ldflags "-s -w" -o "$tmp/out/" ./cmd/...) >> "$logs/bench.log" 2>&1
  cold_plugins=$((SECONDS - t0)); t0=$SECONDS
  say "cold plugins build: ${cold_plugins}s"
  (cd "$src/cli" && GOMODCACHE=$tmp/mod GOCACHE=$tmp/cache nice -n 10 go build -trimpath \
    -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$pulumi_version" \
    -o "$tmp/out/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi) >> "$logs/bench.log" 2>&1
  cold_cli=$((SECONDS - t0)); t0=$SECONDS
  say "cold CLI build: ${cold_cli}s"
  rm -f "$bin"/.stamp-*
  cmd_build >/dev/null
  local rebuild=$((SECONDS - t0)); t0=$SECONDS
  cmd_build >/dev/null
  warm=$((SECONDS - t0))
  local text
  text=$(cat <<EOF
### Pulumi toolchain build (scripts/pulumi-toolchain.sh)

Measured $(date -u +%F) on this machine kind (2 cores, shared: load average $(cut -d' ' -f2 /proc/loadavg) at the end),
Go $(go version | awk '{print $3}'), pulumi v$pulumi_version. Command: \`bash scripts/pulumi-toolchain.sh bench\` (rewrites this section).

| step | seconds |
| --- | --- |
| cold: download all Go modules (empty GOMODCACHE) | $cold_dl |
| cold: build language host + command stand-in (empty GOCACHE) | $cold_plugins |
| cold: build pulumi CLI (empty GOCACHE) | $cold_cli |
| warm: rebuild everything with Go's module and build caches present (e.g. after a source change) | $rebuild |
| warm: \`pulumi-toolchain.sh build\` with the toolchain cache current (what CI pays on this machine) | $warm |

CI reuses \`\$HOME/.cache/fudbuddy-pulumi\` (binaries) and Go's own caches when they survive on the machine; a fresh
machine pays the cold total ($((cold_dl + cold_plugins + cold_cli)) s).
EOF
)
  write_bench_section "$text"
  echo "$text"
}

case ${1:-build} in
  build) cmd_build ;;
  bindir) echo "$bin" ;;
  status) cmd_status ;;
  bench) cmd_bench ;;
  *) die "usage: pulumi-toolchain.sh [build|bindir|status|bench]" ;;
esac
