# Sourced by bench scripts that start valved with its log in $log.
# wait_ready N [SECONDS]: waits (bounded, default 120 s) until N children have
# printed their ready line; on timeout prints the log and fails.
wait_ready() {
  local tenths=$(( ${2:-120} * 10 ))
  for _ in $(seq 1 "$tenths"); do
    [ "$(grep -c 'Spawning -> Ready' "$log" || true)" -ge "$1" ] && return 0
    sleep 0.1
  done
  echo "valved did not get $1 children ready; log:" >&2; cat "$log" >&2; return 1
}
