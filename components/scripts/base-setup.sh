#!/usr/bin/env bash
# base-setup.sh [EXTRA_PACKAGE...]
# Base of every FUD Buddy host: packages, unattended security upgrades, time sync, persistent journald,
# the unprivileged service users and the directory layout. Idempotent.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root

apt_ensure ca-certificates curl gnupg ufw unattended-upgrades systemd-timesyncd "$@"

if install_content /etc/apt/apt.conf.d/20auto-upgrades 0644 root:root <<'CONF'
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
APT::Periodic::AutocleanInterval "7";
CONF
then changed "unattended-upgrades enabled"; else ok "unattended-upgrades enabled"; fi

ensure_dir /etc/systemd/journald.conf.d 0755 root:root
if install_content /etc/systemd/journald.conf.d/fudbuddy.conf 0644 root:root <<'CONF'
[Journal]
Storage=persistent
SystemMaxUse=2G
CONF
then
  changed "journald persistent storage"
  systemctl restart systemd-journald || log "warning: could not restart journald; applies at next boot"
else ok "journald persistent storage"; fi

if systemctl is-enabled --quiet systemd-timesyncd 2>/dev/null; then
  ok "time sync enabled"
else
  systemctl enable --now systemd-timesyncd >&2 || die "could not enable systemd-timesyncd"
  changed "time sync enabled"
fi

ensure_system_user fudbuddy-api /opt/fudbuddy/api
ensure_system_user fudbuddy-model /var/lib/fudbuddy/models
ensure_dir /opt/fudbuddy 0755 root:root
ensure_dir /opt/fudbuddy/api 0755 root:root
ensure_dir /opt/fudbuddy/prompts 0755 root:root
ensure_dir /etc/fudbuddy 0750 root:root
ensure_dir /var/lib/fudbuddy 0755 root:root
ensure_dir /var/lib/fudbuddy/models 0750 fudbuddy-model:fudbuddy-model
finish
