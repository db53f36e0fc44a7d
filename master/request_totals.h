// The workers' request counters, summed (common/request_stats.h).
//
// Principle: each worker reports its own cumulative counters; the master keeps
// the latest report of each live worker and, when a worker goes, folds its
// last report into `departed_`. Total() is departed_ plus the live reports,
// so it never goes down and counts every reported request exactly once.
// Gauges (open connections) of departed workers are dropped.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/ipc_protocol.h"
#include "common/request_stats.h"

namespace valved::master {

class RequestTotals {
 public:
  /// A STATS line from `worker_id`; false (and *error) when it is malformed.
  bool OnStats(uint64_t worker_id, const ipc::Stats& stats, std::string* error);
  /// The worker's channel closed: its last report becomes part of the past.
  void OnWorkerGone(uint64_t worker_id);
  /// Everything every worker has reported.
  RequestStats Total() const;
  /// What one live worker has reported (zeros if nothing yet).
  RequestStats Of(uint64_t worker_id) const;

 private:
  std::map<uint64_t, RequestStats> live_;
  RequestStats departed_;
};

}  // namespace valved::master
