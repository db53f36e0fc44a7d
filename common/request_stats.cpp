#include "common/request_stats.h"

#include <algorithm>

namespace valved {
namespace {

constexpr size_t kHistogramValues = Histogram::kBuckets + 1;  // the buckets, then the sum

template <size_t N>
std::vector<uint64_t> Values(const std::array<uint64_t, N>& counters) {
  return {counters.begin(), counters.end()};
}

std::vector<uint64_t> Values(const Histogram& h) {
  std::vector<uint64_t> values;
  for (size_t i = 0; i < Histogram::kBuckets; ++i) values.push_back(h.bucket(i));
  values.push_back(h.sum_us());
  return values;
}

template <size_t N>
void SetValues(std::array<uint64_t, N>& counters, const std::vector<uint64_t>& values) {
  std::copy(values.begin(), values.end(), counters.begin());
}

void SetValues(Histogram& h, const std::vector<uint64_t>& values) {
  for (size_t i = 0; i < Histogram::kBuckets; ++i) h.set_bucket(i, values[i]);
  h.set_sum_us(values[Histogram::kBuckets]);
}

template <size_t N>
void AddArray(std::array<uint64_t, N>& into, const std::array<uint64_t, N>& from) {
  for (size_t i = 0; i < N; ++i) into[i] += from[i];
}

}  // namespace

void RequestStats::CountRequest(std::string_view method, int status,
                                std::chrono::nanoseconds total) {
  if (status >= 100 && status < 600) ++by_class[static_cast<size_t>(status / 100 - 1)];
  auto it = std::find(kMethods.begin(), kMethods.end() - 1, method);
  ++by_method[static_cast<size_t>(it - kMethods.begin())];
  duration.Observe(total);
}

void RequestStats::CountRejection(int status) {
  auto it = std::find(kRejections.begin(), kRejections.end(), status);
  if (it != kRejections.end()) ++rejections[static_cast<size_t>(it - kRejections.begin())];
}

void RequestStats::Add(const RequestStats& other) {
  AddArray(by_class, other.by_class);
  AddArray(by_method, other.by_method);
  AddArray(rejections, other.rejections);
  bytes_in += other.bytes_in;
  bytes_out += other.bytes_out;
  connections_accepted += other.connections_accepted;
  connections_open += other.connections_open;
  queued_in_child += other.queued_in_child;
  duration.Add(other.duration);
  queue_wait.Add(other.queue_wait);
  r_time.Add(other.r_time);
}

std::vector<ipc::Stats> RequestStats::ToMessages() const {
  return {
      {"status", Values(by_class)},
      {"method", Values(by_method)},
      {"rejected", Values(rejections)},
      {"io", {bytes_in, bytes_out, connections_accepted, connections_open}},
      {"duration", Values(duration)},
      {"queue_wait", Values(queue_wait)},
      {"r_time", Values(r_time)},
      {"child_queue", {queued_in_child}},
  };
}

bool RequestStats::Apply(const ipc::Stats& stats, std::string* error) {
  const std::string& f = stats.family;
  const std::vector<uint64_t>& v = stats.values;
  auto expect = [&](size_t n) {
    if (v.size() == n) return true;
    *error = "STATS " + f + ": expected " + std::to_string(n) + " values, got " +
             std::to_string(v.size());
    return false;
  };
  if (f == "status") return expect(by_class.size()) && (SetValues(by_class, v), true);
  if (f == "method") return expect(by_method.size()) && (SetValues(by_method, v), true);
  if (f == "rejected") return expect(rejections.size()) && (SetValues(rejections, v), true);
  if (f == "io") {
    if (!expect(4)) return false;
    bytes_in = v[0], bytes_out = v[1], connections_accepted = v[2], connections_open = v[3];
    return true;
  }
  if (f == "duration") return expect(kHistogramValues) && (SetValues(duration, v), true);
  if (f == "queue_wait") return expect(kHistogramValues) && (SetValues(queue_wait, v), true);
  if (f == "r_time") return expect(kHistogramValues) && (SetValues(r_time, v), true);
  if (f == "child_queue") return expect(1) && (queued_in_child = v[0], true);
  *error = "STATS: unknown family " + f;
  return false;
}

}  // namespace valved
