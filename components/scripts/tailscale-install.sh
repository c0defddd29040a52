#!/usr/bin/env bash
# tailscale-install.sh
# Tailscale from Tailscale's own apt repository (the distribution's package lags), tailscaled enabled.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
require_root

if command -v tailscale >/dev/null && command -v tailscaled >/dev/null; then
  ok "tailscale $(tailscale version 2>/dev/null | head -n1) installed"
else
  # shellcheck source=/dev/null
  . /etc/os-release
  distro=${ID:?} codename=${VERSION_CODENAME:?}
  apt_ensure ca-certificates curl
  install -d -m 0755 /usr/share/keyrings
  curl -fsSL "https://pkgs.tailscale.com/stable/${distro}/${codename}.noarmor.gpg" \
    -o /usr/share/keyrings/tailscale-archive-keyring.gpg \
    || die "could not fetch Tailscale's signing key for ${distro} ${codename} (network? supported release?)"
  curl -fsSL "https://pkgs.tailscale.com/stable/${distro}/${codename}.tailscale-keyring.list" \
    -o /etc/apt/sources.list.d/tailscale.list || die "could not fetch Tailscale's apt source list"
  apt_get update -q >&2 || die "apt-get update failed after adding Tailscale's repository"
  apt_get install -y -q tailscale >&2 || die "installing tailscale failed"
  changed "tailscale installed from pkgs.tailscale.com"
fi
if systemctl is-enabled --quiet tailscaled 2>/dev/null && unit_is_active tailscaled; then
  ok "tailscaled running"
else
  systemctl enable --now tailscaled >&2 || die "could not start tailscaled: journalctl -u tailscaled"
  changed "tailscaled enabled and started"
fi
finish
