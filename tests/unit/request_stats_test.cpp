// Worker counters: counting, the STATS round trip, and the master's sums.
#include "common/request_stats.h"

#include <gtest/gtest.h>

#include <chrono>

#include "master/request_totals.h"

namespace valved {
namespace {

using std::chrono::milliseconds;

RequestStats Traffic(int ok, int not_found) {
  RequestStats s;
  for (int i = 0; i < ok; ++i) s.CountRequest("GET", 200, milliseconds(2));
  for (int i = 0; i < not_found; ++i) s.CountRequest("POST", 404, milliseconds(30));
  s.queue_wait.Observe(milliseconds(1));
  s.r_time.Observe(milliseconds(1));
  s.bytes_in = 100 * static_cast<uint64_t>(ok);
  s.bytes_out = 7;
  s.connections_accepted = 3;
  s.connections_open = 1;
  return s;
}

TEST(RequestStats, CountsByClassMethodAndRejection) {
  RequestStats s;
  s.CountRequest("GET", 200, milliseconds(1));
  s.CountRequest("DELETE", 503, milliseconds(1));
  s.CountRequest("", 400, milliseconds(0));
  s.CountRejection(503);
  s.CountRejection(599);  // not one of valved's own: ignored
  EXPECT_EQ(s.by_class[1], 1u);
  EXPECT_EQ(s.by_class[3], 1u);
  EXPECT_EQ(s.by_class[4], 1u);
  EXPECT_EQ(s.by_method[0], 1u);   // GET
  EXPECT_EQ(s.by_method[4], 1u);   // DELETE
  EXPECT_EQ(s.by_method[7], 1u);   // other
  EXPECT_EQ(s.rejections[8], 1u);  // 503
  EXPECT_EQ(s.duration.count(), 3u);
}

TEST(RequestStats, RoundTripsThroughStatsMessages) {
  RequestStats sent = Traffic(5, 2);
  sent.queued_in_child = 7;
  RequestStats got;
  std::string error;
  for (const ipc::Stats& m : sent.ToMessages()) {
    auto parsed = ipc::ParseMessage(ipc::FormatMessage(m), &error);
    ASSERT_TRUE(parsed) << error;
    ASSERT_TRUE(got.Apply(std::get<ipc::Stats>(*parsed), &error)) << error;
  }
  EXPECT_EQ(got, sent);
}

TEST(RequestStats, RejectsUnknownFamiliesAndWrongLengths) {
  RequestStats s;
  std::string error;
  EXPECT_FALSE(s.Apply({"bogus", {1}}, &error));
  EXPECT_EQ(error, "STATS: unknown family bogus");
  EXPECT_FALSE(s.Apply({"status", {1, 2}}, &error));
  EXPECT_EQ(error, "STATS status: expected 5 values, got 2");
}

TEST(RequestTotals, SumsLiveWorkersAndKeepsWhatDepartedOnesReported) {
  master::RequestTotals totals;
  std::string error;
  auto report = [&](uint64_t worker, const RequestStats& s) {
    for (const ipc::Stats& m : s.ToMessages()) ASSERT_TRUE(totals.OnStats(worker, m, &error));
  };
  report(1, Traffic(3, 1));
  report(2, Traffic(4, 0));
  report(1, Traffic(5, 1));  // a later report replaces the earlier one
  report(1, Traffic(5, 1));  // and a repeated one changes nothing
  RequestStats total = totals.Total();
  EXPECT_EQ(total.by_class[1], 9u);
  EXPECT_EQ(total.by_class[3], 1u);
  EXPECT_EQ(total.duration.count(), 10u);
  EXPECT_EQ(total.connections_open, 2u);
  totals.OnWorkerGone(1);
  total = totals.Total();
  EXPECT_EQ(total.by_class[1], 9u);       // worker 1's requests stay counted
  EXPECT_EQ(total.connections_open, 1u);  // but not its connections
  EXPECT_EQ(totals.Of(1).by_class[1], 0u);
  report(3, Traffic(1, 0));
  EXPECT_EQ(totals.Total().by_class[1], 10u);
}

}  // namespace
}  // namespace valved
