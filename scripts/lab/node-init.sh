#!/bin/bash
# PID 1 of one simulated node. Runs inside the node's own network, PID, mount
# and UTS namespaces (see lab.ts): gives the node its own /etc, /var/lib,
# /boot, /usr/local, /home, /run and /tmp, its board identity, and then
# "boots" it: starts sshd, and when everything in the node has been killed
# (a reboot), waits the lab's boot delay and starts it again.
# Usage: node-init.sh NODE_DIR HOSTNAME
set -u
D=$1
NAME=$2

for m in etc var/lib boot usr/local home; do
  key=${m//\//-}
  mkdir -p "$D/upper/$key" "$D/work/$key"
  mount -t overlay overlay -o "lowerdir=/$m,upperdir=$D/upper/$key,workdir=$D/work/$key" "/$m" || exit 1
done
# The k3s stand-in keeps the cluster's node list here, shared by the lab's nodes.
mkdir -p /var/lib/bramble-lab-cluster && mount --bind "$D/../../cluster" /var/lib/bramble-lab-cluster
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p "$D/tmp" && chmod 1777 "$D/tmp" && mount --bind "$D/tmp" /tmp
hostname "$NAME"

# Board identity: the device-tree model (absent on x86, as on real PCs).
if [ -s /etc/bramble-lab/model ]; then
  mount -t tmpfs tmpfs /sys/firmware
  mkdir -p /sys/firmware/devicetree/base
  # The kernel's file ends in a NUL byte.
  printf "%s\0" "$(cat /etc/bramble-lab/model)" > /sys/firmware/devicetree/base/model
  [ -s /etc/bramble-lab/compatible ] && tr "\n" "\0" < /etc/bramble-lab/compatible > /sys/firmware/devicetree/base/compatible
fi

# The kernel command line is read once per boot, from cmdline.txt on a Pi.
: > "$D/proc-cmdline"
mount --bind "$D/proc-cmdline" /proc/cmdline
# /proc/stat's btime is this machine's boot; the node's own is written at each of its boots.
cat /proc/stat > "$D/proc-stat.host"
: > "$D/proc-stat"
mount --bind "$D/proc-stat" /proc/stat
# The kernel's boot id, new at each of the node's boots (the host's is one for all).
: > "$D/boot-id"
mount --bind "$D/boot-id" /proc/sys/kernel/random/boot_id
# A kernel with an NFS client (lab.ts, nfsClient: true) lists nfs4; mounts are
# still tried by the real mount.nfs4 and refused by this machine's kernel.
if [ -f /etc/bramble-lab/nfs4 ]; then
  { cat /proc/filesystems; printf 'nodev\tnfs4\n'; } > "$D/proc-filesystems"
  mount --bind "$D/proc-filesystems" /proc/filesystems
fi
# The cgroup v2 controller list the node's kernel shows (a lab stand-in:
# this host's own hierarchy may be v1). Written again at every boot.
mount -t tmpfs -o mode=0755 tmpfs /sys/fs/cgroup

boot() {
  if [ -f /boot/firmware/cmdline.txt ]; then
    cp /boot/firmware/cmdline.txt "$D/proc-cmdline"
  else
    echo "BOOT_IMAGE=/vmlinuz root=/dev/nvme0n1p2 ro quiet" > "$D/proc-cmdline"
  fi
  # A Pi's device tree disables the memory controller unless the command line enables it.
  if [ -f /etc/bramble-lab/memcg-off-unless-cmdline ] && ! grep -qw cgroup_enable=memory "$D/proc-cmdline"; then
    echo "cpuset cpu io hugetlb pids rdma misc" > /sys/fs/cgroup/cgroup.controllers
  else
    echo "cpuset cpu io memory hugetlb pids rdma misc" > /sys/fs/cgroup/cgroup.controllers
  fi
  # A kernel with iSCSI (lab.ts, iscsi: true) shows its modules under
  # /sys/module, loaded from boot as a board's are after modules-load.d.
  if [ -f /etc/bramble-lab/iscsi ] && ! [ -d /sys/module/iscsi_tcp ]; then
    mount -t tmpfs -o mode=0755 tmpfs /sys/module && mkdir -p /sys/module/iscsi_tcp /sys/module/dm_crypt
  fi
  mkdir -p /run/sshd && chmod 0755 /run/sshd
  # What k3s's install script looks for to choose systemd (the units are the systemctl stand-in's).
  mkdir -p /run/systemd/system
  date +%s > "$D/booted-at"
  cat /proc/sys/kernel/random/uuid > "$D/boot-id"
  sed "s/^btime .*/btime $(cat "$D/booted-at")/" "$D/proc-stat.host" > "$D/proc-stat"
}

while :; do
  [ -f "$D/halt" ] && exit 0
  boot
  /usr/sbin/sshd -D -e -f /etc/ssh/sshd_config >> "$D/sshd.log" 2>&1
  [ -f "$D/halt" ] && exit 0
  echo "$(date +%s) down" >> "$D/boots.log"
  delay=$(cat "$D/boot-delay" 2>/dev/null || echo 1)
  sleep "${delay:-1}"; sleep 0.2
done
