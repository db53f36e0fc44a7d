// How long each route's requests (method and path, without the query) have
// lately taken in R, so that a request may queue inside a child behind one
// that will soon be done (queue_in_child; MasterLink::Serving).
//
// A route is quick once it has a few samples and their moving average is
// under the limit; a route not seen yet, or seen slow, is not. One slow
// request (a timeout counts, with the time it took) pushes the average up at
// once, and it comes down only as quick requests of that route follow. The
// table is bounded: an API whose paths carry ids (/users/123) fills it, and
// it then starts again empty, which only costs queueing until it relearns.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "common/clock.h"

namespace valved::worker {

class RouteTimes {
 public:
  explicit RouteTimes(Duration quick) : quick_us_(ToMicros(quick)) {}

  /// One request of `method` `target` (origin or absolute form) was in R for `took`.
  void Record(std::string_view method, std::string_view target, std::chrono::nanoseconds took);
  /// Whether requests of this route have lately taken less than `quick`.
  bool IsQuick(std::string_view method, std::string_view target) const;

  static constexpr size_t kMaxRoutes = 1024;
  static constexpr uint32_t kMinSamples = 4;

 private:
  struct Route {
    double average_us = 0;
    uint32_t samples = 0;
  };
  static double ToMicros(std::chrono::nanoseconds d) {
    return std::chrono::duration<double, std::micro>(d).count();
  }
  // Heterogeneous lookup: a route is found by the key built in key_, with
  // no string allocated per request.
  struct KeyHash {
    using is_transparent = void;
    size_t operator()(std::string_view key) const { return std::hash<std::string_view>{}(key); }
  };
  /// "METHOD /path" (no query) in key_, which keeps its capacity between calls.
  std::string_view Key(std::string_view method, std::string_view target) const;

  double quick_us_;
  std::unordered_map<std::string, Route, KeyHash, std::equal_to<>> routes_;
  mutable std::string key_;
};

}  // namespace valved::worker
