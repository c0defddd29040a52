#!/usr/bin/env bash
# verify-boot.sh
# After reboot-if-required.sh: succeeds once the host runs a new boot (when that script scheduled a reboot, it
# recorded the old boot id in /var/lib/fudbuddy/reboot-from) and systemd has finished starting it, so the steps
# after it (apt, units) meet a settled host. A failed unit of someone else's ("degraded") does not stop the deploy.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root
boot_id=$(cat /proc/sys/kernel/random/boot_id)
echo "BOOT_ID=$boot_id"
if [ -f /var/lib/fudbuddy/reboot-from ]; then
  [ "$(cat /var/lib/fudbuddy/reboot-from)" != "$boot_id" ] \
    || die "the host has not rebooted yet (boot $boot_id): wait for it, then run pulumi up again"
  rm -f /var/lib/fudbuddy/reboot-from
  changed "the host came back from its reboot (boot $boot_id)"
fi
settle=${BOOT_SETTLE_SECONDS:-300}
state=$(timeout "$settle" systemctl is-system-running --wait 2>/dev/null || true)
case "$state" in
  running | degraded) ok "systemd: $state" ;;
  *) die "systemd is still '${state:-starting}' ${settle}s after boot: see systemctl list-jobs" ;;
esac
finish
