#!/usr/bin/env bash
# Valve's published demo, measured: N concurrent `GET /sleep?zzz=S` against
# valved -n N, once with a warm pool (--n-min N) and once from a cold start
# (--n-min 1), for several max_spawning values. Loopback only; every wait is
# bounded. Prints a table.
#
#   bench/demo.sh                 # N=10, S=2, max_spawning 1 2 3 4 10
#   N=10 S=2 SPAWNS="2 4" IDLE=5 PORT=3950 bench/demo.sh
#   SPAWN_METHOD=fresh bench/demo.sh   # children started fresh instead of forked
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-10}
S=${S:-2}
SPAWNS=${SPAWNS:-"1 2 3 4 10"}
IDLE=${IDLE:-5}  # seconds a warm pool is left idle before its "after idle" burst
PORT=${PORT:-3950}
VALVED=${VALVED:-build/valved}
# As root, valved refuses to run R as root unless told to (see valve.yaml(5): user).
root_flags=()
[ "$(id -u)" -eq 0 ] && root_flags=(--allow-root)
API=${API:-examples/plumber.R}
SPAWN_METHOD=${SPAWN_METHOD:-fork}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now() { date +%s.%N; }

# Starts valved in its own process group; sets $pid and $log.
start_valved() {
  log="$work/valved.$RANDOM.log"
  setsid "$VALVED" -f "$API" -n "$N" -w 2 -p "$PORT" --runtime-dir "$work" --spawn-method "$SPAWN_METHOD" "${root_flags[@]}" "$@" >"$log" 2>&1 &
  pid=$!
}

stop_valved() {
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

. "$(dirname "$0")/wait_ready.sh"

# Fires N concurrent requests from one curl process (--parallel), so the
# client's own start-up is not measured; prints "wall_seconds ok_count".
fire() {
  local args=() t0 t1
  for _ in $(seq 1 "$N"); do args+=(-o /dev/null "http://127.0.0.1:$PORT/sleep?zzz=$S"); done
  t0=$(now)
  curl -s -m 60 --parallel --parallel-immediate --parallel-max "$N" -w '%{http_code}\n' \
    "${args[@]}" >"$work/statuses" 2>/dev/null || true
  t1=$(now)
  echo "$(echo "$t1 - $t0" | bc -l | xargs printf '%.2f') $(grep -c '^200$' "$work/statuses")"
}

printf '| pool | max_spawning | %s x sleep %ss: wall time (s) | 200s |\n|---|---|---|---|\n' "$N" "$S"
# Warm: N children started. The first burst also pays each child's first
# request in R (lazy loading inside plumber, ~35 ms of CPU per child); the
# second burst is the steady state.
start_valved --n-min "$N" --max-spawning 2
wait_ready "$N"
for burst in first second third; do
  read -r wall ok < <(fire)
  printf '| warm (n_min %s), %s burst | 2 | %s | %s/%s |\n' "$N" "$burst" "$wall" "$ok" "$N"
done
stop_valved
# The same pool, its first burst after IDLE seconds with no traffic: what a
# pool started ahead of its traffic sees. A forked child whose spare's
# warm-up was cut short by its spawn (all of them, in a pool started at
# once) finishes it while idle, from 1 s after it is ready (r/template.R,
# finish_warm_up()); the first burst above comes before that.
start_valved --n-min "$N" --max-spawning 2
wait_ready "$N"
sleep "$IDLE"
read -r wall ok < <(fire)
printf '| warm (n_min %s), first burst after %s s idle | 2 | %s | %s/%s |\n' "$N" "$IDLE" "$wall" "$ok" "$N"
stop_valved
# The same with `warmup: true`: each child has run plumber's code twice
# before it reports ready.
start_valved --n-min "$N" --max-spawning 2 --warmup
wait_ready "$N"
read -r wall ok < <(fire)
printf '| warm (n_min %s), warmup on, first burst | 2 | %s | %s/%s |\n' "$N" "$wall" "$ok" "$N"
stop_valved
for spawn in $SPAWNS; do
  start_valved --n-min 1 --max-spawning "$spawn"
  wait_ready 1
  read -r wall ok < <(fire)
  printf '| cold (n_min 1) | %s | %s | %s/%s |\n' "$spawn" "$wall" "$ok" "$N"
  stop_valved
done
