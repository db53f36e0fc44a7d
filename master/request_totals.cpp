#include "master/request_totals.h"

namespace valved::master {

bool RequestTotals::OnStats(uint64_t worker_id, const ipc::Stats& stats, std::string* error) {
  return live_[worker_id].Apply(stats, error);
}

void RequestTotals::OnWorkerGone(uint64_t worker_id) {
  auto it = live_.find(worker_id);
  if (it == live_.end()) return;
  it->second.connections_open = 0;
  departed_.Add(it->second);
  live_.erase(it);
}

RequestStats RequestTotals::Total() const {
  RequestStats total = departed_;
  for (const auto& [id, stats] : live_) total.Add(stats);
  return total;
}

RequestStats RequestTotals::Of(uint64_t worker_id) const {
  auto it = live_.find(worker_id);
  return it == live_.end() ? RequestStats{} : it->second;
}

}  // namespace valved::master
