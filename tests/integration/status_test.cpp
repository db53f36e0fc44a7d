// The status listener against real R children: /readyz and /livez through a
// start and a stop, and exact counters in /metrics and /status after known
// traffic through two workers.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "tests/integration/status_util.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

TEST_F(StatusTest, ReadyzFollowsTheChildrenAndTheStop) {
  std::ofstream(dir() / "gate") << "closed\n";  // the children's API waits for this to go
  Valved& valved = StartObserved({"--n-min", "2", "-n", "3"});
  HttpResponse first;
  ASSERT_TRUE(Eventually(
      60s, [&] { return (first = HttpGet(status_port(), "/readyz", 5s)).status != 0; },
      "the status listener answers"));
  EXPECT_EQ(first.status, 503) << first.Describe();
  EXPECT_EQ(first.body, "not ready: 0 of 2 R children ready\n");
  EXPECT_TRUE(Eventually(
      30s, [&] { return HttpGet(status_port(), "/livez").status == 200; }, "/livez 200"));
  std::filesystem::remove(dir() / "gate");
  ASSERT_TRUE(Eventually(
      120s, [&] { return HttpGet(status_port(), "/readyz", 5s).status == 200; }, "/readyz 200"));
  EXPECT_EQ(HttpGet(status_port(), "/readyz").body, "ready: 2 of 2 R children ready\n");

  // A graceful stop waits for the request in flight; meanwhile not ready.
  std::thread slow([&] { EXPECT_EQ(HttpGet(valved.port(), "/sleep?s=3").status, 200); });
  ASSERT_TRUE(Eventually(
      30s, [&] { return !MarkerFiles("busy.").empty(); }, "/sleep running"));
  valved.Signal(SIGTERM);
  ASSERT_TRUE(Eventually(
      20s, [&] { return HttpGet(status_port(), "/readyz", 5s).body == "stopping\n"; },
      "/readyz says stopping"));
  EXPECT_EQ(HttpGet(status_port(), "/readyz").status, 503);
  slow.join();
  EXPECT_TRUE(valved.WaitExit(45s).has_value());
}

TEST_F(StatusTest, ClientsOutsideStatusAllowGet403) {
  ASSERT_NE(StartObservedServing({"--status-allow", "10.0.0.0/8"}), nullptr);
  HttpResponse refused = HttpGet(status_port(), "/metrics");
  EXPECT_EQ(refused.status, 403) << refused.Describe();
  EXPECT_EQ(HttpGet(status_port(), "/nothing-here").status, 403);
}

TEST_F(StatusTest, PagesAndTheirTypes) {
  ASSERT_NE(StartObservedServing({}), nullptr);
  HttpResponse metrics = HttpGet(status_port(), "/metrics");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_EQ(metrics.Header("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  HttpResponse status = HttpGet(status_port(), "/status");
  EXPECT_EQ(status.Header("content-type"), "application/json");
  EXPECT_EQ(JsonNumber(status.body, "master_pid"), instance()->pid());
  HttpResponse page = HttpGet(status_port(), "/");
  EXPECT_NE(page.body.find("<table id=\"children\">"), std::string::npos);
  EXPECT_EQ(HttpGet(status_port(), "/nothing-here").status, 404);
  RunResult cli =
      RunToExit({"-s", "status", "--status-listen", "127.0.0.1:" + std::to_string(status_port())});
  EXPECT_EQ(cli.ExitCode(), 0) << cli.output;
  EXPECT_NE(cli.output.find("R children (0 of n_max 3 busy):"), std::string::npos) << cli.output;
  EXPECT_NE(cli.output.find("Ready"), std::string::npos) << cli.output;
  HttpRequest post;
  post.method = "POST";
  post.target = "/status";
  EXPECT_EQ(HttpConnection(status_port()).Send(post).status, 405);
}

TEST_F(StatusTest, ExactCountersAfterKnownTrafficThroughTwoWorkers) {
  Valved* valved = StartObservedServing(
      {"-w", "2", "-n", "1", "--n-min", "1", "--max-queue", "1", "--max-body-size", "1k"});
  ASSERT_NE(valved, nullptr);
  int port = valved->port();
  // 35 x 200 and 5 x 404 on fresh connections, so both workers get some.
  for (int i = 0; i < 35; ++i) ASSERT_EQ(HttpGet(port, "/ok").status, 200) << i;
  for (int i = 0; i < 5; ++i) ASSERT_EQ(HttpGet(port, "/missing").status, 404) << i;
  // 1 x 413: refused before any child is asked for.
  ASSERT_EQ(HttpPost(port, "/upload", std::string(2048, 'x')).status, 413);
  // The only child busy, one request queued, then 3 x 503 from a full queue.
  std::thread slow([&] { EXPECT_EQ(HttpGet(port, "/sleep?s=2").status, 200); });
  ASSERT_TRUE(Eventually(
      30s, [&] { return !MarkerFiles("busy.").empty(); }, "/sleep running"));
  std::thread queued([&] { EXPECT_EQ(HttpGet(port, "/ok").status, 200); });
  ASSERT_TRUE(Eventually(
      30s, [&] { return JsonNumber(StatusJson(), "length") == 1; }, "one request queued"));
  for (int i = 0; i < 3; ++i) ASSERT_EQ(HttpGet(port, "/ok").status, 503) << i;
  slow.join();
  queued.join();

  // 46 requests: 37 x 200, 5 x 404, 1 x 413, 3 x 503. Workers report within
  // a fraction of a second; wait for the last one to arrive.
  std::string m;
  ASSERT_TRUE(Eventually(
      10s,
      [&] {
        m = HttpGet(status_port(), "/metrics").body;
        return Metric(m, "valved_request_duration_seconds_count") == 46;
      },
      "46 requests counted"));
  EXPECT_EQ(Metric(m, R"(valved_requests_total{class="2xx"})"), 37) << m;
  EXPECT_EQ(Metric(m, R"(valved_requests_total{class="4xx"})"), 6);
  EXPECT_EQ(Metric(m, R"(valved_requests_total{class="5xx"})"), 3);
  EXPECT_EQ(Metric(m, R"(valved_requests_by_method_total{method="GET"})"), 45);
  EXPECT_EQ(Metric(m, R"(valved_requests_by_method_total{method="POST"})"), 1);
  EXPECT_EQ(Metric(m, R"(valved_rejections_total{status="413"})"), 1);
  EXPECT_EQ(Metric(m, R"(valved_rejections_total{status="503"})"), 3);
  EXPECT_EQ(Metric(m, R"(valved_queue_denials_total{reason="queue_full"})"), 3);
  // Requests that waited: the one queued behind /sleep, and any that asked
  // while the child's previous lease was not yet released (rare since a
  // worker's RELEASE leaves before the response it ends, but the master reads
  // each worker's channel in its own turn). The master logs each one it grants.
  size_t waited = instance()->LogLines(std::regex("waited .*s for a free child")).size();
  EXPECT_GE(waited, 1u);
  EXPECT_EQ(Metric(m, "valved_queued_requests_total"), static_cast<double>(waited));
  // Every request but the 413 asked for a child; 42 got one (37 + 5).
  EXPECT_EQ(Metric(m, "valved_queue_wait_seconds_count"), 45);
  EXPECT_EQ(Metric(m, R"(valved_queue_wait_seconds_bucket{le="+Inf"})"), 45);
  EXPECT_EQ(Metric(m, "valved_r_duration_seconds_count"), 42);
  EXPECT_EQ(Metric(m, R"(valved_request_duration_seconds_bucket{le="+Inf"})"), 46);
  // The /sleep and the request queued behind it took 2 s or more.
  EXPECT_LE(Metric(m, R"(valved_request_duration_seconds_bucket{le="1"})"), 44);
  EXPECT_GE(Metric(m, "valved_request_duration_seconds_sum"), 2.0);
  EXPECT_EQ(Metric(m, "valved_connections_accepted_total"), 46);
  EXPECT_EQ(Metric(m, R"(valved_children{state="Ready"})"), 1);
  EXPECT_EQ(Metric(m, "valved_child_spawns_total"), 1);
  EXPECT_EQ(Metric(m, "valved_child_spawn_duration_seconds_count"), 1);
  EXPECT_EQ(Metric(m, "valved_workers"), 2);
  EXPECT_EQ(Metric(m, "valved_ready"), 1);

  std::string status = StatusJson();
  EXPECT_EQ(JsonNumbers(status, "requests", "\"totals\"", ""), std::vector<double>{46}) << status;
  // Both workers served some of the 46 connections, and their counts add up.
  double per_worker = 0;
  int workers_with_requests = 0;
  for (double n : JsonNumbers(status, "requests", "\"workers\"", "\"children\"")) {
    per_worker += n;
    workers_with_requests += n > 0;
  }
  EXPECT_EQ(per_worker, 46);
  EXPECT_EQ(workers_with_requests, 2) << status;
  // The child served 42 requests (each lease counts).
  EXPECT_EQ(JsonNumbers(status, "requests", "\"children\"", "\"totals\""), std::vector<double>{42});
}

}  // namespace
}  // namespace valved::itest
