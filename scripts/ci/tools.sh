#!/usr/bin/env bash
# tools.sh — small Go-built tools the tests use, built from the Go module proxy into a cache outside the repo
# (~/.cache/fudbuddy-tools/bin) so a fresh clone reuses them. Prints the bin directory.
#   actionlint   lints .github/workflows (tests/ci/workflows.test.ts)
set -euo pipefail

ACTIONLINT_VERSION=v1.7.12
bin=${FUDBUDDY_TOOLS_BIN:-${HOME:-/root}/.cache/fudbuddy-tools/bin}
mkdir -p "$bin"

if ! "$bin/actionlint" --version 2>/dev/null | grep -qx "$ACTIONLINT_VERSION"; then
  echo "tools: building actionlint $ACTIONLINT_VERSION" >&2
  GOFLAGS=-mod=mod GOTOOLCHAIN=local GOBIN=$bin go install "github.com/rhysd/actionlint/cmd/actionlint@$ACTIONLINT_VERSION" \
    || { echo "tools: building actionlint failed (is the Go module proxy reachable?)" >&2; exit 1; }
fi
echo "$bin"
