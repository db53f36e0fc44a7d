#!/usr/bin/env bash
# Runs a command (valved) the way etc/valved.service runs it, as far as that
# can be done without systemd as PID 1 (CI containers, this project's test
# machine): as the unit's user, in a private mount namespace where
#   ProtectSystem=strict  every mount but /proc, /sys and /dev is read-only,
#                         but for the unit's RuntimeDirectory, StateDirectory
#                         and LogsDirectory (/run/valved, /var/lib/valved,
#                         /var/log/valved);
#   ProtectHome=yes       /home, /root and /run/user are empty;
#   PrivateTmp=yes        /tmp and /var/tmp are private and empty;
#   PrivateDevices=yes    /dev holds only null, zero, full, random, urandom,
#                         tty and an empty shm;
#   NoNewPrivileges=yes, CapabilityBoundingSet=CAP_NET_BIND_SERVICE,
#   User=valve, Group=valve, UMask=0027, HOME from the user's entry.
# Not reproduced: SystemCallFilter (seccomp), MemoryDenyWriteExecute,
# RestrictAddressFamilies/Namespaces/Realtime, LockPersonality and the
# Protect{Kernel*,Clock,Hostname,Proc} settings, which need systemd itself.
# Must be run as root. Usage: run-like-unit.sh USER COMMAND [ARG]...
set -euo pipefail
user="$1"
shift
home="$(getent passwd "$user" | cut -d: -f6)"
exec unshare --mount --propagation private -- /bin/bash -euo pipefail -c '
user="$1" home="$2"
shift 2
rw=(/run/valved /var/lib/valved /var/log/valved)
# PrivateDevices: a new /dev with the harmless nodes, built aside first.
mount -n -t tmpfs -o mode=0755,nosuid,noexec tmpfs /mnt
for node in null zero full random urandom tty; do
  touch "/mnt/$node"
  mount -n --bind "/dev/$node" "/mnt/$node"
done
mkdir /mnt/shm
mount -n -t tmpfs -o mode=1777,nosuid,nodev tmpfs /mnt/shm
# ProtectSystem=strict: every mount read-only but the API file systems.
while read -r target; do
  case "$target" in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|/mnt|/mnt/*) continue ;; esac
  mount -n -o remount,bind,ro "$target" 2>/dev/null || true
done < <(findmnt -rn -o TARGET)
for dir in "${rw[@]}"; do
  mount -n --bind "$dir" "$dir"
  mount -n -o remount,bind,rw "$dir"
done
mount -n --move /mnt /dev
# PrivateTmp and ProtectHome.
for dir in /tmp /var/tmp; do mount -n -t tmpfs -o mode=1777,nosuid,nodev tmpfs "$dir"; done
for dir in /home /root /run/user; do
  [ -d "$dir" ] && mount -n -t tmpfs -o mode=0755,ro tmpfs "$dir"
done
umask 0027
cd /
exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
  HOME="$home" USER="$user" LOGNAME="$user" LANG=C.UTF-8 \
  setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs \
  --bounding-set=-all,+net_bind_service --inh-caps=-all -- "$@"
' run-like-unit "$user" "$home" "$@"
