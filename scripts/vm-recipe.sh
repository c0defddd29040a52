#!/usr/bin/env bash
# vm-recipe.sh — the test VM image recipe, sourced by scripts/vm.sh. Everything here (the variables and
# customize) is hashed into the image cache key: edit it and a new image is built. Expects $cacher_port and
# $guest_cacher from vm.sh.
# shellcheck shell=bash disable=SC2154,SC2034  # vars are read by vm.sh
suite=bookworm
# The Node the hosts run: HOST_NODE.version of components/lib/hostNode.ts, the one place it is written (node-install.sh
# finds it pre-placed and takes its "already installed" path).
node_version=$(sed -n "s/^ *version: '\([0-9.]*\)',\{0,1\}$/\1/p" "$(dirname "${BASH_SOURCE[0]}")/../components/lib/hostNode.ts")
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
  # Current security updates, as a cloud image built today has: else every fresh VM's unattended-upgrades installs
  # a new kernel + initramfs right after boot (minutes of emulated CPU per VM). It still runs at boot and takes
  # the dpkg lock to check.
  in_root apt-get -o Acquire::http::Proxy="http://127.0.0.1:$cacher_port" -y -q dist-upgrade >&2
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
