#!/usr/bin/env bash
# nvidia-device-nodes.sh
# Root pre-start of vllm.service (ExecStartPre=+): the device nodes CUDA opens exist before the sandboxed service
# starts. A CUDA process of a non-root user would create /dev/nvidia-uvm itself through the setuid
# nvidia-modprobe, which the unit's NoNewPrivileges= forbids; so after a reboot nothing would create it.
# nvidia-smi (as root) loads the nvidia module and creates /dev/nvidiactl and /dev/nvidia0..N, but not the uvm
# device: `nvidia-modprobe -u -c=0` loads nvidia-uvm and creates /dev/nvidia-uvm (minor 0) and
# /dev/nvidia-uvm-tools (minor 1), as NVIDIA's own tools do.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
command -v nvidia-smi >/dev/null || die "nvidia-smi not found: is the NVIDIA driver installed (nvidia-utils-<branch>-server)?"
command -v nvidia-modprobe >/dev/null || die "nvidia-modprobe not found: install the nvidia-modprobe package (vLLM needs /dev/nvidia-uvm)"
nvidia-smi -L >/dev/null || die "nvidia-smi fails: is the nvidia module loaded (lsmod | grep nvidia)? Secure Boot refusing it (mokutil --sb-state)?"
nvidia-modprobe -u -c=0 || die "nvidia-modprobe -u -c=0 failed: the nvidia-uvm module does not load (dmesg | grep -i nvidia)"
for node in /dev/nvidiactl /dev/nvidia-uvm; do
  [ -c "$node" ] || die "$node is missing after nvidia-smi and nvidia-modprobe: CUDA cannot start"
done
ok "NVIDIA device nodes present ($(find /dev -maxdepth 1 -name 'nvidia[0-9]*' | wc -l) GPU node(s), nvidia-uvm)"
