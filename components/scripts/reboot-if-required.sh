#!/usr/bin/env bash
# reboot-if-required.sh
# Reboots (in 5 s, detached, so this SSH session ends cleanly) only when nvidia-driver.sh left the marker.
# Prints the current boot id; verify-gpu.sh --after-boot ID then proves the host really came back.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
boot_id=$(cat /proc/sys/kernel/random/boot_id)
echo "BOOT_ID=$boot_id"
if [ -f /var/lib/fudbuddy/reboot-required ]; then
  rm -f /var/lib/fudbuddy/reboot-required
  systemd-run --on-active=5 --unit=fudbuddy-driver-reboot systemctl reboot >&2 \
    || die "could not schedule the reboot: reboot by hand, then run pulumi up again"
  echo 'REBOOTING=1'
  changed "reboot scheduled for the new NVIDIA driver"
else
  ok "no reboot needed"
fi
finish
