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
# Returns 0 when it changed something, 1 when DEST was already right; dies when it cannot write DEST. Every
# command is checked by hand: callers test it with `if`, and bash ignores `set -e` in the whole function then
# (a failed `mv` went unnoticed: the step passed, and restarted its unit on the old file).
install_content() {
  local dest=$1 mode=$2 owner=$3 tmp
  mkdir -p "$(dirname "$dest")" || die "cannot create the directory of $dest"
  tmp=$(mktemp "$(dirname "$dest")/.fudbuddy.XXXXXX") || die "cannot create a temporary file beside $dest"
  { chmod 0600 "$tmp" && cat > "$tmp"; } || { rm -f "$tmp"; die "cannot write the new content of $dest (disk full?)"; }
  if [ -f "$dest" ] && cmp -s "$tmp" "$dest" \
    && [ "$(stat -c '%a %U:%G' "$dest")" = "${mode#0} $owner" ]; then
    rm -f "$tmp"
    return 1
  fi
  # -T: a directory at DEST is an error, not a place to move the file into.
  { chown "$owner" "$tmp" && chmod "$mode" "$tmp" && mv -fT "$tmp" "$dest"; } \
    || { rm -f "$tmp"; die "cannot install $dest (the error above; an immutable or read-only file?)"; }
  return 0
}

# remove_unit UNIT: stops, disables and deletes our unit file /etc/systemd/system/UNIT (a service or timer) if it is
# there. The caller reloads systemd once afterwards.
remove_unit() {
  [[ $1 =~ ^[a-zA-Z0-9@._-]+\.(service|timer)$ ]] || die "'$1' is not a service or timer name"
  [ -f "/etc/systemd/system/$1" ] || { ok "$1 not installed"; return 0; }
  systemctl disable --now "$1" >&2 || log "warning: $1 did not stop cleanly (journalctl -u $1)"
  rm -f -- "/etc/systemd/system/$1"
  changed "removed $1"
}

# remove_path PATH: removes PATH (a file or a whole directory) if it is there, and says which it was.
remove_path() {
  if [ -e "$1" ]; then
    rm -rf -- "$1"
    changed "removed $1"
  else
    ok "$1 absent"
  fi
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

APT_LOCK_WAIT=${APT_LOCK_WAIT:-900}

# apt_queue_enter: waits for our steps' apt queue (one flock) and sets APT_QUEUE_FD; apt_queue_leave releases it.
# apt_get takes it; so does anything else that runs apt itself (ubuntu-drivers).
apt_queue_enter() {
  exec {APT_QUEUE_FD}>>/run/lock/fudbuddy-apt.lock
  flock -w "$APT_LOCK_WAIT" "$APT_QUEUE_FD" || die "another FUD Buddy step held apt for ${APT_LOCK_WAIT}s"
}
apt_queue_leave() { exec {APT_QUEUE_FD}>&-; }

# apt_get ARGS...: apt-get that waits its turn instead of failing on a held lock. Several of our steps run apt at
# once on one host (node, driver and tailscale all follow base; monitoring exporters beside the edge's nginx), and
# a fresh cloud box's unattended-upgrades may hold the dpkg lock for minutes after boot. Our own steps queue on one
# flock; a foreign holder is waited for with DPkg::Lock::Timeout, and `update` (whose lists lock that option does
# not cover on every apt) is retried while the lock is held. A lock still held after APT_LOCK_WAIT seconds fails
# with a message naming its holder, never blaming the network.
apt_get() {
  local deadline=$((SECONDS + APT_LOCK_WAIT)) err rc holder
  apt_queue_enter
  err=$(mktemp)
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
      apt_queue_leave
      die "apt stayed locked for ${APT_LOCK_WAIT}s${holder:+ ($holder)}: another package manager run (unattended-upgrades?) is still going; re-run pulumi up when it has finished"
    fi
    break
  done
  cat "$err" >&2
  rm -f "$err"
  apt_queue_leave
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

# unit_wanted UNIT: running, or enabled (meant to run, e.g. failing in its Restart= loop): a config change restarts
# it, so a fix of a broken unit's config takes effect and is checked by this run, not by a later retry of systemd's.
unit_wanted() { unit_is_active "$1" || systemctl is-enabled --quiet "$1" 2>/dev/null; }

# unit_journal_tail UNIT: the unit's last log lines on stderr (what Pulumi shows of a failed step).
unit_journal_tail() {
  log "--- journalctl -u $1 (last 25 lines) ---"
  journalctl -u "$1" -n 25 --no-pager -o short-iso >&2 || true
}

# unit_run start|restart UNIT: (re)starts UNIT and returns 0 once it is active, or 1 with its journal tail and an
# ERROR line at the first failed attempt. Not a plain blocking `systemctl start`: under Restart=on-failure systemd keeps the start job
# open across automatic restarts (it ends only when the unit is up or hits its start limit, which a start slower
# than StartLimitIntervalSec never does), so a unit that can never start would hold the step — and `pulumi up` —
# for ever. The unit keeps its Restart= loop (a transient cause may pass); the step fails now, with the cause.
unit_run() {
  local verb=$1 unit=$2 inv0 props inv state sub deadline=$((SECONDS + ${FUDBUDDY_START_WAIT:-3600}))
  inv0=$(systemctl show -p InvocationID --value "$unit")
  systemctl "$verb" --no-block "$unit" >&2 || { unit_journal_tail "$unit"; die "systemctl $verb $unit failed"; }
  while :; do
    # Jobs first, then the state: a job that ends between the two reads leaves the unit's final state to read.
    if ! systemctl list-jobs --no-legend "$unit" 2>/dev/null | grep -qF " $unit "; then
      [ "$(systemctl show -p ActiveState --value "$unit")" = active ] && return 0
      state=$(systemctl show -p ActiveState --value "$unit") sub=$(systemctl show -p SubState --value "$unit")
      break
    fi
    props=$(systemctl show -p InvocationID -p ActiveState -p SubState "$unit")
    inv=$(sed -n 's/^InvocationID=//p' <<< "$props")
    state=$(sed -n 's/^ActiveState=//p' <<< "$props")
    sub=$(sed -n 's/^SubState=//p' <<< "$props")
    # A new invocation (ours, or systemd's retry of it) that failed: the attempt with this run's config failed.
    if [ "$inv" != "$inv0" ] && { [ "$sub" = auto-restart ] || [ "$state" = failed ]; }; then break; fi
    [ "$SECONDS" -lt "$deadline" ] || { sub="$sub, still starting after ${FUDBUDDY_START_WAIT:-3600}s"; break; }
    sleep 0.5
  done
  unit_journal_tail "$unit"
  log "ERROR: $unit failed to $verb ($state/$sub; its journal is above, more: journalctl -u $unit -n 200)"
  return 1
}

# unit_apply restart|reload UNIT: after its config changed. A unit meant to run (unit_wanted) restarts and must come
# up (unit_run; returns 1 if it does not); reload only a running unit (ExecReload re-reads the files; nothing to re-read otherwise).
unit_apply() {
  local action=$1 unit=$2
  if [ "$action" = restart ] && unit_wanted "$unit"; then
    unit_run restart "$unit" || return 1
  elif [ "$action" = reload ] && unit_is_active "$unit"; then
    systemctl reload "$unit" >&2 || die "systemctl reload $unit failed: journalctl -u $unit"
  else
    ok "$unit not running; it picks up the change when it starts"
    return 0
  fi
  echo "${action}ed: $unit"
}
