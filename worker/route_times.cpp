#include "worker/route_times.h"

#include <algorithm>

#include "worker/http_util.h"

namespace valved::worker {
namespace {

// Weight of a new sample: the last ~8 requests of a route decide.
constexpr double kWeight = 1.0 / 8;

}  // namespace

std::string RouteTimes::Key(std::string_view method, std::string_view target) {
  std::string path =
      target.empty() || target.front() == '/' ? std::string(target) : OriginForm(target);
  path.erase(std::min(path.find('?'), path.size()));
  return std::string(method) + ' ' + path;
}

void RouteTimes::Record(std::string_view method, std::string_view target,
                        std::chrono::nanoseconds took) {
  if (quick_us_ <= 0) return;
  std::string key = Key(method, target);
  auto it = routes_.find(key);
  if (it == routes_.end()) {
    if (routes_.size() >= kMaxRoutes) routes_.clear();
    it = routes_.emplace(std::move(key), Route{}).first;
  }
  Route& route = it->second;
  double us = ToMicros(took);
  // A slower sample counts whole at once (queueing behind a route that has
  // just been slow is what must not happen); quicker ones bring it down.
  route.average_us = route.samples == 0 || us > route.average_us
                         ? us
                         : route.average_us + (us - route.average_us) * kWeight;
  ++route.samples;
}

bool RouteTimes::IsQuick(std::string_view method, std::string_view target) const {
  if (quick_us_ <= 0) return false;
  auto it = routes_.find(Key(method, target));
  return it != routes_.end() && it->second.samples >= kMinSamples &&
         it->second.average_us < quick_us_;
}

}  // namespace valved::worker
