#!/usr/bin/env bash
# Helpers shared by the monitoring host scripts. Sourced, never executed.
# Scripts print `changed: …` / `ok: …` lines and end with FUDBUDDY_RESULT=changed|unchanged (a second run of an
# unchanged config prints only ok lines and `unchanged`).

# The host layer's helpers (log/die/ok/changed/finish, require_root, install_content, ensure_dir, …), shipped beside
# this file as host-lib.sh (a copy of components/scripts/lib.sh).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/host-lib.sh"

# shellcheck disable=SC2034 # used by the scripts that source this file
LIB_DIR=/usr/local/lib/fudbuddy-monitoring
# shellcheck disable=SC2034
CONF_DIR=/etc/fudbuddy-monitoring

# put DEST MODE OWNER < content: install_content that reports what it did. Returns 0 when changed.
# node exporter's systemd collector asks D-Bus for several properties of every unit it reports, on every scrape
# (collector/systemd_linux.go): on a box with hundreds of units that alone took 81 s per scrape in a test VM, past
# Prometheus' scrape timeout. Report only the units this stack runs and depends on (the unit-state summary still
# counts all units). No backslashes: the pattern travels in ARGS through systemd's EnvironmentFile parsing.
# shellcheck disable=SC2034 # used by gpu-exporters.sh and monitoring-server.sh
NODE_EXPORTER_SYSTEMD_ARGS="--collector.systemd --collector.systemd.unit-include=(vllm|fudbuddy-.+|tailscaled|ssh|nginx|prometheus.*)[.](service|timer)"

put() {
  if install_content "$1" "$2" "$3"; then changed "$1"; return 0; fi
  ok "$1"
  return 1
}

ubuntu_codename() {
  # shellcheck disable=SC1091
  . /etc/os-release
  printf '%s' "${VERSION_CODENAME:-unknown}"
}

# pinned_version PACKAGE: the apt version glob for this release from the PIN_<CODENAME>_<PACKAGE> variables that
# the component passes (monitoring/versions.json). Dies when the release is not pinned.
pinned_version() {
  local codename var
  codename=$(ubuntu_codename)
  var="PIN_$(printf '%s_%s' "$codename" "$1" | tr '[:lower:]-' '[:upper:]_')"
  [ -n "${!var:-}" ] || die "no pinned version of $1 for release '$codename' (supported: Ubuntu jammy/noble, Debian and Raspberry Pi OS bookworm); add it to monitoring/versions.json"
  printf '%s' "${!var}"
}

# apt_install_pinned PKG=VERSION...: installs only what is missing or at another version; keeps our conffiles.
apt_install_pinned() {
  local want=() spec pkg ver have
  for spec in "$@"; do
    pkg=${spec%%=*} ver=${spec#*=}
    have=$(dpkg-query -W -f='${Status} ${Version}' "$pkg" 2>/dev/null || true)
    # shellcheck disable=SC2053 # ver is a glob on purpose
    if [[ $have == "install ok installed "* ]] && [[ ${have#install ok installed } == $ver ]]; then
      ok "package $pkg ${have#install ok installed }"
    else
      want+=("$spec")
    fi
  done
  [ ${#want[@]} -gt 0 ] || return 0
  apt_get update -qq || die "apt-get update failed (network? apt sources?)"
  apt_get install -y -qq --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    "${want[@]}" >&2 || die "apt-get install ${want[*]} failed: is the pinned version available? apt-cache policy ${want[*]%%=*}"
  changed "installed ${want[*]}"
}

# grafana_repo: Grafana's apt repository (grafana, loki, alloy), signed-by its key only.
grafana_repo() {
  local keyring=/etc/apt/keyrings/grafana.gpg list=/etc/apt/sources.list.d/grafana.list
  if [ ! -s "$keyring" ]; then
    mkdir -p /etc/apt/keyrings
    command -v gpg >/dev/null || apt_install_pinned gnupg='*'
    curl -fsSL https://apt.grafana.com/gpg.key | gpg --dearmor -o "$keyring.tmp" || die "cannot fetch Grafana's apt key"
    chmod 0644 "$keyring.tmp"
    mv -f "$keyring.tmp" "$keyring"
    changed "$keyring"
  fi
  echo "deb [signed-by=$keyring] https://apt.grafana.com stable main" | put "$list" 0644 root:root || true
}

# restart_if UNIT CHANGED(0|1): restarts (and enables) UNIT when CHANGED=1 or it is not running.
restart_if() {
  local unit=$1 did=$2
  systemctl daemon-reload
  systemctl enable "$unit" >/dev/null 2>&1 || true
  if [ "$did" = 1 ] || ! systemctl is-active --quiet "$unit"; then
    systemctl restart "$unit" || die "$unit failed to start: journalctl -u $unit -n 50"
    changed "restarted $unit"
  else
    ok "$unit running"
  fi
}

# bind_address: the address exporters bind to. BIND_ADDRESS when given (CPU test hosts without a tailnet),
# else this host's Tailscale IPv4. Never 0.0.0.0.
bind_address() {
  local a=${BIND_ADDRESS:-}
  if [ -z "$a" ]; then
    a=$(tailscale ip -4 2>/dev/null | head -n1 || true)
    [ -n "$a" ] || die "no tailnet address: is Tailscale up on this host? (tailscale status)"
  fi
  case $a in 0.0.0.0|::|'') die "refusing to bind exporters to '$a'" ;; esac
  printf '%s' "$a"
}

# install_alloy HOST_NAME LOKI_PUSH_URL: Grafana Alloy (needs ALLOY_VERSION) shipping this host's journald to Loki,
# with the config staged as $STAGE/config.alloy; restarts it only when something changed.
install_alloy() {
  local a=0
  printf 'CONFIG_FILE=/etc/alloy/config.alloy\nCUSTOM_ARGS="--server.http.listen-addr=127.0.0.1:12345 --disable-reporting"\nFUDBUDDY_HOST=%s\nLOKI_PUSH_URL=%s\n' \
    "$1" "$2" | put /etc/default/alloy 0644 root:root && a=1
  apt_install_pinned "alloy=${ALLOY_VERSION:?}"
  put /etc/alloy/config.alloy 0644 root:root < "$STAGE/config.alloy" && a=1
  if ! id -nG alloy | grep -qw systemd-journal; then usermod -aG systemd-journal alloy; a=1; changed "alloy in group systemd-journal"; fi
  restart_if alloy "$a"
}
