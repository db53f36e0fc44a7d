#!/usr/bin/env bash
# Soak test (not run in CI): serves examples/plumber.R under a steady client
# load for DURATION seconds (default 1800) and prints, every INTERVAL seconds
# (default 60), the RSS and open-fd count of the master and of each worker,
# plus the R children's count. They should stay flat. Loopback only; the
# load is bounded by time and each batch by count.
#
#   bench/soak.sh                      # 30 minutes
#   DURATION=120 INTERVAL=20 bench/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-1800}
INTERVAL=${INTERVAL:-60}
PORT=${PORT:-3960}
VALVED=${VALVED:-build/valved}
# As root, valved refuses to run R as root unless told to (see valve.yaml(5): user).
root_flags=()
[ "$(id -u)" -eq 0 ] && root_flags=(--allow-root)
work=$(mktemp -d)
log="$work/valved.log"
setsid "$VALVED" -f examples/plumber.R -n 4 --n-min 2 -w 2 -p "$PORT" --max-age 20 \
  --check-unused 5 --runtime-dir "$work" "${root_flags[@]}" >"$log" 2>&1 &
pid=$!
cleanup() {
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
for _ in $(seq 1 600); do grep -q "serving" "$log" && break; sleep 0.1; done

children_of() { ps -o pid= --ppid "$1" | tr -d ' '; }
rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo -; }
fds() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
report() {
  local line workers=0 rs=0
  line="$(date +%T) master rss=$(rss_kb "$pid")kB fds=$(fds "$pid")"
  for c in $(children_of "$pid"); do
    if grep -q "worker" "/proc/$c/cmdline" 2>/dev/null; then
      workers=$((workers + 1))
      line="$line | worker $c rss=$(rss_kb "$c")kB fds=$(fds "$c")"
    else
      rs=$((rs + 1))
    fi
  done
  echo "$line | R children=$rs"
}

# Load: batches of 20 parallel requests (mixed endpoints) until the deadline.
end=$(($(date +%s) + DURATION))
(
  while [ "$(date +%s)" -lt "$end" ]; do
    args=()
    for i in $(seq 1 20); do
      case $((i % 4)) in
        0) args+=(-o /dev/null "http://127.0.0.1:$PORT/echo?msg=$i") ;;
        1) args+=(-o /dev/null "http://127.0.0.1:$PORT/sleep?zzz=0.05") ;;
        2) args+=(-o /dev/null "http://127.0.0.1:$PORT/plot") ;;
        3) args+=(-o /dev/null "http://127.0.0.1:$PORT/") ;;
      esac
    done
    curl -s -m 30 --parallel --parallel-max 8 "${args[@]}" >/dev/null 2>&1 || true
    # Some idle gaps let idle children age out and be respawned.
    [ $((RANDOM % 10)) -eq 0 ] && sleep 25
  done
) &
load=$!
report
while [ "$(date +%s)" -lt "$end" ]; do
  sleep "$INTERVAL"
  report
done
wait "$load" || true
grep -c "\[error\]" "$log" | xargs echo "error lines in the log:"
