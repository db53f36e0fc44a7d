// Requests in parallel on a pool of R children: one request at a time per
// child, growth under load up to n_max, and idle children reaped to n_min.
#include <algorithm>
#include <atomic>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "tests/integration/valved_harness.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

/// What the fixture's /sleep reports: which child served it, and when.
struct Served {
  HttpResponse response;
  double pid = 0;
  double start = 0;
  double end = 0;
};

/// Sends `count` GETs of `target` at once, one thread each.
std::vector<Served> GetConcurrently(int port, const std::string& target, int count) {
  std::vector<Served> served(count);
  std::vector<std::thread> threads;
  for (int i = 0; i < count; ++i) {
    threads.emplace_back([&, i] {
      served[i].response = HttpGet(port, target, 120s);
      const std::string& body = served[i].response.body;
      served[i].pid = JsonNumber(body, "pid").value_or(0);
      served[i].start = JsonNumber(body, "start").value_or(0);
      served[i].end = JsonNumber(body, "end").value_or(0);
    });
  }
  for (std::thread& t : threads) t.join();
  return served;
}

/// Counts the master's R children in the background and keeps the maximum.
class ChildCountSampler {
 public:
  explicit ChildCountSampler(const Valved& valved)
      : thread_([this, &valved] {
          while (!stop_) {
            int n = static_cast<int>(valved.RChildPids().size());
            int seen = max_.load();
            while (n > seen && !max_.compare_exchange_weak(seen, n)) {
            }
            std::this_thread::sleep_for(20ms);
          }
        }) {}
  ~ChildCountSampler() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int max() const { return max_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<int> max_{0};
  std::thread thread_;
};

class ConcurrencyTest : public ValvedTest {};

TEST_F(ConcurrencyTest, TenSlowRequestsOnTenChildrenTakeAboutOneRequestsTime) {
  // --warmup: each child has run plumber's code before it says it is ready, so
  // the burst measures valved's concurrency, not R compiling plumber ten times
  // at once on two cores.
  Valved* valved = StartServing(
      {"-f", Fixture("hello.R"), "-n", "10", "--n-min", "10", "-w", "2", "--warmup"}, 240s);
  ASSERT_NE(valved, nullptr);
  ASSERT_TRUE(Eventually(
      120s, [&] { return valved->ReadyRChildPids().size() == 10; }, "10 R children ready"));
  std::vector<pid_t> children = valved->ReadyRChildPids();

  auto start = SteadyClock::now();
  std::vector<Served> served = GetConcurrently(valved->port(), "/sleep?s=0.5", 10);
  double total = SecondsSince(start);

  std::cout << "[measure] 10 concurrent 0.5 s requests on 10 ready children: " << total << " s\n";
  EXPECT_LT(total, 1.5) << "10 concurrent 0.5 s requests on 10 idle children";
  std::map<pid_t, std::vector<std::pair<double, double>>> by_child;
  for (const Served& s : served) {
    ASSERT_EQ(s.response.status, 200) << s.response.Describe();
    pid_t pid = static_cast<pid_t>(s.pid);
    EXPECT_TRUE(std::find(children.begin(), children.end(), pid) != children.end())
        << "served by pid " << pid << ", not one of the pool's R children";
    by_child[pid].emplace_back(s.start, s.end);
  }
  // One request at a time per child: a child's intervals never overlap
  // (1 ms of slack for the fixture's 4-decimal timestamps).
  for (auto& [pid, intervals] : by_child) {
    std::sort(intervals.begin(), intervals.end());
    for (size_t i = 1; i < intervals.size(); ++i) {
      EXPECT_LE(intervals[i - 1].second, intervals[i].first + 0.001)
          << "child pid " << pid << " served two requests at once";
    }
  }
}

TEST_F(ConcurrencyTest, PoolGrowsToNMaxUnderLoadThenShrinksToNMinWhenIdle) {
  Valved* valved = StartServing({"-f", Fixture("hello.R"), "-n", "4", "--n-min", "1", "--max-age",
                                 "2", "--check-unused", "1", "-w", "2"});
  ASSERT_NE(valved, nullptr);
  ASSERT_TRUE(Eventually(
      60s, [&] { return valved->RChildPids().size() == 1; },
      "exactly n_min = 1 R child when idle"));
  ChildCountSampler sampler(*valved);

  std::vector<Served> served;
  std::atomic<bool> load_done{false};
  std::thread load([&] {
    served = GetConcurrently(valved->port(), "/sleep?s=3", 4);
    load_done = true;
  });
  // Wait for the growth, or for the load to end (then a late spawn gets 30s more).
  Eventually(
      120s, [&] { return sampler.max() >= 4 || load_done; }, "the load ends");
  load.join();
  EXPECT_TRUE(Eventually(
      30s, [&] { return sampler.max() >= 4; },
      "4 concurrent requests grow the pool to n_max = 4 R children"));
  for (const Served& s : served) EXPECT_EQ(s.response.status, 200) << s.response.Describe();

  EXPECT_TRUE(Eventually(
      60s, [&] { return valved->RChildPids().size() == 1; },
      "idle children beyond n_min are stopped (max_age 2s, check_unused 1s)"));
  sampler.Stop();
  EXPECT_LE(sampler.max(), 4) << "the pool never exceeds n_max";

  // The child that is left still serves.
  std::vector<pid_t> left = valved->RChildPids();
  HttpResponse pid = HttpGet(valved->port(), "/pid");
  ASSERT_EQ(pid.status, 200) << pid.Describe();
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(JsonNumber(pid.body, "pid"), left[0]);
}

}  // namespace
}  // namespace valved::itest
