#!/bin/bash
# systemd-machine.sh DIR ID PREPARE: boots the real systemd as PID 1 on an overlay of this machine's /
# (DIR/root, changes in DIR/upper), in new pid, mount, cgroup, network, UTS and IPC namespaces and in a
# cgroup subtree of its own in every hierarchy (listed in DIR/cgroups, for removal). DIR/files/* are
# copied to the root's /tmp and PREPARE runs there (chroot) before systemd starts nbtest.target.
set -eu
dir=$1; id=$2; prepare=$3
mkdir -p "$dir/upper" "$dir/work" "$dir/root"
: > "$dir/cgroups"
mounts=()
while read -r _ mnt type opts _; do
    case $type in cgroup|cgroup2) ;; *) continue ;; esac
    case $mnt in /sys/fs/cgroup|/sys/fs/cgroup/*) ;; *) continue ;; esac
    controllers=""; mountopts=""
    if [ "$type" = cgroup ]; then
        controllers=$(tr ',' '\n' <<<"$opts" | grep -vE '^(rw|ro|relatime|nosuid|nodev|noexec|clone_children|xattr|cpuset_v2_mode)$' | paste -sd, -)
        mountopts=$controllers
        case $controllers in name=*) mountopts=none,$controllers ;; esac
    fi
    path=$(awk -F: -v c="$controllers" '$2 == c { print $3; exit }' /proc/self/cgroup)
    sub=$mnt${path%/}/$id
    mkdir -p "$sub"
    echo "$sub" >> "$dir/cgroups"
    # cgroup v1 cpuset: a new group has no CPUs or memory nodes until given its parent's.
    if [ -e "$sub/cpuset.cpus" ]; then
        cat "$sub/../cpuset.cpus" > "$sub/cpuset.cpus"
        cat "$sub/../cpuset.mems" > "$sub/cpuset.mems"
    fi
    echo $$ > "$sub/cgroup.procs"
    mounts+=("$mnt|$type|$mountopts")
done < /proc/self/mounts
export BOOT_DIR=$dir BOOT_MOUNTS="${mounts[*]}" BOOT_PREPARE=$prepare
exec unshare --pid --fork --kill-child --mount --cgroup --net --uts --ipc --propagation private bash -c '
set -eu
root=$BOOT_DIR/root
mount -t overlay overlay -o "lowerdir=/,upperdir=$BOOT_DIR/upper,workdir=$BOOT_DIR/work" "$root"
mount --rbind /dev "$root/dev"
mount -t proc proc "$root/proc"
mount -t sysfs sysfs "$root/sys"
first=${BOOT_MOUNTS%% *}
[ "${first%%|*}" = /sys/fs/cgroup ] || mount -t tmpfs -o mode=755 tmpfs "$root/sys/fs/cgroup"
for m in $BOOT_MOUNTS; do
    IFS="|" read -r mnt type opts <<<"$m"
    mkdir -p "$root$mnt"
    if [ "$type" = cgroup2 ]; then mount -t cgroup2 cgroup2 "$root$mnt"; else mount -t cgroup -o "$opts" cgroup "$root$mnt"; fi
done
mount -t tmpfs -o mode=755 tmpfs "$root/run"
mount -t tmpfs tmpfs "$root/tmp"
cp "$BOOT_PREPARE" "$root/tmp/prepare"
[ ! -d "$BOOT_DIR/files" ] || cp -a "$BOOT_DIR/files/." "$root/tmp/"
chroot "$root" /bin/sh /tmp/prepare
export container=network-broker-test
exec chroot "$root" /lib/systemd/systemd --system --unit=nbtest.target
'
