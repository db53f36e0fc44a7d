#!/usr/bin/env bash
# Spawning measured, for spawn_method fork and fresh: spawn-to-ready of each
# child (from valved's "ready in" log lines), of N started at once and of
# REPLACE replacements one at a time (a child killed every second), the R CPU and the minor page
# faults of a child's 1st, 2nd and 100th request (/proc/PID/schedstat and
# /proc/PID/stat, read around single requests sent straight to the child's
# Unix socket), and memory with an API that loads a 200 MB model
# (bench/model_api.R): PSS, private memory (USS) and RSS of each child from
# /proc/PID/smaps_rollup, at start and after every child served 1,000
# requests. Loopback and Unix sockets only; every wait is bounded.
#
# Issue 9's two memory ratios, at start and after 100 and REQUESTS requests:
#   one child alone: the RSS of a child that shares nothing with another
#     child of the API: the only child of a valved started with
#     spawn_method fresh and -n 1, measured after as many requests as the
#     pool's children (what one child costs without forking);
#   (a) each child's PSS in the pool of N, as a share of one child alone
#     (mean and largest; forked children are all alike, so every child of
#     the pool counts as an "extra" one); target <= 20 %;
#   (b) the whole pool's memory, the PSS of its N children plus the
#     template, its intermediate processes and spares, divided by one
#     child alone; target <= 2.
# PSS divides each shared page among the processes that map it, so the
# pool's sum counts the template's shared pages (the model) once.
#
#   bench/spawn.sh                       # N=8 children, both methods
#   N=4 METHODS=fork REQUESTS=200 bench/spawn.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-8}
METHODS=${METHODS:-"fork fresh"}
REQUESTS=${REQUESTS:-1000}
REPLACE=${REPLACE:-5}
PORT=${PORT:-3960}
VALVED=${VALVED:-build/valved}
API=${API:-bench/model_api.R}
root_flags=()
[ "$(id -u)" -eq 0 ] && root_flags=(--allow-root)
work=$(mktemp -d)
pid=
trap 'stop_valved; rm -rf "$work"' EXIT

start_valved() {  # $1 spawn method, $2 number of children
  log="$work/valved.$1.$2.log"
  setsid "$VALVED" -f "$API" -n "$2" --n-min "$2" -w 1 -p "$PORT" --runtime-dir "$work" \
    --spawn-method "$1" --max-age 1h "${root_flags[@]}" >"$log" 2>&1 &
  pid=$!
}

stop_valved() {
  [ -n "$pid" ] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL -- "-$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
}

. "$(dirname "$0")/wait_ready.sh"

# "pid socket" of each ready child, from the log and the runtime directory.
children() {
  sed -n 's/.*child#\([0-9]*\) pid=\([0-9]*\): Spawning -> Ready.*/\1 \2/p' "$log" |
    while read -r id cpid; do echo "$cpid $(ls "$work"/valved.*/child-"$id".sock)"; done
}

cpu_ns() { cut -d' ' -f1 "/proc/$1/schedstat"; }
# Minor page faults of process $1 so far (/proc/PID/stat field 10): in a
# forked child, mostly pages shared with the template that it writes into.
minflt() { sed 's/^.*) //' "/proc/$1/stat" | cut -d' ' -f8; }
get() { curl -s -m 30 --unix-socket "$1" -o /dev/null "http://x/predict?x=$2"; }
# "R CPU (ms) and minor page faults" of one request to child $1 on socket $2.
request_cost() {
  local before after faults
  faults=$(minflt "$1"); before=$(cpu_ns "$1"); get "$2" 3; after=$(cpu_ns "$1")
  echo "$(echo "scale=2; ($after - $before) / 1000000" | bc) $(($(minflt "$1") - faults))"
}
kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/smaps_rollup"; }
uss() { echo $(( $(kb "$1" Private_Clean) + $(kb "$1" Private_Dirty) )); }
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

# The template, its intermediate processes and their spares (r/template.R).
template_family() {
  [ -n "$1" ] && [ -e "/proc/$1" ] || return 0
  echo "$1"
  for middle in $(pgrep -P "$1"); do echo "$middle"; pgrep -P "$middle"; done
}

# Spawn-to-ready of $REPLACE replacements, one at a time (each child killed
# once the template's spares have been replaced), as recycling and crashes
# spawn, unlike the N at once of the start.
replacements() {
  local i victim before
  [ "$REPLACE" -gt 0 ] || return 0
  for i in $(seq 1 "$REPLACE"); do
    sleep 1
    victim=$(sed -n 's/.*child#[0-9]* pid=\([0-9]*\): Spawning -> Ready.*/\1/p' "$log" | tail -1)
    before=$(grep -c 'Spawning -> Ready' "$log")
    kill -KILL "$victim"
    wait_ready $((before + 1)) 60
  done
  grep -o 'ready in [0-9.]*s' "$log" | tail -"$REPLACE" | tr -dc '0-9.\n' | sort -n
}

# RSS (KiB) of one child alone (see the header) at start, after 100 and
# after $REQUESTS requests, into alone_rss[0], [1], [2].
alone_rss=()
measure_alone() {
  local cpid sock i
  start_valved fresh 1
  wait_ready 1 180
  read -r cpid sock < <(children)
  alone_rss[0]=$(kb "$cpid" Rss)
  for i in $(seq 1 100); do get "$sock" "$i"; done
  alone_rss[1]=$(kb "$cpid" Rss)
  for i in $(seq 101 "$REQUESTS"); do get "$sock" "$i"; done
  alone_rss[2]=$(kb "$cpid" Rss)
  stop_valved
}

# A memory row and a ratio row: $1 label, $2 index into alone_rss; children
# on stdin.
memory_row() {
  local pss=0 rss=0 uss_sum=0 max_pss=0 p r u tpid tpss t alone
  while read -r cpid _; do
    p=$(kb "$cpid" Pss); r=$(kb "$cpid" Rss); u=$(uss "$cpid")
    [ "$p" -gt "$max_pss" ] && max_pss=$p
    pss=$((pss + p)); rss=$((rss + r)); uss_sum=$((uss_sum + u))
  done
  tpid=$(grep -o 'template#[0-9]* pid=[0-9]*: Starting -> Ready' "$log" | tail -1 | sed 's/.*pid=\([0-9]*\).*/\1/')
  tpss=0
  for t in $(template_family "$tpid"); do tpss=$((tpss + $(kb "$t" Pss))); done
  printf '| %s | %s | %d | %d | %d | %d |\n' "$method" "$1" $((pss / N / 1024)) $((uss_sum / N / 1024)) \
    $(((pss + tpss) / 1024)) $((rss / 1024)) >>"$work/mem_rows"
  alone=${alone_rss[$2]}
  printf '| %s | %s | %d | %.1f %% | %.1f %% | %.2f |\n' "$method" "$1" $((alone / 1024)) \
    "$(echo "scale=3; 100 * $pss / $N / $alone" | bc)" "$(echo "scale=3; 100 * $max_pss / $alone" | bc)" \
    "$(echo "scale=3; ($pss + $tpss) / $alone" | bc)" >>"$work/ratio_rows"
}

mem_table=$'| method | when | PSS per child (MiB) | private per child (MiB) | PSS of the pool + template and its spares (MiB) | sum of RSS (MiB) |\n|---|---|---|---|---|---|\n'
ratio_table=$'| method | when | one child alone: RSS (MiB) | (a) child PSS / alone, mean | (a) largest | (b) pool PSS / alone |\n|---|---|---|---|---|---|\n'
spawn_table=$'| method | children | spawn-to-ready median, N at once (s) | min | max | one at a time (s, median of REPLACE) | min | max | 1st request CPU (ms, median) | 2nd | 100th | page faults: 1st | 2nd | 100th |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n'
: >"$work/mem_rows"; : >"$work/ratio_rows"
measure_alone
for method in $METHODS; do
  start_valved "$method" "$N"
  wait_ready "$N" 180
  readies=$(grep -o 'ready in [0-9.]*s' "$log" | tr -dc '0-9.\n' | sort -n)
  children >"$work/children"
  memory_row "at start" 0 <"$work/children"
  : >"$work/costs.1"; : >"$work/costs.2"; : >"$work/costs.100"
  while read -r cpid sock; do
    request_cost "$cpid" "$sock" >>"$work/costs.1"
    request_cost "$cpid" "$sock" >>"$work/costs.2"
    for i in $(seq 3 99); do get "$sock" "$i"; done
    request_cost "$cpid" "$sock" >>"$work/costs.100"
  done <"$work/children"
  col() { cut -d' ' -f"$1" "$work/costs.$2" | median; }
  costs="$(col 1 1) | $(col 1 2) | $(col 1 100) | $(col 2 1) | $(col 2 2) | $(col 2 100)"
  memory_row "after 100 requests each" 1 <"$work/children"
  while read -r cpid sock; do
    for i in $(seq 101 "$REQUESTS"); do get "$sock" "$i"; done
  done <"$work/children"
  memory_row "after $REQUESTS requests each" 2 <"$work/children"
  singles=$(replacements)
  spawn_table+="| $method | $N | $(echo "$readies" | median) | $(echo "$readies" | head -1) | $(echo "$readies" | tail -1) | $(echo "$singles" | median) | $(echo "$singles" | head -1) | $(echo "$singles" | tail -1) | $costs |"$'\n'
  stop_valved
done
printf '%s\n%s%s\n\n%s%s' "$spawn_table" "$mem_table" "$(cat "$work/mem_rows")" "$ratio_table" \
  "$(cat "$work/ratio_rows")"
echo
uptime
