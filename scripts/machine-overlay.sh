#!/usr/bin/env bash
# Runs COMMAND in a private mount namespace where $ROOT is this machine's own
# root file system under a throw-away overlay (changes go to a tmpfs in
# SCRATCH_DIR and vanish with the namespace), and $NSPAWN the systemd-nspawn
# command line for a container of it that needs no systemd on the machine
# itself. For scripts/test-unit-nspawn.sh and scripts/test-dockerfile.sh;
# needs root. Usage: machine-overlay.sh SCRATCH_DIR COMMAND [ARG]...
set -euo pipefail
scratch="$1"
shift
exec unshare --mount --propagation private -- /bin/bash -euo pipefail -c '
fs="$1/fs"
shift
mkdir -p "$fs"
mount -n -t tmpfs tmpfs "$fs"
mkdir "$fs/upper" "$fs/work" "$fs/root"
mount -n -t overlay overlay -o "lowerdir=/,upperdir=$fs/upper,workdir=$fs/work" "$fs/root"
rm -f "$fs/root/etc/machine-id"  # a machine of its own, not this one
export ROOT="$fs/root"
export NSPAWN="systemd-nspawn -D $ROOT --register=no --keep-unit --link-journal=no -q"
"$@"
' machine-overlay "$scratch" "$@"
