#include "master/status_page.h"

namespace valved::master {

std::string_view StatusPageHtml() {
  static constexpr std::string_view kPage = R"HTML(<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>valved status</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fafafa; }
h1 { font-size: 1.4em; margin: 0 0 .3em; }
h2 { font-size: 1.1em; margin: 1.2em 0 .4em; }
table { border-collapse: collapse; background: #fff; }
th, td { padding: .25em .8em; border: 1px solid #ddd; text-align: right; }
th { background: #eee; }
td.l, th.l { text-align: left; }
.Spawning { background: #fff3b0; }
.Ready { background: #c8f0c8; }
.Busy { background: #ffc68a; }
.Draining { background: #d9c3f0; }
.Stopping { background: #e0e0e0; }
#summary span { display: inline-block; margin-right: 1.5em; }
#ready.yes, #reload.ok { color: #1a7f1a; } #ready.no, #reload.abandoned { color: #b00020; }
#error { color: #b00020; }
</style>
</head>
<body>
<h1>valved <span id="version"></span></h1>
<div id="summary">
<span>ready: <b id="ready">?</b></span>
<span>uptime: <b id="uptime">?</b></span>
<span>generation: <b id="generation">?</b></span>
<span>children busy: <b id="busy">?</b></span>
<span>queue: <b id="queue">?</b></span>
<span>oldest wait: <b id="wait">?</b></span>
<span>requests/s: <b id="rate">?</b></span>
<span>requests: <b id="requests">?</b></span>
<span>last reload: <b id="reload">?</b></span>
</div>
<div id="readiness"></div>
<div id="error"></div>
<h2>R children</h2>
<table id="children">
<thead><tr><th>child</th><th>pid</th><th class="l">state</th><th>for (s)</th><th>generation</th>
<th>age (s)</th><th>requests</th><th>busy (s)</th><th>RSS (MiB)</th><th class="l">note</th></tr></thead>
<tbody></tbody>
</table>
<h2>Workers</h2>
<table id="workers">
<thead><tr><th>worker</th><th>pid</th><th class="l">state</th><th>connections</th><th>requests</th>
<th>RSS (MiB)</th></tr></thead>
<tbody></tbody>
</table>
<p><small>Refreshes every second from <a href="status">/status</a>;
also <a href="metrics">/metrics</a>, <a href="readyz">/readyz</a>, <a href="livez">/livez</a>.</small></p>
<script>
"use strict";
let last = null;
function cell(row, text, cls) {
  const td = row.insertCell();
  td.textContent = text;
  if (cls) td.className = cls;
}
function mib(bytes) { return bytes < 0 ? "?" : (bytes / 1048576).toFixed(1); }
function fill(id, items, draw) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren();
  for (const item of items) draw(body.insertRow(), item);
}
function drawChild(row, c) {
  row.className = "child " + c.state;
  row.dataset.id = c.id;
  cell(row, "#" + c.id); cell(row, c.pid); cell(row, c.state, "l");
  cell(row, c.state_seconds.toFixed(1)); cell(row, c.generation); cell(row, c.age_seconds.toFixed(0));
  cell(row, c.requests); cell(row, c.busy_seconds.toFixed(2)); cell(row, mib(c.rss_bytes));
  cell(row, c.retiring ? "replacing: " + c.retiring : (c.leases > 1 ? c.leases + " requests" : c.lease_worker ? "worker#" + c.lease_worker : ""), "l");
}
function drawWorker(row, w) {
  row.className = "worker";
  cell(row, "#" + w.id); cell(row, w.pid); cell(row, w.state, "l");
  cell(row, w.connections); cell(row, w.requests); cell(row, mib(w.rss_bytes));
}
function show(s) {
  const now = performance.now();
  const set = (id, text) => { document.getElementById(id).textContent = text; };
  set("version", s.version);
  set("ready", s.ready ? "yes" : "no");
  document.getElementById("ready").className = s.ready ? "yes" : "no";
  set("readiness", s.readiness);
  set("uptime", s.uptime_seconds.toFixed(0) + " s");
  set("generation", s.generation);
  const busy = s.children.filter(c => c.state === "Busy" || c.state === "Draining").length;
  set("busy", busy + " / " + s.n_max);
  set("queue", s.queue.length);
  set("wait", s.queue.oldest_wait_seconds.toFixed(1) + " s");
  set("requests", s.totals.requests);
  set("reload", s.last_reload === "" ? "none" :
      s.last_reload + ", " + s.last_reload_age_seconds.toFixed(0) + " s ago");
  document.getElementById("reload").className = s.last_reload.split(":")[0];
  if (last) {
    const rate = (s.totals.requests - last.requests) / ((now - last.at) / 1000);
    set("rate", rate.toFixed(1));
  }
  last = { requests: s.totals.requests, at: now };
  fill("children", s.children, drawChild);
  fill("workers", s.workers, drawWorker);
  document.body.dataset.loaded = "yes";
}
async function refresh() {
  try {
    const response = await fetch("status", { cache: "no-store" });
    show(await response.json());
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = "cannot read /status: " + e;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
)HTML";
  return kPage;
}

}  // namespace valved::master
