// What the status listener shows: one snapshot of the master's state, built
// by the master after every request to the listener, and its two renderings:
// the JSON of /status and the Prometheus text of /metrics.
//
// Principle: the snapshot is plain data and the renderings are pure
// functions of it, so unit tests can check the exposition from a
// hand-made snapshot without processes.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "common/request_stats.h"
#include "master/child_pool.h"

namespace valved::master {

struct ChildStatus {
  uint64_t id = 0;
  pid_t pid = -1;
  std::string state;  ///< ToString(ChildState): Spawning, Ready, Busy, ...
  uint64_t generation = 0;
  double age_seconds = 0;     ///< since it was launched
  uint64_t requests = 0;      ///< leases served
  double busy_seconds = 0;    ///< time holding at least one lease, up to now
  double state_seconds = 0;   ///< in its current state (idle for, busy for, ...)
  int64_t rss_bytes = -1;     ///< -1: unknown
  std::string retiring;       ///< why it is due for replacement; "" if it is not
  uint64_t lease_worker = 0;  ///< the worker holding its oldest lease (0: none)
  size_t leases = 0;          ///< requests it serves now (max_concurrency_per_child at most)
};

struct WorkerStatus {
  uint64_t id = 0;
  size_t slot = 0;  ///< 1-based
  pid_t pid = -1;
  std::string state;  ///< Starting, Running, Quitting
  double age_seconds = 0;
  uint64_t connections = 0;  ///< client connections open, as last reported
  uint64_t requests = 0;     ///< requests answered, as last reported
  int64_t rss_bytes = -1;
};

struct StatusSnapshot {
  std::string version;
  std::string config_file;  ///< "" when none was given
  std::string api;          ///< the plumber file or directory
  std::string listen;       ///< "http://127.0.0.1:3000"
  std::string status_listen;
  pid_t master_pid = -1;
  double uptime_seconds = 0;
  double start_time_unix = 0;
  uint64_t generation = 0;
  int n_min = 0;
  int n_max = 0;
  int max_concurrency_per_child = 1;
  bool ready = false;
  std::string readiness;  ///< why ready or not, one sentence
  bool stopping = false;
  bool reloading = false;
  std::string last_reload;              ///< "" never; "ok", or "abandoned: <why>"
  double last_reload_age_seconds = -1;  ///< since the last reload ended; -1 never
  double last_reload_unix = 0;          ///< when it ended, Unix time; 0 never
  uint64_t reloads_ok = 0;
  uint64_t reloads_abandoned = 0;
  size_t queue_length = 0;
  double oldest_wait_seconds = 0;
  uint64_t queued_total = 0;          ///< requests that had to wait for a child
  uint64_t handovers = 0;             ///< leases a worker passed on without the master
  std::array<uint64_t, 4> denials{};  ///< by ipc::DenyReason
  std::vector<WorkerStatus> workers;
  std::vector<ChildStatus> children;
  PoolCounters pool;
  RequestStats requests;
  int64_t master_rss_bytes = -1;

  /// Children in `state` (a ToString(ChildState) name).
  size_t ChildrenIn(const std::string& state) const;
  /// Leases held now, over all children: the requests R serves.
  size_t Leases() const;
};

/// /status: the snapshot as a JSON object (documented in valved(8)).
std::string StatusJson(const StatusSnapshot& s);
/// /metrics: the Prometheus text exposition (every metric documented in valved(8)).
std::string MetricsExposition(const StatusSnapshot& s);

}  // namespace valved::master
