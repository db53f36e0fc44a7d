#!/usr/bin/env bash
# valved side by side with its peers, on one plumber API (bench/api.R):
#   plumber  one plumber process alone (TCP)
#   haproxy  HAProxy, one thread, balance leastconn, `server ... maxconn 1` on Unix sockets
#   nginx    nginx, one worker, least_conn, Unix sockets, keepalive 64
#   valved   valved, one worker (-w 1), n_min = n_max = N
# Every proxy gets the same N R processes (r/launcher.R serves the API on a
# Unix socket, as valved's children do). Each measurement is a bounded wrk
# run; peers are interleaved within each repetition, so the ratios of one run
# compare like with like. CPU per request is read from /proc (utime+stime of
# every process of the peer: R processes, and the proxy's own).
#
#   bench/compare.sh                    # the full run (~10 min), tables in bench/results/
#   SMOKE=1 bench/compare.sh            # ~20 s: two scenarios, 1 s each (scripts/test.sh)
#   DURATION=10 REPEAT=3 PEERS="haproxy valved" bench/compare.sh
#   WARM_SECONDS=1 bench/compare.sh     # warm-up of /echo per R process (default 5 s; see warm_up)
#
# Loopback only. Installs haproxy, nginx-light, wrk and gnuplot from Debian
# when missing (scripts/install-deps.sh bench); bench/plot.sh draws the full
# run's PNG beside its tables.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
SMOKE=${SMOKE:-0}
if [ "$SMOKE" = 1 ]; then
  DURATION=${DURATION:-1}
  REPEAT=${REPEAT:-1}
else
  DURATION=${DURATION:-5}
  REPEAT=${REPEAT:-2}
fi
PEERS=${PEERS:-"plumber haproxy nginx valved"}
WORKERS=${WORKERS:-1}
PORT=${PORT:-3970}  # PORT .. PORT+3
OUT=${OUT:-bench/results}
VALVED=${VALVED:-build/valved}
API=$root/bench/api.R
LAUNCHER=$root/r/launcher.R

./scripts/install-deps.sh bench
[ -x "$VALVED" ] || ./scripts/build.sh
VALVED=$(realpath "$VALVED")
mkdir -p "$OUT"
work=$(mktemp -d /tmp/valved-bench.XXXXXX)
chmod 755 "$work"
roots=()  # process group leaders started here
cleanup() {
  for pg in "${roots[@]}"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
  sleep 0.5
  for pg in "${roots[@]}"; do kill -KILL -- "-$pg" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
tck=$(getconf CLK_TCK)
as_root=0
[ "$(id -u)" -eq 0 ] && as_root=1

log() { echo "compare: $*" >&2; }

# --- processes -------------------------------------------------------------

# Starts "$@" in its own process group (so that stopping it reaches every
# process it started); output to $work/$name.out; sets $last_pid.
start() {
  local name=$1
  shift
  setsid "$@" >"$work/$name.out" 2>&1 &
  last_pid=$!
  roots+=("$last_pid")
}

stop_group() {
  local pg
  for pg in "$@"; do kill -TERM -- "-$pg" 2>/dev/null || true; done
  for _ in $(seq 1 50); do
    local alive=0
    for pg in "$@"; do kill -0 -- "-$pg" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && return 0
    sleep 0.1
  done
  for pg in "$@"; do kill -KILL -- "-$pg" 2>/dev/null || true; done
}

# Waits (at most 120 s) until grep -c "$2" over the files $3... reaches $1.
wait_lines() {
  local want=$1 pattern=$2
  shift 2
  for _ in $(seq 1 1200); do
    [ "$(cat "$@" 2>/dev/null | grep -c "$pattern" || true)" -ge "$want" ] && return 0
    sleep 0.1
  done
  log "timed out waiting for $want x '$pattern' in $*"
  tail -n 20 "$@" >&2 || true
  return 1
}

wait_http() {
  for _ in $(seq 1 600); do
    curl -s -o /dev/null -m 2 "http://127.0.0.1:$1/echo" && return 0
    sleep 0.1
  done
  log "nothing answers on port $1"
  return 1
}

# N R processes on Unix sockets $work/$1-<i>.sock, as valved's children are.
start_r_pool() {
  local name=$1 n=$2 i
  cd "$root/bench"  # the launcher runs in the API's directory
  for i in $(seq 1 "$n"); do
    start "$name-r$i" env VALVED_READY_TOKEN=bench Rscript "$LAUNCHER" "$work/$name-$i.sock" "$API" $$
    pids[$name]+=" $last_pid"
  done
  cd "$root"
}

declare -A pids  # peer -> process group leaders

start_plumber() {
  start plumber Rscript -e "plumber::plumb('$API')\$run(host = '127.0.0.1', port = $PORT, quiet = TRUE)"
  pids[plumber]=$last_pid
}

start_haproxy() {
  local n=$1 i cfg=$work/haproxy.cfg
  start_r_pool haproxy "$n"
  {
    printf 'global\n  nbthread 1\n  maxconn 4096\n'
    printf 'defaults\n  mode http\n  timeout connect 5s\n  timeout client 120s\n'
    printf '  timeout server 120s\n  timeout queue 120s\n'
    printf 'frontend fe\n  bind 127.0.0.1:%s\n  default_backend r\n' $((PORT + 1))
    printf 'backend r\n  balance leastconn\n'
    for i in $(seq 1 "$n"); do printf '  server r%s unix@%s maxconn 1\n' "$i" "$work/haproxy-$i.sock"; done
  } >"$cfg"
  start haproxy haproxy -db -f "$cfg"
  pids[haproxy]+=" $last_pid"
}

start_nginx() {
  local n=$1 i cfg=$work/nginx.conf
  start_r_pool nginx "$n"
  mkdir -p "$work/nginx"
  {
    [ $as_root = 1 ] && printf 'user root;\n'  # the R sockets are root's, mode 0700
    printf 'worker_processes 1;\ndaemon off;\npid %s/nginx.pid;\nerror_log %s/nginx.err warn;\n' "$work" "$work"
    printf 'events { worker_connections 4096; }\nhttp {\n  access_log off;\n'
    printf '  client_body_temp_path %s/nginx/body;\n  proxy_temp_path %s/nginx/proxy;\n' "$work" "$work"
    printf '  upstream r {\n    least_conn;\n'
    for i in $(seq 1 "$n"); do printf '    server unix:%s;\n' "$work/nginx-$i.sock"; done
    printf '    keepalive 64;\n  }\n'
    printf '  server {\n    listen 127.0.0.1:%s;\n    location / {\n' $((PORT + 2))
    printf '      proxy_pass http://r;\n      proxy_http_version 1.1;\n'
    printf '      proxy_set_header Connection "";\n      proxy_read_timeout 120s;\n    }\n  }\n}\n'
  } >"$cfg"
  start nginx nginx -p "$work/nginx" -e "$work/nginx.err" -c "$cfg"
  pids[nginx]+=" $last_pid"
}

start_valved() {
  local n=$1 flags=()
  [ $as_root = 1 ] && flags+=(--allow-root)
  mkdir -p "$work/valved-run"
  start valved "$VALVED" -f "$API" -n "$n" --n-min "$n" -w "$WORKERS" -p $((PORT + 3)) \
    --runtime-dir "$work/valved-run" "${flags[@]}"
  pids[valved]=$last_pid
}

peer_port() {
  case $1 in
    plumber) echo "$PORT" ;;
    haproxy) echo $((PORT + 1)) ;;
    nginx) echo $((PORT + 2)) ;;
    valved) echo $((PORT + 3)) ;;
  esac
}

# Starts every peer with N R processes and waits until every R process is
# ready (valved answers once its first child is).
start_peers() {
  local n=$1 peer
  pids=()
  for peer in $PEERS; do
    case $peer in
      plumber) start_plumber ;;
      haproxy) start_haproxy "$n" ;;
      nginx) start_nginx "$n" ;;
      valved) start_valved "$n" ;;
    esac
  done
  for peer in $PEERS; do
    case $peer in
      haproxy | nginx) wait_lines "$n" valved-ready "$work/$peer"-r*.out ;;
      valved) wait_lines "$n" 'Spawning -> Ready' "$work/valved.out" ;;
    esac
    wait_http "$(peer_port "$peer")"
  done
}

stop_peers() {
  local peer
  # shellcheck disable=SC2086
  for peer in $PEERS; do stop_group ${pids[$peer]}; done
  rm -f "$work"/*.sock
}

# --- CPU from /proc ----------------------------------------------------------

# Prints "R_ticks proxy_ticks" summed over the process trees under $@.
cpu_ticks() {
  local -A parent comm ticks
  local f line rest pid
  for f in /proc/[0-9]*/stat; do
    { read -r line <"$f"; } 2>/dev/null || continue
    pid=${f#/proc/}
    pid=${pid%/stat}
    rest=${line##*) }
    local name=${line#*(}
    comm[$pid]=${name%)*}
    # shellcheck disable=SC2086
    set -- $rest
    parent[$pid]=$2
    ticks[$pid]=$((${12} + ${13}))
  done
  local r=0 p=0 queue=("${tree_roots[@]}") seen=" "
  while [ ${#queue[@]} -gt 0 ]; do
    pid=${queue[0]}
    queue=("${queue[@]:1}")
    case $seen in *" $pid "*) continue ;; esac
    seen+="$pid "
    [ -n "${ticks[$pid]:-}" ] || continue
    if [ "${comm[$pid]}" = R ]; then r=$((r + ticks[$pid])); else p=$((p + ticks[$pid])); fi
    local child
    for child in "${!parent[@]}"; do [ "${parent[$child]}" = "$pid" ] && queue+=("$child"); done
  done
  echo "$r $p"
}

# --- load ----------------------------------------------------------------------

# Converts wrk's latency text (812.00us, 1.23ms, 2.00s) to milliseconds.
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n }'
}

# One bounded wrk run against a peer; appends a row to $results:
# group scenario peer rep req_per_s p50_ms p99_ms requests errors r_ms_per_req proxy_ms_per_req
measure() {
  local group=$1 scenario=$2 peer=$3 rep=$4 conns=$5 path=$6 script=${7:-}
  local port out args=()
  port=$(peer_port "$peer")
  out=$work/wrk.out
  [ -n "$script" ] && args+=(-s "$script")
  # shellcheck disable=SC2086
  tree_roots=(${pids[$peer]})
  read -r r0 p0 < <(cpu_ticks)
  timeout $((DURATION + 30)) wrk -t1 -c"$conns" -d"${DURATION}s" --timeout 30s --latency \
    "${args[@]}" "http://127.0.0.1:$port$path" >"$out" 2>&1 || true
  read -r r1 p1 < <(cpu_ticks)
  local rps requests errors p50 p99
  rps=$(awk '/^Requests\/sec:/ {print $2}' "$out")
  requests=$(awk '/requests in/ {print $1}' "$out")
  errors=$(awk '/Non-2xx/ {n += $NF} /Socket errors/ {gsub(/,/, ""); n += $4 + $6 + $8 + $10} END {print n + 0}' "$out")
  p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")
  if [ -z "$rps" ] || [ -z "$requests" ] || [ "$requests" = 0 ]; then
    log "$scenario $peer: wrk failed:"
    cat "$out" >&2
    rps=0 requests=0
  fi
  if [ "$SMOKE" = 1 ] && { [ "$requests" = 0 ] || [ "$errors" != 0 ]; }; then
    log "smoke: $scenario $peer failed ($requests requests, $errors errors)"
    exit 1
  fi
  local r_ms p_ms
  r_ms=$(awk -v d=$((r1 - r0)) -v n="$requests" -v t="$tck" 'BEGIN {printf "%.3f", n ? d * 1000 / t / n : 0}')
  p_ms=$(awk -v d=$((p1 - p0)) -v n="$requests" -v t="$tck" 'BEGIN {printf "%.3f", n ? d * 1000 / t / n : 0}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$group" "$scenario" "$peer" "$rep" \
    "$rps" "$p50" "$p99" "$requests" "$errors" "$r_ms" "$p_ms" >>"$results"
  log "$scenario $peer #$rep: $rps req/s, p50 $p50 ms, p99 $p99 ms, errors $errors, R $r_ms ms/req, proxy $p_ms ms/req"
}

# Each R process compiles plumber's code during its first requests: warm
# every one of them on every endpoint first. The first path gets
# WARM_SECONDS per R process (the same for every peer): a forked child
# writes its share of the template's heap during its first ~2,000-4,000
# requests of /echo (copy-on-write, and R's first full collection, which
# copies the rest: ~12,000 page faults, a pause of up to ~1 s; with -n 2 and
# 4 connections both children's came within 8 s), a one-time cost per child
# that bench/spawn.sh measures; the throughput rows are meant to show each
# peer in its steady state. With 3 s per R process the first /echo row still
# caught those pauses (p99 364 and 947 ms).
warm_up() {
  local n=$1 peer path secs
  for peer in $PEERS; do
    secs=$((WARM_SECONDS * n))
    [ "$secs" -ge 1 ] || secs=1
    for path in $WARM_PATHS; do
      timeout $((secs + 30)) wrk -t1 -c$((n * 2)) -d${secs}s "http://127.0.0.1:$(peer_port "$peer")$path" \
        >/dev/null 2>&1 || true
      secs=1
    done
  done
}

# Two clients loop on 1 s requests (bounded in time) while wrk measures.
measure_beside_slow() {
  local group=$1 scenario=$2 peer=$3 rep=$4 port end
  port=$(peer_port "$peer")
  end=$(($(date +%s) + DURATION + 3))
  local loops=()
  for _ in 1 2; do
    (while [ "$(date +%s)" -lt "$end" ]; do curl -s -o /dev/null -m 10 "http://127.0.0.1:$port/sleep?zzz=1" || sleep 0.1; done) &
    loops+=($!)
  done
  sleep 0.3  # both slow requests are in before the measurement starts
  measure "$group" "$scenario" "$peer" "$rep" 4 /echo
  wait "${loops[@]}" 2>/dev/null || true
}

# Valve's demo: 10 concurrent GET /sleep?zzz=2, wall time, from one curl.
measure_demo() {
  local group=$1 scenario=$2 peer=$3 rep=$4 port args=() t0 t1 ok
  port=$(peer_port "$peer")
  for _ in $(seq 1 10); do args+=(-o /dev/null "http://127.0.0.1:$port/sleep?zzz=2"); done
  tree_roots=(${pids[$peer]})
  read -r r0 p0 < <(cpu_ticks)
  t0=$(date +%s.%N)
  ok=$(curl -s -m 60 --parallel --parallel-immediate --parallel-max 10 -w '%{http_code}\n' "${args[@]}" | grep -c '^200$' || true)
  t1=$(date +%s.%N)
  read -r r1 p1 < <(cpu_ticks)
  local wall
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$group" "$scenario" "$peer" "$rep" \
    "$wall" "" "" "$ok" $((10 - ok)) "" "" >>"$results"
  log "$scenario $peer #$rep: $wall s, $ok/10 ok"
}

# --- the run -----------------------------------------------------------------------

results=$work/results.tsv
: >"$results"
lua_post=$work/predict.lua
cat >"$lua_post" <<EOF
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open("$root/bench/predict.json", "rb")
wrk.body = f:read("*a")
f:close()
EOF

# Scenarios per group: "name|connections|path|lua script|kind"
run_group() {
  local n=$1
  shift
  local scenarios=("$@") rep line peer
  log "N=$n: starting $PEERS"
  start_peers "$n"
  warm_up "$n"
  for rep in $(seq 1 "$REPEAT"); do
    for line in "${scenarios[@]}"; do
      IFS='|' read -r name conns path script kind <<<"$line"
      for peer in $PEERS; do
        case $kind in
          slow) measure_beside_slow "N=$n" "$name" "$peer" "$rep" ;;
          demo) measure_demo "N=$n" "$name" "$peer" "$rep" ;;
          *) measure "N=$n" "$name" "$peer" "$rep" "$conns" "$path" "$script" ;;
        esac
      done
    done
  done
  stop_peers
}

started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
if [ "$SMOKE" = 1 ]; then
  WARM_PATHS="/echo"
  WARM_SECONDS=${WARM_SECONDS:-0}
  run_group 2 "GET /echo, 10 connections|10|/echo||" "GET /big 1 MiB, 4 connections|4|/big||"
else
  WARM_PATHS="/echo /compute /big"
  WARM_SECONDS=${WARM_SECONDS:-5}
  run_group 2 \
    "GET /echo, 10 connections|10|/echo||" \
    "GET /echo, 50 connections|50|/echo||" \
    "GET /compute, 2 connections|2|/compute||" \
    "GET /compute, 4 connections|4|/compute||" \
    "GET /compute, 8 connections|8|/compute||" \
    "POST /predict (2.3 KB JSON), 4 connections|4|/predict|$lua_post|" \
    "GET /big 1 MiB, 4 connections|4|/big||"
  run_group 4 \
    "GET /echo, 10 connections|10|/echo||" \
    "GET /echo, 50 connections|50|/echo||" \
    "GET /echo p99 beside 2 clients looping on 1 s requests, 4 connections|||slow|slow"
  if [ "${DEMO:-1}" = 1 ]; then
    WARM_PATHS="/echo"
    WARM_SECONDS=0 run_group 10 "Valve demo: 10 x GET /sleep?zzz=2, wall time (s)|||demo|demo"
  fi
fi

# --- the report --------------------------------------------------------------------

stamp=$(date -u +%Y%m%d-%H%M%S)
report=$OUT/compare-$stamp.md
[ "$SMOKE" = 1 ] && report=$OUT/smoke.md
cp "$results" "${report%.md}.tsv"
{
  echo "# bench/compare.sh, $started"
  echo
  echo "$(nproc) cores; $(uname -r); load before: $(cut -d' ' -f1-3 /proc/loadavg)."
  echo "Command: \`SMOKE=$SMOKE DURATION=$DURATION REPEAT=$REPEAT WARM_SECONDS=${WARM_SECONDS:-0} PEERS=\"$PEERS\" WORKERS=$WORKERS bench/compare.sh\`;"
  echo "wrk -t1, ${DURATION} s per measurement, repetitions separated by ' / ', peers interleaved; each peer warmed first (${WARM_SECONDS:-0} s of /echo per R process, at least 1 s, then 1 s per other path; 1 s for the demo)."
  echo
  awk -F'\t' -v peers="$PEERS" -f bench/report.awk "$results"
} >"$report"
# The smoke draws too, so that the plot keeps working; there a failure counts.
if ! bench/plot.sh "$results" "${report%.md}.png" "$PEERS" 2>"$work/plot.err"; then
  log "no plot: $(cat "$work/plot.err")"
  [ "$SMOKE" = 1 ] && exit 1
fi
cat "$report"
log "report: $report"
