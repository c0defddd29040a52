#!/usr/bin/env bash
# nvidia-smi-textfile.sh [OUTPUT_FILE]
# The GPU exporter: one nvidia-smi query turned into Prometheus text for node exporter's textfile collector
# (run every 15 s by fudbuddy-gpu-metrics.timer). Metric names are listed in monitoring/fixtures/gpu-exporter.txt.
# Values nvidia-smi reports as [N/A] / [Not Supported] (e.g. ECC on consumer GPUs) are left out, not faked as 0.
# Writes atomically (tmp + mv in the same directory) so node exporter never reads half a file.
set -euo pipefail
out=${1:-/var/lib/prometheus/node-exporter/nvidia_smi.prom}
nvidia_smi=${NVIDIA_SMI:-nvidia-smi}
fields=index,uuid,name,utilization.gpu,utilization.memory,memory.used,memory.total,temperature.gpu,power.draw,power.limit,ecc.errors.corrected.volatile.total,ecc.errors.uncorrected.volatile.total
tmp=$(mktemp "$(dirname "$out")/.nvidia_smi.XXXXXX")
trap 'rm -f "$tmp"' EXIT

success=1
if ! csv=$("$nvidia_smi" --query-gpu="$fields" --format=csv,noheader,nounits 2>/dev/null); then
  success=0
  csv=''
fi

{
  printf '# HELP nvidia_smi_collector_success 1 when the last nvidia-smi query succeeded.\n'
  printf '# TYPE nvidia_smi_collector_success gauge\n'
  printf 'nvidia_smi_collector_success %s\n' "$success"
  printf '# HELP nvidia_smi_collector_last_run_timestamp_seconds When the collector last ran (Unix time).\n'
  printf '# TYPE nvidia_smi_collector_last_run_timestamp_seconds gauge\n'
  printf 'nvidia_smi_collector_last_run_timestamp_seconds %s\n' "$(date +%s)"
  if [ -n "$csv" ]; then
    # Metric-major order: all samples of one family together, as the text exposition format expects.
    printf '%s\n' "$csv" | awk -F', *' '
      function num(v) { return v ~ /^-?[0-9]+(\.[0-9]+)?$/ }
      BEGIN {
        n = split("nvidia_smi_utilization_gpu_ratio|nvidia_smi_utilization_memory_ratio|nvidia_smi_memory_used_bytes|nvidia_smi_memory_total_bytes|nvidia_smi_temperature_celsius|nvidia_smi_power_draw_watts|nvidia_smi_power_limit_watts|nvidia_smi_ecc_errors_corrected_volatile_total|nvidia_smi_ecc_errors_uncorrected_volatile_total", name, "|")
        split("GPU busy time share (0-1).|Memory controller busy time share (0-1).|GPU memory in use.|GPU memory installed.|GPU core temperature.|Power draw.|Enforced power limit.|Corrected ECC errors since the driver loaded.|Uncorrected ECC errors since the driver loaded.", help, "|")
        split("gauge gauge gauge gauge gauge gauge gauge counter counter", type, " ")
        split("0.01 0.01 1048576 1048576 1 1 1 1 1", scale, " ")
      }
      {
        gsub(/"/, "", $3)
        rows++
        labels[rows] = sprintf("gpu=\"%s\",uuid=\"%s\",name=\"%s\"", $1, $2, $3)
        for (i = 1; i <= n; i++) value[rows, i] = $(i + 3)
      }
      END {
        for (i = 1; i <= n; i++) {
          header = 0
          for (r = 1; r <= rows; r++) {
            if (!num(value[r, i])) continue
            if (!header) { printf "# HELP %s %s\n# TYPE %s %s\n", name[i], help[i], name[i], type[i]; header = 1 }
            printf "%s{%s} %.15g\n", name[i], labels[r], value[r, i] * scale[i]
          }
        }
      }'
  fi
} > "$tmp"
chmod 0644 "$tmp"
mv -f "$tmp" "$out"
trap - EXIT
# A failed query is reported through the metric (alert FudbuddyGpuMetricsMissing), and also to journald.
[ "$success" = 1 ] || { echo "nvidia-smi query failed" >&2; exit 1; }
