#!/usr/bin/env bash
# Draws bench/compare.sh's results as one PNG: per scenario, each peer's
# throughput and its proxy's own CPU per request, both relative to the better
# of HAProxy and nginx (means over repetitions; the Valve demo's wall time is
# turned into a rate, so higher is better in the top panel everywhere).
#
#   bench/plot.sh RESULTS.tsv OUT.png "plumber haproxy nginx valved"
set -euo pipefail
results=$1 out=$2
# Only the peers that have figures in this run, in the order given.
peers=""
for peer in $3; do
  cut -f3 "$results" | grep -qx "$peer" && peers+="$peer "
done
data=$(mktemp)
trap 'rm -f "$data"' EXIT

# One line per scenario: label, then per peer the throughput ratio and the
# proxy-CPU ratio ("-" where a peer has no figure, e.g. plumber has no proxy).
awk -F'\t' -v peers="$peers" '
  function add(k, v) { sum[k] += v; n[k]++ }
  function mean(k) { return n[k] ? sum[k] / n[k] : "" }
  {
    row = $1 " " $2
    if (!(row in seen)) { seen[row] = 1; rows[++nrows] = row }
    demo = ($6 == "")
    add(row SUBSEP $3 SUBSEP "t", demo ? 1 / $5 : $5)
    if ($11 != "") add(row SUBSEP $3 SUBSEP "p", $11)
  }
  function best(row, s, low,    i, v, b) {
    b = ""
    for (i = 1; i <= np; i++) {
      if (p[i] != "haproxy" && p[i] != "nginx") continue
      v = mean(row SUBSEP p[i] SUBSEP s)
      if (v == "" || v <= 0) continue
      if (b == "" || (low ? v < b : v > b)) b = v
    }
    return b
  }
  END {
    np = split(peers, p, " ")
    for (r = 1; r <= nrows; r++) {
      row = rows[r]
      label = row
      gsub(/"/, "", label)
      sub(/, wall time \(s\)/, "", label)
      if (length(label) > 34) label = substr(label, 1, 33) "~"
      printf "\"%s\"", label
      bt = best(row, "t", 0); bp = best(row, "p", 1)
      for (i = 1; i <= np; i++) {
        t = mean(row SUBSEP p[i] SUBSEP "t"); c = mean(row SUBSEP p[i] SUBSEP "p")
        printf "\t%s", (bt != "" && t != "") ? sprintf("%.3f", t / bt) : "-"
        printf "\t%s", (bp != "" && c != "" && c > 0) ? sprintf("%.3f", c / bp) : "-"
      }
      printf "\n"
    }
  }' "$results" >"$data"

# plumber alone has no proxy: it is left out of the CPU panel.
read -r -a names <<<"$peers"
throughput="" cpu=""
for i in "${!names[@]}"; do
  throughput+="${throughput:+, }'$data' using $((2 * i + 2)):xtic(1) title '${names[$i]}'"
  [ "${names[$i]}" = plumber ] && continue
  cpu+="${cpu:+, }'$data' using $((2 * i + 3)):xtic(1) title '${names[$i]}'"
done

gnuplot <<EOF
set terminal pngcairo size 1400,900 font ",10"
set output '$out'
set datafile separator "\t"
set datafile missing "-"
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key outside right top
set grid ytics
set xtics rotate by -25 left
set multiplot layout 2,1 title "bench/compare.sh: $(basename "$results")"
set ylabel "throughput / best of HAProxy, nginx"
set yrange [0:*]
plot $throughput, 1 with lines dashtype 2 lc "black" notitle
set ylabel "proxy CPU per request / best of HAProxy, nginx"
plot $cpu, 1 with lines dashtype 2 lc "black" notitle
unset multiplot
EOF
