#!/usr/bin/env bash
# Shared helpers for the FUD Buddy host scripts. Sourced, never executed.
# Every script reports what it did as `changed: <what>` / `ok: <what>` lines and ends with one
# `FUDBUDDY_RESULT=changed|unchanged` line, so callers (and the idempotency tests) can tell a no-op run.

FUDBUDDY_CHANGED=0

log() { printf '%s\n' "$*" >&2; }
die() { printf 'ERROR: %s\n' "$*" >&2; exit 1; }
ok() { printf 'ok: %s\n' "$*"; }
changed() { FUDBUDDY_CHANGED=1; printf 'changed: %s\n' "$*"; }
finish() {
  if [ "$FUDBUDDY_CHANGED" = 1 ]; then echo 'FUDBUDDY_RESULT=changed'; else echo 'FUDBUDDY_RESULT=unchanged'; fi
}

require_root() {
  [ "$(id -u)" = 0 ] || die "$(basename "$0") must run as root (connect as root or a user with passwordless sudo)"
}

# install_content DEST MODE OWNER:GROUP < content
# Writes stdin to DEST atomically when it differs from what is there (content, mode or owner).
# Returns 0 when it changed something, 1 when DEST was already right.
install_content() {
  local dest=$1 mode=$2 owner=$3 tmp
  mkdir -p "$(dirname "$dest")"
  tmp=$(mktemp "$(dirname "$dest")/.fudbuddy.XXXXXX")
  chmod 0600 "$tmp"
  cat > "$tmp"
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest" \
    && [ "$(stat -c '%a %U:%G' "$dest")" = "${mode#0} $owner" ]; then
    rm -f "$tmp"
    return 1
  fi
  chown "$owner" "$tmp"
  chmod "$mode" "$tmp"
  mv -f "$tmp" "$dest"
  return 0
}

# ensure_dir PATH MODE OWNER:GROUP
ensure_dir() {
  local dir=$1 mode=$2 owner=$3
  if [ -d "$dir" ] && [ "$(stat -c '%a %U:%G' "$dir")" = "${mode#0} $owner" ]; then
    return 0
  fi
  mkdir -p "$dir"
  chown "$owner" "$dir"
  chmod "$mode" "$dir"
  changed "directory $dir ($mode $owner)"
}

# ensure_system_user NAME HOME
ensure_system_user() {
  local name=$1 home=$2
  if id -u "$name" >/dev/null 2>&1; then
    ok "user $name exists"
  else
    useradd --system --home-dir "$home" --no-create-home --shell /usr/sbin/nologin --user-group "$name"
    changed "system user $name"
  fi
}

# apt_get ARGS...: apt-get that waits its turn instead of failing on a held lock. Several of our steps run apt at
# once on one host (node, driver and tailscale all follow base; monitoring exporters beside the edge's nginx), and
# a fresh cloud box's unattended-upgrades may hold the dpkg lock for minutes after boot. Our own steps queue on one
# flock; a foreign holder is waited for with DPkg::Lock::Timeout, and `update` (whose lists lock that option does
# not cover on every apt) is retried while the lock is held. A lock still held after APT_LOCK_WAIT seconds fails
# with a message naming its holder, never blaming the network.
APT_LOCK_WAIT=${APT_LOCK_WAIT:-900}
apt_get() {
  local deadline=$((SECONDS + APT_LOCK_WAIT)) err rc fd holder
  err=$(mktemp)
  exec {fd}>>/run/lock/fudbuddy-apt.lock
  flock -w "$APT_LOCK_WAIT" "$fd" || { rm -f "$err"; die "another FUD Buddy step held apt for ${APT_LOCK_WAIT}s"; }
  while :; do
    rc=0
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="$APT_LOCK_WAIT" "$@" 2>"$err" || rc=$?
    if [ "$rc" != 0 ] && grep -qE 'Could not get lock|Unable to lock|Unable to acquire the dpkg frontend lock' "$err"; then
      holder=$(grep -oE 'held by process [0-9]+ \([^)]*\)' "$err" | head -n 1 || true)
      if [ "$SECONDS" -lt "$deadline" ]; then
        log "apt is locked${holder:+ ($holder)}; waiting"
        sleep 5
        continue
      fi
      cat "$err" >&2
      rm -f "$err"
      exec {fd}>&-
      die "apt stayed locked for ${APT_LOCK_WAIT}s${holder:+ ($holder)}: another package manager run (unattended-upgrades?) is still going; re-run pulumi up when it has finished"
    fi
    break
  done
  cat "$err" >&2
  rm -f "$err"
  exec {fd}>&-
  return "$rc"
}

# apt_ensure PKG... : installs only what is missing, so a converged host never touches the network.
apt_ensure() {
  local missing=() p
  for p in "$@"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then missing+=("$p"); fi
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    ok "packages present: $*"
    return 0
  fi
  apt_get update -q >&2 || die "apt-get update failed: check the host's network and apt sources (output above)"
  apt_get install -y -q --no-install-recommends "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed: see the apt output above"
  changed "installed packages: ${missing[*]}"
}

# check_staged PATH: a staging copy in world-writable /var/tmp is only trusted when the SSH user made it.
check_staged() {
  local path=$1 want=${SUDO_USER:-root} owner
  [ -e "$path" ] || die "staged copy $path is missing: re-run pulumi up (the copy step re-creates it)"
  [ ! -L "$path" ] || die "$path is a symlink; refusing to install from it"
  owner=$(stat -c %U "$path")
  [ "$owner" = "$want" ] || die "$path is owned by $owner, not $want: refusing to install from it"
  [ -z "$(writable_by_others "$path" "$want")" ] || die "$path has entries writable by others than $want: refusing"
}

# writable_by_others PATH USER: prints the first entry under PATH that someone other than USER could write.
# Under umask 0002 (Ubuntu's default for users with their own group) SFTP copies are group-writable; that group
# is USER's private one when it has USER's name and no other members, so only then is g+w accepted.
# (install-scripts.sh keeps a copy: it runs before lib.sh is trusted.)
writable_by_others() {
  local path=$1 user=$2 members
  members=$(getent group "$user" | cut -d: -f4)
  if getent group "$user" >/dev/null && { [ -z "$members" ] || [ "$members" = "$user" ]; }; then
    find "$path" \( -perm -0002 -o \( -perm -0020 ! -group "$user" \) \) -print -quit
  else
    find "$path" -perm /022 -print -quit
  fi
}

# unit_is_active UNIT
unit_is_active() { systemctl is-active --quiet "$1"; }
