#!/usr/bin/env bash
# reboot-if-required.sh [--os-updates]
# Reboots (in 5 s, detached, so this SSH session ends cleanly) when nvidia-driver.sh left its marker, or, with
# --os-updates, when the OS asks for one: /var/run/reboot-required, which Debian's and Ubuntu's package hooks
# write after a new kernel, libc or systemd (unattended-upgrades on a fresh cloud box, base-setup.sh's packages).
# Prints the current boot id, and records it in /var/lib/fudbuddy/reboot-from when it reboots: verify-gpu.sh
# --not-boot-id ID and verify-boot.sh then prove the host really came back.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
os_updates=false
case "${1:-}" in
  --os-updates) os_updates=true ;;
  '') ;;
  *) die "usage: reboot-if-required.sh [--os-updates]" ;;
esac
boot_id=$(cat /proc/sys/kernel/random/boot_id)
echo "BOOT_ID=$boot_id"
reason=
if [ -f /var/lib/fudbuddy/reboot-required ]; then
  reason="the new NVIDIA driver"
elif $os_updates && [ -f /var/run/reboot-required ]; then
  pkgs=$(sort -u /var/run/reboot-required.pkgs 2>/dev/null | paste -sd ' ' || true)
  reason="OS updates${pkgs:+ ($pkgs)}"
fi
if [ -n "$reason" ]; then
  mkdir -p /var/lib/fudbuddy
  echo "$boot_id" > /var/lib/fudbuddy/reboot-from
  rm -f /var/lib/fudbuddy/reboot-required
  systemd-run --on-active=5 --unit=fudbuddy-reboot systemctl reboot >&2 \
    || die "could not schedule the reboot: reboot by hand, then run pulumi up again"
  echo 'REBOOTING=1'
  changed "reboot scheduled for $reason"
else
  ok "no reboot needed"
fi
finish
