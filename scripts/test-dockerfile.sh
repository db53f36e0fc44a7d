#!/usr/bin/env bash
# The container image's last stage without a container engine (part of
# scripts/test-package.sh; needs root and systemd-nspawn): in a systemd-nspawn
# container of this machine's own root file system (Debian 12), under a
# throw-away overlay, runs the Dockerfile's final-stage RUN commands as a
# script in its WORKDIR holding what its COPY lines put there; then checks the
# result, starts valved as the ENTRYPOINT with the image's USER and WORKDIR
# and the example API at /srv/valved, and runs the HEALTHCHECK command until
# it passes. Nothing on the machine itself changes.
# Usage: test-dockerfile.sh VALVED_DEB
set -euo pipefail
cd "$(dirname "$0")/.."
deb="$(realpath "$1")"
fail() { echo "test-dockerfile: FAIL: $*" >&2; exit 1; }

# The Dockerfile, read as the engine would for these instructions.
final_stage="$(awk '/^FROM /{stage=""} {stage=stage $0 "\n"} END{printf "%s", stage}' Dockerfile)"
run_script="$(printf '%s' "$final_stage" | awk '
  /^RUN /{sub(/^RUN /, ""); cmd=1}
  cmd {print; if ($0 !~ /\\$/) {cmd=0; print ""}}')"
workdir="$(printf '%s' "$final_stage" | sed -n 's/^WORKDIR //p' | head -n 1)"
api_dir="$(printf '%s' "$final_stage" | sed -n 's/^WORKDIR //p' | tail -n 1)"
user="$(printf '%s' "$final_stage" | sed -n 's/^USER //p')"
entry="$(printf '%s' "$final_stage" | sed -n 's/^ENTRYPOINT \[\(.*\)\]$/\1/p' | tr -d '",')"
health="$(printf '%s' "$final_stage" | sed -n 's/^  CMD \(.*\)$/\1/p')"
for v in run_script workdir api_dir user entry health; do
  [ -n "${!v}" ] || fail "cannot read $v from the Dockerfile's last stage"
done

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir "$scratch/context" "$scratch/result"
cp "$deb" deploy/kubernetes/valve.yaml "$scratch/context/"  # the COPY lines
cp examples/plumber.R "$scratch/"
printf '%s\n' "$run_script" >"$scratch/run.sh"
port=$((20000 + RANDOM % 20000))
status_port=$((port + 1))
cat >"$scratch/check.sh" <<CHECK
#!/bin/bash
# In the container: the build's RUN commands, then the image at work.
set -uo pipefail
exec >/scratch/result/log 2>&1
fail() { echo "FAILED: \$*"; exit 1; }
mkdir -p "$workdir" && cp /scratch/context/* "$workdir"/ && cd "$workdir" ||
  fail "cannot prepare WORKDIR $workdir"
DEBIAN_FRONTEND=noninteractive bash -euo pipefail /scratch/run.sh >/scratch/result/run.log 2>&1 ||
  fail "the RUN commands failed (run.log)"
echo "ok: the RUN commands ran"
cmp -s /scratch/context/valve.yaml /etc/valve.yaml || fail "/etc/valve.yaml is not deploy/kubernetes/valve.yaml"
[ "\$(id -u valve):\$(id -g valve)" = "$user" ] || fail "valve is not $user"
if ! /usr/sbin/valved --help | grep -q -- --status-listen; then
  echo "SKIPPED: ENTRYPOINT and HEALTHCHECK: this valved has no status listener (issue 10) yet"
  echo done
  exit 0
fi
cp /scratch/plumber.R "$api_dir"/
cd "$api_dir"
# The image's ports are 3000 and 3001; this container shares the machine's
# network, so free ones are used instead.
setpriv --reuid="${user%%:*}" --regid="${user##*:}" --clear-groups -- $entry \
  -p $port --status-listen 127.0.0.1:$status_port >/scratch/result/valved.log 2>&1 &
pid=\$!
health="\$(printf '%s' '$health' | sed 's/:3001\//:$status_port\//')"
for _ in \$(seq 120); do
  bash -c "\$health" && break
  kill -0 \$pid 2>/dev/null || fail "valved exited (valved.log)"
  sleep 0.5
done
bash -c "\$health" || fail "the HEALTHCHECK never passed"
echo "ok: the HEALTHCHECK passes"
curl -fsS --max-time 5 "http://127.0.0.1:$port/echo?msg=contained" | grep -q contained ||
  fail "no answer from the API"
echo "ok: the API answers as $user in $api_dir"
kill -TERM \$pid
wait \$pid || fail "valved exited with \$? on SIGTERM (the STOPSIGNAL)"
echo "ok: SIGTERM stops it with 0"
echo done
CHECK
chmod +x "$scratch/check.sh"

./scripts/machine-overlay.sh "$scratch" /bin/bash -c '
$NSPAWN --bind="$1:/scratch" /scratch/check.sh >"$1/result/check.log" 2>&1 || true
' _ "$scratch"
cat "$scratch/result/log" 2>/dev/null || tail -n 20 "$scratch/result/check.log"
if ! grep -q "^done$" "$scratch/result/log" 2>/dev/null; then
  for log in run.log valved.log; do
    [ -s "$scratch/result/$log" ] && { echo "---- $log"; tail -n 30 "$scratch/result/$log"; }
  done
  fail "the image's commands"
fi
