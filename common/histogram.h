// A Prometheus-style histogram of durations with fixed bucket bounds, kept as
// plain integers (microseconds) so that the master can sum the workers'
// histograms exactly.
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>

namespace valved {

class Histogram {
 public:
  /// Upper bounds of the buckets in seconds (the last, +Inf, is implicit):
  /// from 5 ms, for a warm /echo, to 60 s, the default queue_timeout.
  static constexpr std::array<double, 13> kBounds = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                                     1,     2.5,  5,     10,   30,  60};
  static constexpr size_t kBuckets = kBounds.size() + 1;

  /// Nanoseconds in, so that Duration (milliseconds) and steady_clock
  /// differences both fit without losing precision.
  void Observe(std::chrono::nanoseconds d) {
    int64_t us = std::max<int64_t>(0, d.count() / 1000);
    size_t i = 0;
    while (i < kBounds.size() && static_cast<double>(us) > kBounds[i] * 1e6) ++i;
    ++counts_[i];
    sum_us_ += static_cast<uint64_t>(us);
  }
  void Add(const Histogram& other) {
    for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
    sum_us_ += other.sum_us_;
  }
  /// Observations in bucket i alone (not cumulative); i == kBounds.size() is +Inf.
  uint64_t bucket(size_t i) const { return counts_[i]; }
  void set_bucket(size_t i, uint64_t n) { counts_[i] = n; }
  uint64_t count() const {
    uint64_t n = 0;
    for (uint64_t c : counts_) n += c;
    return n;
  }
  uint64_t sum_us() const { return sum_us_; }
  void set_sum_us(uint64_t us) { sum_us_ = us; }
  double sum_seconds() const { return static_cast<double>(sum_us_) / 1e6; }
  bool operator==(const Histogram&) const = default;

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t sum_us_ = 0;
};

}  // namespace valved
