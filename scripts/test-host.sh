#!/usr/bin/env bash
# test-host.sh — a throwaway Debian host reachable over real SSH, for running the host scripts and `pulumi up`
# against. Needs root (netns, mounts). Used by tests/support/testHost.ts; usable by hand:
#
#   scripts/test-host.sh root                       build (once) and print the cached Debian root
#   scripts/test-host.sh start NAME                 start host NAME; prints one JSON line (address, key, ...)
#   scripts/test-host.sh stop NAME                  stop it and delete everything it created
#   scripts/test-host.sh list                       running test hosts
#
# Shape: a debootstrap'ed Debian bookworm root (cached under .cache/testhost/rootfs, built with this machine's
# Debian mirror) is mounted per host as an overlay (the cache is never written), and its sshd runs chrooted in
# its own network namespace (veth pair: host side 10.213.N.1, test host 10.213.N.2/30), mount namespace and
# PID namespace. systemd-nspawn --boot does not work in this container (cgroup v1), so there is no systemd
# PID 1 and no stand-in for one: suites that run units use the qemu VMs of scripts/vm.sh (real systemd). The SSH
# key is generated per host; node is the hosts' Node (scripts/host-node.sh).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
cache=${FUDBUDDY_TESTHOST_CACHE:-$repo/.cache/testhost}
runbase=${FUDBUDDY_TESTHOST_RUN:-/tmp/fudbuddy-testhosts}
suite=bookworm
mirror=${FUDBUDDY_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=systemd,systemd-sysv,dbus,openssh-server,sudo,ufw,iptables,ca-certificates,curl,gnupg,iproute2,procps,python3,python3-venv,unattended-upgrades,systemd-timesyncd,kmod,less

die() { echo "test-host.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (network namespaces and mounts)"

build_root() {
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  flock 9
  if [ ! -f "$cache/rootfs.ready" ]; then
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
    rm -rf "$cache/rootfs.partial" "$cache/rootfs"
    echo "test-host.sh: building the Debian $suite root (first run only, ~2 min)..." >&2
    debootstrap --variant=minbase --include="$packages" "$suite" "$cache/rootfs.partial" "$mirror" \
      > "$cache/debootstrap.log" 2>&1 || die "debootstrap failed: see $cache/debootstrap.log"
    mv "$cache/rootfs.partial" "$cache/rootfs"
    date -u > "$cache/rootfs.ready"
  fi
  flock -u 9
  echo "$cache/rootfs"
}

valid_name() { [[ $1 =~ ^[a-z0-9][a-z0-9-]{0,11}$ ]] || die "name '$1' must be 1-12 of a-z 0-9 -"; }

start() {
  local name=$1; shift
  valid_name "$name"
  [ $# -eq 0 ] || die "start: unknown argument $1"
  local lower dir
  lower=$(build_root)
  dir=$runbase/$name
  [ ! -e "$dir" ] || die "test host $name exists ($dir): stop it first"
  mkdir -p "$dir"/{upper,work,root}
  mount -t overlay overlay -o "lowerdir=$lower,upperdir=$dir/upper,workdir=$dir/work" "$dir/root"
  local root=$dir/root

  # A free /30: 10.213.N.0 for N in 1..250, claimed by mkdir (atomic) under the run base.
  local n
  for n in $(seq 1 250); do
    if mkdir "$runbase/.net-$n" 2>/dev/null; then echo "$name" > "$runbase/.net-$n/owner"; break; fi
    n=''
  done
  [ -n "$n" ] || die "no free 10.213.N.0/30 subnet"
  local ns="fudth-$name" hv="fth$n" gv="ftg$n" hostip="10.213.$n.1" guestip="10.213.$n.2"
  echo "$n" > "$dir/net"
  ip netns add "$ns"
  ip link add "$hv" type veth peer name "$gv"
  ip link set "$gv" netns "$ns"
  ip addr add "$hostip/30" dev "$hv"
  ip link set "$hv" up
  ip -n "$ns" addr add "$guestip/30" dev "$gv"
  ip -n "$ns" link set "$gv" up
  ip -n "$ns" link set lo up
  ip -n "$ns" route add default via "$hostip"

  # Per-run identity: client key, host keys, hostname.
  ssh-keygen -q -t ed25519 -N '' -C "fudbuddy-test-$name" -f "$dir/id_ed25519"
  rm -f "$root"/etc/ssh/ssh_host_*
  chroot "$root" ssh-keygen -A >/dev/null
  install -d -m 0700 "$root/root/.ssh"
  install -m 0600 "$dir/id_ed25519.pub" "$root/root/.ssh/authorized_keys"
  echo "fud-$name" > "$root/etc/hostname"
  cat > "$root/etc/ssh/sshd_config.d/fudbuddy-test.conf" <<CONF
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
ListenAddress $guestip
CONF
  install -d -m 0755 "$root/run/sshd"
  # The hosts' Node (HOST_NODE of components/lib/hostNode.ts, from the npm registry, cached), where NodeSource's
  # package would put it: the test host has no internet for node-install.sh.
  local node
  node=$(bash "$repo/scripts/host-node.sh") || die "could not get the hosts' Node binary (scripts/host-node.sh)"
  install -m 0755 "$node" "$root/usr/bin/node"

  # sshd as PID 1 of its own PID namespace, in a private mount namespace with its own /proc, /sys, /run.
  # shellcheck disable=SC2016 # expanded by the inner bash
  ip netns exec "$ns" unshare --mount --pid --uts --fork --propagation private -- bash -c '
    set -e
    root=$1
    hostname "$2"
    mount -t proc proc "$root/proc"
    mount -t sysfs sysfs "$root/sys" || mount --rbind /sys "$root/sys"
    mount --rbind /dev "$root/dev"
    mount -t tmpfs -o mode=0755 tmpfs "$root/run"
    mkdir -p "$root/run/sshd" "$root/run/lock"
    exec chroot "$root" /usr/sbin/sshd -D -e
  ' _ "$root" "fud-$name" > "$dir/sshd.log" 2>&1 &
  echo $! > "$dir/pid"

  local i
  for i in $(seq 1 50); do
    if (exec 3<>"/dev/tcp/$guestip/22") 2>/dev/null; then break; fi
    kill -0 "$(cat "$dir/pid")" 2>/dev/null || die "sshd exited: $(cat "$dir/sshd.log")"
    sleep 0.1
  done
  [ "$i" -lt 50 ] || die "sshd did not listen on $guestip:22: $(cat "$dir/sshd.log")"
  local hostkey
  hostkey=$(cut -d' ' -f1,2 "$root/etc/ssh/ssh_host_ed25519_key.pub")
  printf '{"name":"%s","host":"%s","port":22,"user":"root","hostSideAddress":"%s","privateKeyPath":"%s","hostKey":"%s","rootDir":"%s","netns":"%s"}\n' \
    "$name" "$guestip" "$hostip" "$dir/id_ed25519" "$hostkey" "$root" "$ns"
}

stop() {
  local name=$1
  valid_name "$name"
  local dir=$runbase/$name ns="fudth-$name"
  [ -d "$dir" ] || { echo "test host $name is not running" >&2; return 0; }
  if [ -f "$dir/pid" ]; then
    local pid
    pid=$(cat "$dir/pid")
    # The unshare process; killing it ends the PID namespace and with it every process of the test host.
    kill "$pid" 2>/dev/null || true
    pkill -KILL -P "$pid" 2>/dev/null || true
    kill -KILL "$pid" 2>/dev/null || true
  fi
  # Leftovers of a crashed run: anything still running inside the netns.
  local p
  for p in $(ip netns pids "$ns" 2>/dev/null); do kill -KILL "$p" 2>/dev/null || true; done
  if [ -f "$dir/net" ]; then
    local n
    n=$(cat "$dir/net")
    ip link del "fth$n" 2>/dev/null || true
    rm -rf "$runbase/.net-$n"
  fi
  ip netns del "$ns" 2>/dev/null || true
  local t
  for t in 1 2 3 4 5; do
    mountpoint -q "$dir/root" || break
    umount "$dir/root" 2>/dev/null || { sleep 0.2; [ "$t" = 5 ] && umount -l "$dir/root"; }
  done
  rm -rf "$dir"
}

case ${1:-} in
  root) build_root ;;
  start) shift; [ $# -ge 1 ] || die "usage: start NAME"; start "$@" ;;
  stop) shift; [ $# -eq 1 ] || die "usage: stop NAME"; stop "$1" ;;
  list) for d in "$runbase"/*/; do [ -d "$d" ] && basename "$d"; done; true ;;
  *) die "usage: test-host.sh root | start NAME | stop NAME | list" ;;
esac
