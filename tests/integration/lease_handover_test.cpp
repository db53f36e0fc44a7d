// Lease hand-overs (common/lease_table.h) with the real binary and real R:
// a queued request gets the child its worker's previous request just
// finished with, without the master; max_requests still bounds what a child
// is handed; FIFO holds across two workers.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
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
  /// Holds the only child with /sleep?s=`seconds` in a thread; returns once it runs.
  std::thread HoldTheChild(int seconds) {
    std::thread slow([this, seconds] {
      EXPECT_EQ(HttpGet(instance()->port(), "/sleep?s=" + std::to_string(seconds)).status, 200);
    });
    EXPECT_TRUE(Eventually(
        30s, [&] { return !MarkerFiles("busy.").empty(); }, "/sleep running"));
    return slow;
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
};

TEST_F(LeaseHandoverIntegrationTest, QueuedRequestsOfOneWorkerAreHandedTheChildWithoutTheMaster) {
  ASSERT_NE(StartObservedServing({"-n", "1", "-w", "1", "--set", "lease_handover=true"}), nullptr);
  std::thread slow = HoldTheChild(2);
  std::vector<std::thread> queued;
  for (int i = 0; i < 3; ++i) {
    queued.emplace_back([&] { EXPECT_EQ(HttpGet(instance()->port(), "/ok").status, 200); });
    ASSERT_TRUE(QueueReaches(i + 1));
  }
  slow.join();
  for (std::thread& t : queued) t.join();
  // Each of the three got the child from the request before it.
  EXPECT_TRUE(HandOversReach(3));
  EXPECT_EQ(MetricNow("valved_queued_requests_total"), 3);
  EXPECT_EQ(instance()->LogLines(std::regex("waited .*s for a free child")).size(), 3u);
  EXPECT_EQ(MetricNow("valved_leases"), 0) << "every lease handed over ended";
  EXPECT_EQ(MetricNow(R"(valved_children{state="Ready"})"), 1);
  // And the child serves on.
  EXPECT_EQ(HttpGet(instance()->port(), "/ok").status, 200);
}

TEST_F(LeaseHandoverIntegrationTest, HandOversStopAtMaxRequests) {
  // Successors start fresh and wait at the gate, so the old child alone
  // serves every request here.
  ASSERT_NE(StartObservedServing({"-n", "1", "-w", "1", "--set", "lease_handover=true", "--set",
                                  "max_requests=3", "--set", "max_requests_jitter=0", "--set",
                                  "spawn_method=fresh"}),
            nullptr);
  std::ofstream(dir() / "gate") << "closed\n";
  std::thread slow = HoldTheChild(2);
  std::vector<std::thread> queued;
  for (int i = 0; i < 4; ++i) {
    queued.emplace_back([&] { EXPECT_EQ(HttpGet(instance()->port(), "/ok").status, 200); });
    ASSERT_TRUE(QueueReaches(i + 1));
  }
  slow.join();
  for (std::thread& t : queued) t.join();
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
  ASSERT_NE(StartObservedServing({"-n", "1", "-w", "2", "--set", "lease_handover=true"}), nullptr);
  std::thread slow = HoldTheChild(2);
  constexpr int kQueued = 6;
  std::mutex mutex;
  std::vector<int> finished;
  std::vector<std::thread> queued;
  for (int i = 0; i < kQueued; ++i) {
    // Each on a connection of its own: the kernel spreads them over both workers.
    queued.emplace_back([&, i] {
      EXPECT_EQ(HttpGet(instance()->port(), "/sleep?s=0.3").status, 200);
      std::lock_guard lock(mutex);
      finished.push_back(i);
    });
    ASSERT_TRUE(QueueReaches(i + 1));
  }
  slow.join();
  for (std::thread& t : queued) t.join();
  std::vector<int> in_order(kQueued);
  for (int i = 0; i < kQueued; ++i) in_order[i] = i;
  // One child runs them one at a time, 0.3 s each: the order they finish in
  // is the order they got the child in.
  EXPECT_EQ(finished, in_order);
  EXPECT_EQ(MetricNow("valved_queued_requests_total"), kQueued);
}

}  // namespace
}  // namespace valved::itest
