#!/usr/bin/env bash
# model-download.sh MODEL [REVISION] [MIN_FREE_GB]   < optional Hugging Face token
# Downloads MODEL (a Hugging Face id) at REVISION (default main) into /var/lib/fudbuddy/models as the
# fudbuddy-model user, after checking MIN_FREE_GB (default 60) free there. A completed download leaves a marker,
# so running it again does nothing. The token is read from stdin into a 0600 file; it never reaches argv.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
model=${1:?usage: model-download.sh MODEL [REVISION] [MIN_FREE_GB] < token}
revision=${2:-main}
min_free=${3:-60}
models=${FUDBUDDY_MODELS_DIR:-/var/lib/fudbuddy/models}
venv=${FUDBUDDY_VLLM_VENV:-/opt/fudbuddy/vllm-venv}
[[ $model =~ ^[A-Za-z0-9._-]+/[A-Za-z0-9._-]+$ ]] || die "vllm.model '$model' is not a Hugging Face id like org/name"
[[ $revision =~ ^[A-Za-z0-9._/-]+$ ]] || die "vllm.revision '$revision' is not a valid revision"
[[ $min_free =~ ^[0-9]+$ ]] || die "vllm.minFreeDiskGb '$min_free' is not a number"

marker="$models/.complete-${model//\//--}@${revision//\//--}"
token_in=$(mktemp)
trap 'rm -f "$token_in"' EXIT
cat > "$token_in"
if [ -f "$marker" ]; then
  ok "model $model@$revision present"
  finish
  exit 0
fi
[ -d "$models" ] || die "$models does not exist: run base-setup.sh first"
free_gb=$(( $(df -Pk "$models" | awk 'NR==2 {print $4}') / 1024 / 1024 ))
if [ "$free_gb" -lt "$min_free" ]; then
  die "only ${free_gb} GiB free in $models, the download needs ${min_free} GiB (vllm.minFreeDiskGb): free space (model-check.sh lists models) or grow the disk"
fi
cli="$venv/bin/hf"
[ -x "$cli" ] || cli="$venv/bin/huggingface-cli"
[ -x "$cli" ] || die "no Hugging Face CLI in $venv: run vllm-install.sh first"

token_file="$models/.hf-token"
install -m 0600 -o fudbuddy-model -g fudbuddy-model "$token_in" "$token_file"
# HF_TOKEN_PATH points the hub library at the 0600 file; the token itself is in no argv and no environment.
if ! runuser -u fudbuddy-model -- env HF_HOME="$models" HF_TOKEN_PATH="$token_file" HF_HUB_DISABLE_TELEMETRY=1 \
  "$cli" download "$model" --revision "$revision" >&2; then
  rm -f "$token_file"
  die "downloading $model@$revision failed: gated model without hfToken? wrong id/revision? network?"
fi
rm -f "$token_file"
touch "$marker"
chown fudbuddy-model:fudbuddy-model "$marker"
changed "model $model@$revision downloaded"
finish
