#!/usr/bin/env bash
# vllm-install.sh VERSION [PYTHON] [--index-url URL]
# vLLM pinned to VERSION in its own virtualenv /opt/fudbuddy/vllm-venv. Nothing happens when it is installed.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
version=${1:?usage: vllm-install.sh VERSION [PYTHON] [--index-url URL]}
python=${2:-python3}
index=()
[ "${3:-}" = --index-url ] && index=(--index-url "${4:?--index-url needs a URL}")
[[ $version =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "vllm.version '$version' is not a pinned version like 0.11.0"
venv=/opt/fudbuddy/vllm-venv

installed=''
if [ -x "$venv/bin/python" ]; then
  installed=$("$venv/bin/python" -c 'import importlib.metadata as m; print(m.version("vllm"))' 2>/dev/null || true)
fi
if [ "$installed" = "$version" ]; then
  ok "vllm $version in $venv"
  finish
  exit 0
fi
apt_ensure python3-venv python3-dev build-essential
if [ ! -x "$venv/bin/python" ]; then
  "$python" -m venv "$venv" || die "could not create the venv with $python (python3-venv installed?)"
  changed "venv $venv"
fi
"$venv/bin/python" -m pip install -q --upgrade pip "${index[@]}" >&2 || die "pip upgrade failed (network to the package index?)"
"$venv/bin/python" -m pip install -q "${index[@]}" "vllm==$version" >&2 \
  || die "pip install vllm==$version failed: check the version exists and matches the host's CUDA/Python"
changed "vllm $version installed (was: ${installed:-none})"
finish
