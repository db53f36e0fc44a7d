#!/usr/bin/env bash
# The installed unit under systemd itself (part of scripts/test-package.sh;
# needs root and systemd-nspawn): boots this machine's own root file system,
# under a throw-away overlay, as a systemd-nspawn container with systemd as
# PID 1 and a private network; installs the package there with the example
# API at /srv/valved, so that the postinst enables the unit and systemd starts
# it at boot with every hardening setting of the unit; then a one-shot unit
# checks readiness (Type=notify, /readyz), that R answers (including a PNG
# from /plot), that systemctl reload and stop work, and the unit's exposure
# score, and powers the container off.
# Usage: test-unit-nspawn.sh VALVED_DEB. Exit 0 also when systemd cannot boot
# in a container here (then it says SKIPPED and why).
set -euo pipefail
cd "$(dirname "$0")/.."
deb="$(realpath "$1")"
fail() { echo "test-unit-nspawn: FAIL: $*" >&2; exit 1; }
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/result"
cp "$deb" examples/plumber.R "$scratch/"

# The checks, run by systemd in the container once valved.service is up.
cat >"$scratch/proof.sh" <<'PROOF'
#!/bin/bash
exec >/proof/log 2>&1
check() { if eval "$2"; then echo "ok: $1"; else echo "FAILED: $1"; fi; }
answer() { curl -fsS --max-time 5 "http://127.0.0.1:3000/echo?msg=$1"; }
for _ in $(seq 120); do answer hello >/dev/null 2>&1 && break; sleep 0.5; done
check "the service is active, as valve" \
  '[ "$(systemctl show -P ActiveState valved)" = active ] && [ "$(ps -o user= -p "$(systemctl show -P MainPID valved)")" = valve ]'
if grep -q "^Type=notify" /lib/systemd/system/valved.service; then  # issue 10
  check "valved told systemd its status (Type=notify)" '[ -n "$(systemctl show -P StatusText valved)" ]'
fi
if grep -q "^status_listen: 127.0.0.1:3001" /etc/valve.yaml; then  # issue 10
  check "/readyz on the status listener" 'curl -fsS --max-time 5 http://127.0.0.1:3001/readyz >/dev/null'
fi
check "R answers under the unit" 'answer under-systemd | grep -q under-systemd'
check "R draws a PNG under the unit" \
  '[ "$(curl -fsS --max-time 20 -o /tmp/plot.png -w "%{content_type}" http://127.0.0.1:3000/plot)" = image/png ]'
check "systemctl reload (ExecReload) succeeds" 'timeout 60 systemctl reload valved'
for _ in $(seq 120); do
  journalctl -u valved --no-pager | grep -q "reload: new children are serving" && break
  sleep 0.5
done
check "the reload completes" 'journalctl -u valved --no-pager | grep -q "reload: new children are serving"'
check "R answers after the reload" 'answer after-reload | grep -q after-reload'
exposure="$(systemd-analyze security valved | sed -n "s/.*exposure level for valved.service: \([0-9.]*\).*/\1/p")"
echo "exposure: $exposure"
check "exposure below 5.0" 'awk -v e="$exposure" "BEGIN { exit !(e < 5.0) }"'
check "systemctl stop succeeds" 'timeout 60 systemctl stop valved'
check "the master exited 0" '[ "$(systemctl show -P ExecMainStatus valved)" = 0 ] && [ "$(systemctl show -P Result valved)" = success ]'
check "the runtime directory is gone" '[ ! -e /run/valved ]'
journalctl -u valved --no-pager | tail -n 40 >/proof/journal
echo done
systemctl poweroff
PROOF
chmod +x "$scratch/proof.sh"

set +e
./scripts/machine-overlay.sh "$scratch" /bin/bash -euo pipefail -c '
scratch="$1"
root="$ROOT"
mkdir -p "$root/srv/valved" "$root/opt/valved-test"
cp "$scratch/plumber.R" "$root/srv/valved/"
cp "$scratch"/valved_*.deb "$scratch/proof.sh" "$root/opt/valved-test/"
# Only what the test needs: no login prompt on the console, no other daemons
# of this machine.
for unit in $(ls "$root/etc/systemd/system/multi-user.target.wants/" 2>/dev/null); do
  ln -sf /dev/null "$root/etc/systemd/system/$unit"
done
ln -sf /dev/null "$root/etc/systemd/system/console-getty.service"
read -ra nspawn <<<"$NSPAWN"
nspawn+=(--private-network --bind="$scratch/result:/proof")
"${nspawn[@]}" /bin/bash -c "apt-get install -y -q --no-install-recommends /opt/valved-test/valved_*.deb \
  >/proof/apt.log 2>&1" || { echo "apt-get install in the container failed"; cat "$scratch/result/apt.log"; exit 3; }
cat >"$root/etc/systemd/system/valved-test.service" <<UNIT
[Unit]
After=valved.service
[Service]
Type=oneshot
ExecStart=/opt/valved-test/proof.sh
[Install]
WantedBy=multi-user.target
UNIT
ln -s /etc/systemd/system/valved-test.service "$root/etc/systemd/system/multi-user.target.wants/"
timeout 300 "${nspawn[@]}" --boot >"$scratch/boot.log" 2>&1
' _ "$scratch"
code=$?
set -e
[ "$code" -eq 3 ] && fail "installing the package in the container"
if [ ! -s "$scratch/result/log" ]; then
  echo "test-unit-nspawn: SKIPPED: systemd did not boot in systemd-nspawn here:" >&2
  tail -n 15 "$scratch/boot.log" | sed 's/\x1b\[[0-9;]*m//g' >&2
  exit 0
fi
cat "$scratch/result/log"
grep -q "^done$" "$scratch/result/log" || fail "the checks did not finish (boot log: $(tail -n 5 "$scratch/boot.log"))"
if grep -q "^FAILED" "$scratch/result/log"; then
  cat "$scratch/result/journal" 2>/dev/null
  fail "the unit under systemd"
fi
