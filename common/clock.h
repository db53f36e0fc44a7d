// Monotonic time, behind an interface so the master's decisions can be tested
// with a fake clock.
#pragma once

#include <sys/time.h>

#include <chrono>

namespace valved {

using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SteadyClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::steady_clock::now(); }
};

/// Seconds as a double, for log messages ("ready in 0.8s").
inline double Seconds(Duration d) { return static_cast<double>(d.count()) / 1000.0; }

/// A libevent timeout (evtimer_add) of `d`.
inline timeval ToTimeval(Duration d) {
  return {static_cast<time_t>(d.count() / 1000),
          static_cast<suseconds_t>((d.count() % 1000) * 1000)};
}

}  // namespace valved
