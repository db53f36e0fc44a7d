// Lease hand-overs (common/lease_table.h) with the real binary and real R:
// a queued request gets the child its worker's previous request just
// finished with, without the master; max_requests still bounds what a child
// is handed; FIFO holds across two workers; under load, requests wait in
// their worker (local waits) and the master still counts every one.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <functional>
#include <mutex>
#include <regex>
#include <thread>
#include <vector>

#include "tests/integration/status_util.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

class LeaseHandoverIntegrationTest : public StatusTest {
 protected:
  /// Serves the observe fixture with one child, `workers` workers, hand-overs
  /// on and `settings` ("key=value") added.
  bool StartHandingOver(int workers, const std::vector<std::string>& settings = {}) {
    std::vector<std::string> args = {
        "-n", "1", "-w", std::to_string(workers), "--set", "lease_handover=true"};
    for (const std::string& setting : settings) {
      args.push_back("--set");
      args.push_back(setting);
    }
    return StartObservedServing(args) != nullptr;
  }
  /// Holds the only child with a 2 s /sleep and queues `count` requests
  /// behind it, one at a time, each on a connection of its own: `request(i)`
  /// runs in a thread of its own once the queue holds i requests. Returns
  /// once every request has been answered.
  void QueueBehindTheChild(int count, const std::function<void(int)>& request) {
    std::vector<std::thread> threads;
    threads.emplace_back(
        [this] { EXPECT_EQ(HttpGet(instance()->port(), "/sleep?s=2").status, 200); });
    bool held = Eventually(
        30s, [&] { return !MarkerFiles("busy.").empty(); }, "/sleep running");
    for (int i = 0; held && i < count; ++i) {
      threads.emplace_back(request, i);
      if (!QueueReaches(i + 1)) break;
    }
    for (std::thread& t : threads) t.join();
  }
  bool QueueReaches(double length) {
    return Eventually(
        30s, [&] { return JsonNumber(StatusJson(), "length") == length; },
        "queue length " + std::to_string(static_cast<int>(length)));
  }
  double MetricNow(const std::string& name) {
    return Metric(HttpGet(status_port(), "/metrics").body, name);
  }
  /// A worker tells the master of a hand-over a moment after it happened.
  bool HandOversReach(double n) {
    return Eventually(
        10s, [&] { return MetricNow("valved_lease_handovers_total") == n; },
        std::to_string(static_cast<int>(n)) + " hand-overs counted");
  }
  void GetOk(const std::string& target) {
    EXPECT_EQ(HttpGet(instance()->port(), target).status, 200) << target;
  }
  /// Requests served by each child, as the master counts them.
  std::vector<double> ChildRequests() {
    return JsonNumbers(StatusJson(), "requests", "\"children\"", "\"totals\"");
  }
};

TEST_F(LeaseHandoverIntegrationTest, UnderLoadRequestsWaitInTheWorkerAndEveryOneIsCounted) {
  ASSERT_TRUE(StartHandingOver(1));
  std::vector<double> before = ChildRequests();
  ASSERT_EQ(before.size(), 1u);
  constexpr int kClients = 4, kEach = 25;
  std::vector<std::thread> clients;
  for (int c = 0; c < kClients; ++c)
    clients.emplace_back([&] {
      for (int i = 0; i < kEach; ++i) GetOk("/ok");
    });
  for (std::thread& t : clients) t.join();
  double want = before[0] + kClients * kEach;
  // The worker reports what it handed over locally with its counters.
  EXPECT_TRUE(Eventually(
      10s, [&] { return ChildRequests() == std::vector<double>{want}; },
      "the child's count to reach " + std::to_string(want)));
  EXPECT_FALSE(instance()->LogLines(std::regex("for a free child \\(in its worker\\)")).empty())
      << "four clients on one child: some requests waited in the worker";
  EXPECT_TRUE(Eventually(
      10s, [&] { return MetricNow("valved_leases") == 0; }, "the last lease back"));
  EXPECT_EQ(MetricNow("valved_queue_length"), 0);
  GetOk("/ok");
}

TEST_F(LeaseHandoverIntegrationTest, QueuedRequestsOfOneWorkerAreHandedTheChildWithoutTheMaster) {
  ASSERT_TRUE(StartHandingOver(1));
  QueueBehindTheChild(3, [&](int) { GetOk("/ok"); });
  // Each of the three got the child from the request before it.
  EXPECT_TRUE(HandOversReach(3));
  EXPECT_EQ(MetricNow("valved_queued_requests_total"), 3);
  EXPECT_EQ(instance()->LogLines(std::regex("waited .*s for a free child")).size(), 3u);
  // The last lease may linger a moment (one worker) before it goes back.
  EXPECT_TRUE(Eventually(
      10s, [&] { return MetricNow("valved_leases") == 0; }, "every lease handed over ended"));
  EXPECT_EQ(MetricNow(R"(valved_children{state="Ready"})"), 1);
  // And the child serves on.
  GetOk("/ok");
}

TEST_F(LeaseHandoverIntegrationTest, HandOversStopAtMaxRequests) {
  // Successors start fresh and wait at the gate, so the old child alone
  // serves every request here.
  ASSERT_TRUE(
      StartHandingOver(1, {"max_requests=3", "max_requests_jitter=0", "spawn_method=fresh"}));
  std::ofstream(dir() / "gate") << "closed\n";
  QueueBehindTheChild(4, [&](int) { GetOk("/ok"); });
  // The master leased the /sleep (1 of 3); the worker handed the child on
  // twice (3 of 3), then had to RELEASE: the master, which scheduled the
  // replacement at the third request, leases the old child while its
  // successor is not ready.
  EXPECT_TRUE(HandOversReach(2));
  EXPECT_EQ(instance()->LogLines(std::regex("to be replaced: served max_requests \\(3\\)")).size(),
            1u);
  std::filesystem::remove(dir() / "gate");
}

TEST_F(LeaseHandoverIntegrationTest, QueuedRequestsThroughTwoWorkersAreServedInArrivalOrder) {
  ASSERT_TRUE(StartHandingOver(2));
  constexpr int kQueued = 6;
  std::mutex mutex;
  std::vector<int> finished;
  // Each on a connection of its own: the kernel spreads them over both workers.
  QueueBehindTheChild(kQueued, [&](int i) {
    GetOk("/sleep?s=0.3");
    std::lock_guard lock(mutex);
    finished.push_back(i);
  });
  std::vector<int> in_order(kQueued);
  for (int i = 0; i < kQueued; ++i) in_order[i] = i;
  // One child runs them one at a time, 0.3 s each: the order they finish in
  // is the order they got the child in.
  EXPECT_EQ(finished, in_order);
  EXPECT_EQ(MetricNow("valved_queued_requests_total"), kQueued);
}

}  // namespace
}  // namespace valved::itest
