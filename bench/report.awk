# Turns bench/compare.sh's results (TSV: group scenario peer rep value p50 p99
# requests errors r_ms proxy_ms) into Markdown tables. -v peers="a b c".
function mean(key,    n, i, s) {
  n = count[key]; s = 0
  for (i = 1; i <= n; i++) s += vals[key, i]
  return n ? s / n : 0
}
function list(key,    n, i, out) {
  n = count[key]; out = ""
  for (i = 1; i <= n; i++) out = out (i > 1 ? " / " : "") vals[key, i]
  return out
}
function add(key, v) { vals[key, ++count[key]] = v }
{
  row = $1 " | " $2
  if (!(row in seen)) { seen[row] = 1; rows[++nrows] = row; demo[row] = ($6 == "" && $2 ~ /demo/) }
  add(row SUBSEP $3 SUBSEP "v", $5)
  if ($6 != "") { add(row SUBSEP $3 SUBSEP "p50", $6); add(row SUBSEP $3 SUBSEP "p99", $7) }
  if ($10 != "") { add(row SUBSEP $3 SUBSEP "r", $10); add(row SUBSEP $3 SUBSEP "p", $11) }
  errors[row SUBSEP $3] += $9
}
function header(title, last,    i) {
  printf "\n%s\n\n| N | scenario |", title
  for (i = 1; i <= np; i++) printf " %s |", p[i]
  if (last != "") printf " %s |", last
  printf "\n|---|---|"
  for (i = 1; i <= np; i++) printf "---|"
  if (last != "") printf "---|"
  printf "\n"
}
# The better of HAProxy and nginx by mean of key suffix; higher is better unless low.
function best(row, suffix, low,    b, v, i) {
  b = ""
  for (i = 1; i <= np; i++) {
    if (p[i] != "haproxy" && p[i] != "nginx") continue
    if (count[row, p[i], suffix] == 0) continue
    v = mean(row SUBSEP p[i] SUBSEP suffix)
    if (b == "" || (low ? v < b : v > b)) b = v
  }
  return b
}
function ratio(row, suffix, low,    b, v) {
  b = best(row, suffix, low)
  if (b == "" || count[row, "valved", suffix] == 0) return "-"
  v = mean(row SUBSEP "valved" SUBSEP suffix)
  if (low) return (v > 0 ? sprintf("%.2f", b / v) : "-")
  return (b > 0 ? sprintf("%.2f", v / b) : "-")
}
END {
  np = split(peers, p, " ")
  header("Throughput, req/s (for /big, req/s = MiB/s); each repetition", "valved ÷ best of haproxy, nginx")
  for (r = 1; r <= nrows; r++) {
    row = rows[r]; if (demo[row] || row ~ /beside/) continue
    split(row, parts, " \\| "); printf "| %s | %s |", substr(parts[1], 3), parts[2]
    for (i = 1; i <= np; i++) printf " %s |", list(row SUBSEP p[i] SUBSEP "v")
    printf " %s |\n", ratio(row, "v", 0)
  }
  header("Latency, p50 / p99 in ms (mean of repetitions; wrk's figures, after its coordinated-omission correction, which counts one request that took v as about v ÷ (run time ÷ requests per connection) requests)", "valved p99 vs best (>1: valved lower)")
  for (r = 1; r <= nrows; r++) {
    row = rows[r]; if (demo[row]) continue
    split(row, parts, " \\| "); printf "| %s | %s |", substr(parts[1], 3), parts[2]
    for (i = 1; i <= np; i++) {
      k = row SUBSEP p[i]
      if (count[k, "p50"] == 0) printf " - |"; else printf " %.2f / %.2f |", mean(k SUBSEP "p50"), mean(k SUBSEP "p99")
    }
    printf " %s |\n", ratio(row, "p99", 1)
  }
  header("CPU per request, ms: R processes / the proxy's own (mean of repetitions)", "valved ÷ best: R, proxy")
  for (r = 1; r <= nrows; r++) {
    row = rows[r]; if (demo[row]) continue
    split(row, parts, " \\| "); printf "| %s | %s |", substr(parts[1], 3), parts[2]
    for (i = 1; i <= np; i++) {
      k = row SUBSEP p[i]
      if (count[k, "r"] == 0) printf " - |"; else printf " %.3f / %.3f |", mean(k SUBSEP "r"), mean(k SUBSEP "p")
    }
    br = best(row, "r", 1); bp = best(row, "p", 1)
    if (br != "" && br > 0 && bp > 0 && count[row, "valved", "r"] > 0)
      printf " %.2f, %.2f |\n", mean(row SUBSEP "valved" SUBSEP "r") / br, mean(row SUBSEP "valved" SUBSEP "p") / bp
    else printf " - |\n"
  }
  any = 0
  for (r = 1; r <= nrows; r++) if (demo[rows[r]]) any = 1
  if (any) {
    header("Valve's demo: wall time in s, each repetition (lower is better)", "best ÷ valved")
    for (r = 1; r <= nrows; r++) {
      row = rows[r]; if (!demo[row]) continue
      split(row, parts, " \\| "); printf "| %s | %s |", substr(parts[1], 3), parts[2]
      for (i = 1; i <= np; i++) printf " %s |", list(row SUBSEP p[i] SUBSEP "v")
      printf " %s |\n", ratio(row, "v", 1)
    }
  }
  printf "\nFailed requests (non-2xx, socket errors), summed over repetitions:"
  none = 1
  for (k in errors) if (errors[k] > 0) { split(k, q, SUBSEP); printf " %s %s: %d;", q[1], q[2], errors[k]; none = 0 }
  if (none) printf " none."
  printf "\n"
}
