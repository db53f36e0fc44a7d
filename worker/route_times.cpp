#include "worker/route_times.h"

#include "worker/http_util.h"

namespace valved::worker {
namespace {

// Weight of a new sample: the last ~8 requests of a route decide.
constexpr double kWeight = 1.0 / 8;

}  // namespace

std::string_view RouteTimes::Key(std::string_view method, std::string_view target) const {
  key_.assign(method);
  key_ += ' ';
  if (target.empty() || target.front() == '/') {
    key_ += target.substr(0, target.find('?'));
  } else {
    std::string path = OriginForm(target);  // absolute form: rare
    key_ += std::string_view(path).substr(0, path.find('?'));
  }
  return key_;
}

void RouteTimes::Record(std::string_view method, std::string_view target,
                        std::chrono::nanoseconds took) {
  if (quick_us_ <= 0) return;
  std::string_view key = Key(method, target);
  auto it = routes_.find(key);
  if (it == routes_.end()) {
    if (routes_.size() >= kMaxRoutes) routes_.clear();
    it = routes_.emplace(std::string(key), Route{}).first;
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
