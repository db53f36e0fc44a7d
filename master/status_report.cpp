#include "master/status_report.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <sstream>

#include "common/ipc_protocol.h"
#include "common/metrics_text.h"
#include "master/child_state.h"

namespace valved::master {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

constexpr ChildState kStates[] = {ChildState::kSpawning, ChildState::kReady, ChildState::kBusy,
                                  ChildState::kDraining, ChildState::kStopping};
constexpr ipc::DenyReason kDenyReasons[] = {
    ipc::DenyReason::kQueueFull, ipc::DenyReason::kQueueTimeout, ipc::DenyReason::kShuttingDown,
    ipc::DenyReason::kNoChildren};

Object::Ptr NewObject() { return new Object(Poco::JSON_PRESERVE_KEY_ORDER); }

double Rounded(double seconds) {
  return static_cast<double>(static_cast<int64_t>(seconds * 1000)) / 1000;
}

Object::Ptr ChildJson(const ChildStatus& c) {
  Object::Ptr o = NewObject();
  o->set("id", c.id);
  o->set("pid", c.pid);
  o->set("state", c.state);
  o->set("generation", c.generation);
  o->set("age_seconds", Rounded(c.age_seconds));
  o->set("requests", c.requests);
  o->set("busy_seconds", Rounded(c.busy_seconds));
  o->set("state_seconds", Rounded(c.state_seconds));
  o->set("rss_bytes", c.rss_bytes);
  o->set("retiring", c.retiring);
  o->set("lease_worker", c.lease_worker);
  o->set("leases", c.leases);
  return o;
}

Object::Ptr WorkerJson(const WorkerStatus& w) {
  Object::Ptr o = NewObject();
  o->set("id", w.id);
  o->set("slot", w.slot);
  o->set("pid", w.pid);
  o->set("state", w.state);
  o->set("age_seconds", Rounded(w.age_seconds));
  o->set("connections", w.connections);
  o->set("requests", w.requests);
  o->set("rss_bytes", w.rss_bytes);
  return o;
}

uint64_t Sum(const auto& counters) {
  uint64_t n = 0;
  for (uint64_t c : counters) n += c;
  return n;
}

Object::Ptr TotalsJson(const StatusSnapshot& s) {
  const RequestStats& r = s.requests;
  Object::Ptr o = NewObject();
  o->set("requests", Sum(r.by_class));
  Object::Ptr classes = NewObject();
  for (size_t i = 0; i < r.by_class.size(); ++i)
    classes->set(std::to_string(i + 1) + "xx", r.by_class[i]);
  o->set("by_class", classes);
  o->set("rejected", Sum(r.rejections));
  o->set("queued", s.queued_total);
  o->set("handovers", s.handovers);
  o->set("bytes_in", r.bytes_in);
  o->set("bytes_out", r.bytes_out);
  o->set("connections_open", r.connections_open);
  o->set("spawns", s.pool.spawns);
  o->set("crashes", s.pool.crashes);
  o->set("boot_failures", s.pool.boot_failures);
  o->set("reloads_ok", s.reloads_ok);
  o->set("reloads_abandoned", s.reloads_abandoned);
  return o;
}

void ProcessFamilies(MetricsText& m, const StatusSnapshot& s) {
  m.Family("valved_info", "gauge", "Always 1; the version is a label.");
  m.Sample("valved_info", {{"version", s.version}}, uint64_t{1});
  m.Family("valved_start_time_seconds", "gauge", "When the master started, in Unix time.");
  m.Sample("valved_start_time_seconds", {}, s.start_time_unix);
  m.Family("valved_ready", "gauge", "1 when /readyz answers 200, else 0.");
  m.Sample("valved_ready", {}, uint64_t{s.ready ? 1u : 0u});
  m.Family("valved_generation", "gauge",
           "Reloads begun since start: the newest children's generation.");
  m.Sample("valved_generation", {}, s.generation);
  m.Family("valved_workers", "gauge", "Worker processes alive.");
  m.Sample("valved_workers", {}, static_cast<uint64_t>(s.workers.size()));
  int64_t workers_rss = 0, children_rss = 0;
  for (const WorkerStatus& w : s.workers) workers_rss += std::max<int64_t>(w.rss_bytes, 0);
  for (const ChildStatus& c : s.children) children_rss += std::max<int64_t>(c.rss_bytes, 0);
  m.Family("valved_resident_memory_bytes", "gauge",
           "Resident memory (RSS) of the master, of all workers and of all R children.");
  m.Sample("valved_resident_memory_bytes", {{"process", "master"}},
           static_cast<double>(std::max<int64_t>(s.master_rss_bytes, 0)));
  m.Sample("valved_resident_memory_bytes", {{"process", "workers"}},
           static_cast<double>(workers_rss));
  m.Sample("valved_resident_memory_bytes", {{"process", "children"}},
           static_cast<double>(children_rss));
}

void RequestFamilies(MetricsText& m, const StatusSnapshot& s) {
  const RequestStats& r = s.requests;
  m.Family("valved_requests_total", "counter", "Requests answered, by status class.");
  for (size_t i = 0; i < r.by_class.size(); ++i)
    m.Sample("valved_requests_total", {{"class", std::to_string(i + 1) + "xx"}}, r.by_class[i]);
  m.Family("valved_requests_by_method_total", "counter", "Requests answered, by method.");
  for (size_t i = 0; i < r.by_method.size(); ++i)
    m.Sample("valved_requests_by_method_total",
             {{"method", std::string(RequestStats::kMethods[i])}}, r.by_method[i]);
  m.Family("valved_rejections_total", "counter",
           "Responses valved generated itself instead of R, by status.");
  for (size_t i = 0; i < r.rejections.size(); ++i)
    m.Sample("valved_rejections_total", {{"status", std::to_string(RequestStats::kRejections[i])}},
             r.rejections[i]);
  m.Family("valved_request_duration_seconds", "histogram",
           "From a request's complete head to the end of its response.");
  m.HistogramSamples("valved_request_duration_seconds", {}, r.duration);
  m.Family("valved_queue_wait_seconds", "histogram",
           "From asking for an R child to getting one (or a refusal), per lease asked for.");
  m.HistogramSamples("valved_queue_wait_seconds", {}, r.queue_wait);
  m.Family("valved_r_duration_seconds", "histogram",
           "From getting an R child to the end of its response (time R held the request).");
  m.HistogramSamples("valved_r_duration_seconds", {}, r.r_time);
  m.Family("valved_received_bytes_total", "counter", "Bytes read from clients.");
  m.Sample("valved_received_bytes_total", {}, r.bytes_in);
  m.Family("valved_sent_bytes_total", "counter", "Bytes written to clients.");
  m.Sample("valved_sent_bytes_total", {}, r.bytes_out);
  m.Family("valved_connections_accepted_total", "counter", "Client connections accepted.");
  m.Sample("valved_connections_accepted_total", {}, r.connections_accepted);
  m.Family("valved_connections_open", "gauge", "Client connections open.");
  m.Sample("valved_connections_open", {}, r.connections_open);
}

void PoolFamilies(MetricsText& m, const StatusSnapshot& s) {
  m.Family("valved_children", "gauge", "R children by state.");
  for (ChildState state : kStates)
    m.Sample("valved_children", {{"state", ToString(state)}},
             static_cast<uint64_t>(s.ChildrenIn(ToString(state))));
  // Leases, not busy children: the same number with max_concurrency_per_child
  // 1, and with more it still reaches 1 only when requests must wait.
  m.Family("valved_children_busy_ratio", "gauge",
           "Leases held divided by n_max x max_concurrency_per_child (with 1: busy and draining "
           "R children divided by n_max).");
  double slots = static_cast<double>(s.n_max) * std::max(s.max_concurrency_per_child, 1);
  m.Sample("valved_children_busy_ratio", {},
           slots > 0 ? static_cast<double>(s.Leases()) / slots : 0.0);
  m.Family("valved_leases", "gauge",
           "Requests R children serve now (leases); at most n_max x max_concurrency_per_child.");
  m.Sample("valved_leases", {}, static_cast<uint64_t>(s.Leases()));
  m.Family("valved_children_max", "gauge", "n_max: the most R children at once.");
  m.Sample("valved_children_max", {}, static_cast<uint64_t>(s.n_max));
  m.Family("valved_queue_length", "gauge", "Requests waiting for an R child.");
  m.Sample("valved_queue_length", {}, static_cast<uint64_t>(s.queue_length));
  m.Family("valved_queue_oldest_wait_seconds", "gauge",
           "How long the oldest waiting request has waited.");
  m.Sample("valved_queue_oldest_wait_seconds", {}, s.oldest_wait_seconds);
  m.Family("valved_queued_requests_total", "counter",
           "Requests that found no free R child and waited.");
  m.Sample("valved_queued_requests_total", {}, s.queued_total);
  m.Family("valved_lease_handovers_total", "counter",
           "Requests a worker gave the R child of the request before, without the master.");
  m.Sample("valved_lease_handovers_total", {}, s.handovers);
  m.Family("valved_requests_queued_in_child_total", "counter",
           "Requests sent to a busy R child behind a quick one (queue_in_child).");
  m.Sample("valved_requests_queued_in_child_total", {}, s.requests.queued_in_child);
  m.Family("valved_queue_denials_total", "counter",
           "Requests refused an R child (503), by reason.");
  for (ipc::DenyReason reason : kDenyReasons)
    m.Sample("valved_queue_denials_total", {{"reason", ipc::ToString(reason)}},
             s.denials[static_cast<size_t>(reason)]);
  m.Family("valved_child_spawns_total", "counter", "R children launched.");
  m.Sample("valved_child_spawns_total", {}, s.pool.spawns);
  m.Family("valved_child_spawn_duration_seconds", "histogram",
           "From launching an R child to its ready line.");
  m.HistogramSamples("valved_child_spawn_duration_seconds", {}, s.pool.spawn_duration);
  m.Family("valved_child_boot_failures_total", "counter",
           "R children that exited before they were ready.");
  m.Sample("valved_child_boot_failures_total", {}, s.pool.boot_failures);
  m.Family("valved_child_crashes_total", "counter",
           "R children that exited unasked while ready, busy or draining.");
  m.Sample("valved_child_crashes_total", {}, s.pool.crashes);
  m.Family("valved_child_recycles_total", "counter", "R children replaced, by reason.");
  m.Sample("valved_child_recycles_total", {{"reason", "max_requests"}},
           s.pool.recycled_max_requests);
  m.Sample("valved_child_recycles_total", {{"reason", "max_memory"}}, s.pool.recycled_max_memory);
  m.Sample("valved_child_recycles_total", {{"reason", "reload"}}, s.pool.recycled_reload);
  m.Family("valved_child_idle_stops_total", "counter", "R children stopped after max_age idle.");
  m.Sample("valved_child_idle_stops_total", {}, s.pool.stopped_idle);
  m.Family("valved_reloads_total", "counter", "Reloads (SIGHUP) by result.");
  m.Sample("valved_reloads_total", {{"result", "ok"}}, s.reloads_ok);
  m.Sample("valved_reloads_total", {{"result", "abandoned"}}, s.reloads_abandoned);
  m.Family("valved_last_reload_successful", "gauge",
           "0 when the last reload was abandoned, else 1 (also before any reload).");
  m.Sample("valved_last_reload_successful", {},
           uint64_t{s.last_reload.rfind("abandoned", 0) == 0 ? 0u : 1u});
  m.Family("valved_last_reload_timestamp_seconds", "gauge",
           "When the last reload ended (took over or was abandoned), in Unix time; 0 before any.");
  m.Sample("valved_last_reload_timestamp_seconds", {}, s.last_reload_unix);
}

}  // namespace

size_t StatusSnapshot::ChildrenIn(const std::string& state) const {
  return static_cast<size_t>(std::count_if(children.begin(), children.end(),
                                           [&](const ChildStatus& c) { return c.state == state; }));
}

size_t StatusSnapshot::Leases() const {
  size_t leases = 0;
  for (const ChildStatus& c : children) leases += c.leases;
  return leases;
}

std::string StatusJson(const StatusSnapshot& s) {
  Object::Ptr o = NewObject();
  o->set("version", s.version);
  o->set("config_file", s.config_file);
  o->set("api", s.api);
  o->set("listen", s.listen);
  o->set("status_listen", s.status_listen);
  o->set("master_pid", s.master_pid);
  o->set("uptime_seconds", Rounded(s.uptime_seconds));
  o->set("generation", s.generation);
  o->set("n_min", s.n_min);
  o->set("n_max", s.n_max);
  o->set("max_concurrency_per_child", s.max_concurrency_per_child);
  o->set("ready", s.ready);
  o->set("readiness", s.readiness);
  o->set("stopping", s.stopping);
  o->set("reloading", s.reloading);
  o->set("last_reload", s.last_reload);
  o->set("last_reload_age_seconds", Rounded(s.last_reload_age_seconds));
  Object::Ptr queue = NewObject();
  queue->set("length", s.queue_length);
  queue->set("oldest_wait_seconds", Rounded(s.oldest_wait_seconds));
  o->set("queue", queue);
  Array::Ptr workers = new Array();
  for (const WorkerStatus& w : s.workers) workers->add(WorkerJson(w));
  o->set("workers", workers);
  Array::Ptr children = new Array();
  for (const ChildStatus& c : s.children) children->add(ChildJson(c));
  o->set("children", children);
  o->set("totals", TotalsJson(s));
  std::ostringstream out;
  o->stringify(out, 2);
  out << "\n";
  return out.str();
}

std::string MetricsExposition(const StatusSnapshot& s) {
  MetricsText m;
  ProcessFamilies(m, s);
  RequestFamilies(m, s);
  PoolFamilies(m, s);
  return m.text();
}

}  // namespace valved::master
