#!/usr/bin/env bash
# Issue 12's async scenario: an API whose /sleep returns a future_promise()
# (tests/fixtures/async.R, two future::multisession workers). Two 2-second
# async requests and, 0.2 s later, one fast request, sent at once, against
# plain plumber (pr_run) and through valved with one R child, first with
# max_concurrency_per_child 1, then 4; each warmed alike (one /sleep?s=0, one
# /now) before it is measured. Prints each request's time (curl's
# time_total) and the wall time of the three.
#
# Usage: bench/async.sh [path/to/valved]   (default build/valved)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
valved=${1:-$root/build/valved}
api=$root/tests/fixtures/async.R
work=$(mktemp -d)
log=$work/valved.log
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -- "-$pid" 2>/dev/null || kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
source "$root/bench/wait_ready.sh"
root_flag=()
[ "$(id -u)" = 0 ] && root_flag=(--allow-root)

# wait_answers PORT: until GET /now answers (bounded: 120 s).
wait_answers() {
  for _ in $(seq 1 1200); do
    curl -fs "http://127.0.0.1:$1/now" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "nothing answers on port $1" >&2; return 1
}

# scenario NAME PORT
scenario() {
  local start end
  start=$(date +%s.%N)
  curl -s -o /dev/null -w "  slow 1: %{time_total} s\n" "http://127.0.0.1:$2/sleep?s=2" > "$work/a" &
  local a=$!
  curl -s -o /dev/null -w "  slow 2: %{time_total} s\n" "http://127.0.0.1:$2/sleep?s=2" > "$work/b" &
  local b=$!
  sleep 0.2
  curl -s -o /dev/null -w "  fast:   %{time_total} s\n" "http://127.0.0.1:$2/now" > "$work/c" &
  local c=$!
  wait "$a" "$b" "$c"
  end=$(date +%s.%N)
  echo "$1:"
  cat "$work/a" "$work/b" "$work/c"
  echo "  all three: $(echo "$end - $start" | bc) s"
}

port=$(( 20000 + RANDOM % 20000 ))
setsid Rscript -e "library(plumber); pr_run(plumb('$api'), host = '127.0.0.1', port = $port)" \
  > "$work/direct.log" 2>&1 &
pids+=($!)
wait_answers "$port"
curl -s "http://127.0.0.1:$port/sleep?s=0" > /dev/null  # the future workers' first use
scenario "plain plumber (pr_run)" "$port"
kill -- "-${pids[0]}"

for concurrency in 1 4; do
  port=$(( 20000 + RANDOM % 20000 ))
  : > "$log"
  setsid "$valved" -f "$api" -p "$port" -n 1 -w 1 --spawn-method fresh "${root_flag[@]}" \
    --max-concurrency-per-child "$concurrency" > "$log" 2>&1 &
  pids+=($!)
  wait_ready 1
  curl -s "http://127.0.0.1:$port/sleep?s=0" > /dev/null
  curl -s "http://127.0.0.1:$port/now" > /dev/null
  scenario "valved -n 1, max_concurrency_per_child $concurrency" "$port"
  kill -TERM "${pids[-1]}"
  wait "${pids[-1]}" || true
done
