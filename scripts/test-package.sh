#!/usr/bin/env bash
# The Debian package, end to end (part of scripts/test.sh; needs root): builds
# valved_*.deb (scripts/build-deb.sh), checks it with lintian, installs it with
# apt-get, checks the installed unit with systemd-analyze and the installed
# configuration with "valved -t", serves the example API from /srv/valved
# (where /etc/valve.yaml points) with the unit's ExecStart line, run as the
# unit would run it (scripts/run-like-unit.sh: systemd is not PID 1 here),
# reloads it with the unit's ExecReload line, stops it, purges the package and
# checks that nothing it created is left. Before that, in systemd-nspawn
# containers of this machine's root file system: the unit under systemd as
# PID 1 (scripts/test-unit-nspawn.sh) and the Dockerfile's last stage
# (scripts/test-dockerfile.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD"
out="${VALVED_DEB_DIR:-$root/build-deb}"
fail() { echo "test-package: FAIL: $*" >&2; exit 1; }
step() { echo "test-package: $*"; }
[ "$(id -u)" -eq 0 ] || fail "needs root (apt-get install, a system user)"

start=$SECONDS
if [ -n "${VALVED_DEB:-}" ]; then
  deb="$(realpath "$VALVED_DEB")"  # a package built already (iterating on this script)
else
  rm -f "$out"/valved_*.deb
  ./scripts/build-deb.sh "$out" >/dev/null
  deb="$(ls "$out"/valved_*_*.deb)"
  step "built $(basename "$deb") in $((SECONDS - start)) s"
fi

if command -v lintian >/dev/null; then
  lintian --fail-on error,warning "$deb" || fail "lintian reports errors or warnings"
  step "lintian: no error or warning"
fi

# The unit under systemd as PID 1, in a container booted from this machine's
# root file system (nothing is installed on the machine itself).
# The container image's last stage, likewise in a container of this machine.
if command -v systemd-nspawn >/dev/null; then
  ./scripts/test-unit-nspawn.sh "$deb" | sed 's/^/test-unit-nspawn: /'
  ./scripts/test-dockerfile.sh "$deb" | sed 's/^/test-dockerfile: /'
  step "under systemd and as the image: $((SECONDS - start)) s so far"
fi

# One package test at a time on a machine: it installs system-wide.
exec 9>/tmp/valved-package-test.lock
flock -w 600 9 || fail "another package test holds /tmp/valved-package-test.lock"
dpkg-query -W -f='${Status}' valved 2>/dev/null | grep -q "ok installed" &&
  fail "valved is installed already: this test installs and purges it"
getent passwd valve >/dev/null && fail "a user valve exists already"
[ -e /srv/valved ] && fail "/srv/valved exists already"

work="$(mktemp -d)"
pid=""
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
  rm -rf "$work" /srv/valved
}
trap cleanup EXIT
# The API where the conffile looks for it, before installing: the postinst
# then enables the unit.
install -d -m 0755 /srv/valved
install -m 0644 examples/plumber.R /srv/valved/plumber.R

export DEBIAN_FRONTEND=noninteractive
apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=300 "$deb" >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log"; fail "apt-get install"; }
shipped=(/usr/sbin/valved /usr/share/valved/launcher.R /usr/share/valved/template.R /etc/valve.yaml /etc/logrotate.d/valved
  /lib/systemd/system/valved.service /usr/share/man/man8/valved.8.gz
  /usr/share/man/man5/valve.yaml.5.gz)
for f in "${shipped[@]}"; do [ -f "$f" ] || fail "$f is not installed"; done
grep -qx /etc/valve.yaml /var/lib/dpkg/info/valved.conffiles || fail "/etc/valve.yaml is not a conffile"
getent passwd valve >/dev/null || fail "no user valve"
[ "$(stat -c %U /var/lib/valved)" = valve ] || fail "/var/lib/valved is not valve's"
[ -L /etc/systemd/system/multi-user.target.wants/valved.service ] ||
  fail "the postinst did not enable the unit although an API is in place"
step "installed: files, conffile, user valve, unit enabled"

unit=/lib/systemd/system/valved.service
if command -v systemd-analyze >/dev/null; then
  verify="$(systemd-analyze verify "$unit" 2>&1 || true)"
  [ -z "$verify" ] || fail "systemd-analyze verify $unit: $verify"
  exposure="$(systemd-analyze security --offline=true "$unit" 2>/dev/null | sed -n 's/.*Overall exposure level for valved.service: \([0-9.]*\).*/\1/p')"
  [ -n "$exposure" ] && awk -v e="$exposure" 'BEGIN { exit !(e < 5.0) }' ||
    fail "systemd-analyze security: exposure ${exposure:-unknown}, not below 5.0"
  step "systemd-analyze: verify clean, exposure $exposure"
fi

# The unit's lines, as the unit's user; a free port instead of 3000.
exec_line() { sed -n "s/^$1=//p" "$unit"; }
port=$((20000 + RANDOM % 20000))
install -d -o valve -g valve -m 0750 /run/valved  # RuntimeDirectory=valved
read -ra check <<<"$(exec_line ExecStartPre)"
read -ra serve <<<"$(exec_line ExecStart)"
read -ra reload <<<"$(exec_line ExecReload)"
setpriv --reuid=valve --regid=valve --init-groups -- "${check[@]}" -p "$port" ||
  fail "the installed valved -t refuses the installed configuration"
status="" status_flags=()
if /usr/sbin/valved --help | grep -q -- --status-listen; then  # issue 10
  status="127.0.0.1:$((port + 1))" status_flags=(--status-listen "$status")
fi
./scripts/run-like-unit.sh valve "${serve[@]}" -p "$port" "${status_flags[@]}" -n 2 -w 1 \
  >"$work/valved.log" 2>&1 &
pid=$!
url="http://127.0.0.1:$port"
answer=""
for _ in $(seq 120); do
  answer="$(curl -fsS --max-time 5 "$url/echo?msg=packaged" 2>/dev/null)" && break
  kill -0 "$pid" 2>/dev/null || { cat "$work/valved.log"; fail "valved exited"; }
  sleep 0.5
done
[[ "$answer" == *packaged* ]] || { cat "$work/valved.log"; fail "no answer from $url/echo: $answer"; }
if [ -n "$status" ]; then
  curl -fsS --max-time 5 "http://$status/readyz" >/dev/null || fail "/readyz is not 200 while serving"
fi
[ "$(ps -o user= -p "$(cat /run/valved/valved.pid)")" = valve ] || fail "the master is not running as valve"
step "the installed valved serves the API${status:+ and /readyz} as valve, sandboxed like the unit"

setpriv --reuid=valve --regid=valve --init-groups -- "${reload[@]}" || fail "ExecReload failed"
for _ in $(seq 120); do
  grep -q "reload: new children are serving" "$work/valved.log" && break
  sleep 0.5
done
grep -q "reload: new children are serving" "$work/valved.log" ||
  { cat "$work/valved.log"; fail "the reload did not complete in 60 s"; }
curl -fsS --max-time 5 "$url/echo?msg=again" | grep -q again || fail "no answer after reload"
kill -TERM "$pid"
code=0
wait "$pid" || code=$?
pid=""
[ "$code" -eq 0 ] || { cat "$work/valved.log"; fail "valved exited with $code on TERM"; }
[ ! -e /run/valved/valved.pid ] || fail "the pid file is left after a clean stop"
step "reloaded with ExecReload, stopped with TERM (exit 0)"

apt-get purge -y -q -o DPkg::Lock::Timeout=300 valved >"$work/apt.log" 2>&1 ||
  { cat "$work/apt.log"; fail "apt-get purge"; }
left=()
for f in "${shipped[@]}" /var/lib/valved /var/log/valved /run/valved /usr/share/valved \
  /etc/systemd/system/multi-user.target.wants/valved.service; do
  [ -e "$f" ] || [ -L "$f" ] && left+=("$f")
done
[ ${#left[@]} -eq 0 ] || fail "left after purge: ${left[*]}"
getent passwd valve >/dev/null && fail "user valve is left after purge"
getent group valve >/dev/null && fail "group valve is left after purge"
step "purged: no files, user, group or runtime directory left ($((SECONDS - start)) s in all)"
