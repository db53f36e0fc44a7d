// queue_in_child (worker/master_link.h, worker/route_times.h) with the real
// binary and real R: while every child is busy, a waiting request is sent to
// a child behind a request on a quick route, each answer still reaches its
// own client, and a route that has been slow never has a request queued
// behind it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/status_util.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

class QueueInChildTest : public StatusTest {
 protected:
  // 2 s: on a loaded 2-core machine a quick request may take tens of
  // milliseconds in R, and these tests are about which routes qualify.
  bool StartQueueing(int children) {
    return StartObservedServing({"-n", std::to_string(children), "--n-min",
                                 std::to_string(children), "-w", "1", "--log-level", "debug",
                                 "--set", "queue_in_child=2s"}) != nullptr;
  }
  void GetOk(const std::string& target) {
    EXPECT_EQ(HttpGet(instance()->port(), target).status, 200) << target;
  }
  /// `clients` threads, each sending `each` GET /echo one after another and
  /// checking that the answer names its own request. Returns the slowest, in ms.
  int64_t EchoFrom(int clients, int each) {
    std::atomic<int64_t> slowest{0};
    std::vector<std::thread> threads;
    for (int c = 0; c < clients; ++c)
      threads.emplace_back([&, c] {
        for (int i = 0; i < each; ++i) {
          std::string msg = std::to_string(c) + "-" + std::to_string(i);
          auto start = std::chrono::steady_clock::now();
          HttpResponse response = HttpGet(instance()->port(), "/echo?msg=" + msg);
          int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                           std::chrono::steady_clock::now() - start)
                           .count();
          int64_t seen = slowest.load();
          while (ms > seen && !slowest.compare_exchange_weak(seen, ms)) {
          }
          EXPECT_EQ(response.status, 200) << msg;
          EXPECT_NE(response.body.find("\"" + msg + "\""), std::string::npos)
              << msg << " got " << response.body;
        }
      });
    for (std::thread& t : threads) t.join();
    return slowest.load();
  }
  size_t QueuedInChild() const {
    return instance()->LogLines(std::regex("queued in child#")).size();
  }
  double MetricNow(const std::string& name) {
    return Metric(HttpGet(status_port(), "/metrics").body, name);
  }
};

TEST_F(QueueInChildTest, WaitingRequestsQueueInTheBusyChildAndEachGetsItsOwnAnswer) {
  ASSERT_TRUE(StartQueueing(1));
  for (int i = 0; i < 5; ++i) GetOk("/echo?msg=learn");  // the route is quick now
  EchoFrom(4, 25);
  size_t queued = QueuedInChild();
  EXPECT_GT(queued, 0u) << "four clients on one child: some requests queued in it";
  // Operators see them: the worker reports its counters every 100 ms.
  EXPECT_TRUE(Eventually(
      10s,
      [&] {
        return MetricNow("valved_requests_queued_in_child_total") == static_cast<double>(queued);
      },
      std::to_string(queued) + " queued in a child, as the log says"));
  // Every request was counted, and the lease went back once the last was done.
  EXPECT_TRUE(Eventually(
      10s, [&] { return MetricNow("valved_leases") == 0; }, "the last lease back"));
  EXPECT_TRUE(Eventually(
      10s, [&] { return MetricNow("valved_queue_length") == 0; }, "nobody waiting"));
  GetOk("/ok");
}

TEST_F(QueueInChildTest, NothingQueuesBehindARouteThatWasSlow) {
  ASSERT_TRUE(StartQueueing(2));
  for (int i = 0; i < 5; ++i) GetOk("/sleep?s=0");  // quick, until:
  GetOk("/sleep?s=2.5");                            // slower than queue_in_child
  for (int i = 0; i < 5; ++i) GetOk("/echo?msg=learn");
  std::thread slow([&] { GetOk("/sleep?s=8"); });
  ASSERT_TRUE(Eventually(
      30s, [&] { return !MarkerFiles("busy.").empty(); }, "/sleep running"));
  // Both children busy: the waiters queue behind the /echo child, never
  // behind the /sleep one (where they would wait ~8 s).
  int64_t slowest = EchoFrom(4, 15);
  EXPECT_LT(slowest, 5000) << "an /echo waited behind the 8 s /sleep";
  EXPECT_GT(QueuedInChild(), 0u) << "requests queued behind the quick child";
  slow.join();
}

TEST_F(QueueInChildTest, ZeroNeverQueuesInAChild) {
  ASSERT_NE(StartObservedServing(
                {"-n", "1", "-w", "1", "--log-level", "debug", "--set", "queue_in_child=0"}),
            nullptr);
  for (int i = 0; i < 5; ++i) GetOk("/echo?msg=learn");
  EchoFrom(4, 10);
  EXPECT_EQ(QueuedInChild(), 0u);
  EXPECT_EQ(MetricNow("valved_requests_queued_in_child_total"), 0);
}

}  // namespace
}  // namespace valved::itest
