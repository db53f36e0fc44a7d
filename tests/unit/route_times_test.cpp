// RouteTimes (worker/route_times.h): which routes' requests have lately been
// quick in R, for queue_in_child.
#include "worker/route_times.h"

#include <gtest/gtest.h>

#include <string>

namespace valved::worker {
namespace {

using namespace std::chrono_literals;

TEST(RouteTimesTest, ARouteIsQuickOnlyAfterEnoughQuickSamples) {
  RouteTimes times(10ms);
  EXPECT_FALSE(times.IsQuick("GET", "/echo")) << "not seen yet";
  for (uint32_t i = 1; i < RouteTimes::kMinSamples; ++i) times.Record("GET", "/echo", 2ms);
  EXPECT_FALSE(times.IsQuick("GET", "/echo")) << "too few samples";
  times.Record("GET", "/echo", 2ms);
  EXPECT_TRUE(times.IsQuick("GET", "/echo"));
  EXPECT_FALSE(times.IsQuick("POST", "/echo")) << "the method is part of the route";
}

TEST(RouteTimesTest, TheQueryIsNotPartOfTheRouteAndAbsoluteTargetsMeetTheirPath) {
  RouteTimes times(10ms);
  for (int i = 0; i < 4; ++i) times.Record("GET", "/echo?msg=" + std::to_string(i), 1ms);
  EXPECT_TRUE(times.IsQuick("GET", "/echo"));
  EXPECT_TRUE(times.IsQuick("GET", "http://example.org:8000/echo?msg=x"));
  EXPECT_FALSE(times.IsQuick("GET", "/echo/more"));
}

TEST(RouteTimesTest, OneSlowRequestMakesTheRouteSlowAtOnceAndQuickRequestsBringItBack) {
  RouteTimes times(10ms);
  for (int i = 0; i < 8; ++i) times.Record("GET", "/fit", 1ms);
  times.Record("GET", "/fit", 2s);
  EXPECT_FALSE(times.IsQuick("GET", "/fit"));
  int quick_after = 0;
  while (!times.IsQuick("GET", "/fit") && quick_after < 1000) {
    times.Record("GET", "/fit", 1ms);
    ++quick_after;
  }
  // 2 s decays below 10 ms by 7/8 per sample in ~40 samples.
  EXPECT_GT(quick_after, 20);
  EXPECT_LT(quick_after, 60);
}

TEST(RouteTimesTest, NeverQuickWhenQueueingInAChildIsOff) {
  RouteTimes times(0ms);
  for (int i = 0; i < 8; ++i) times.Record("GET", "/echo", 1ms);
  EXPECT_FALSE(times.IsQuick("GET", "/echo"));
}

TEST(RouteTimesTest, AFullTableStartsAgainEmpty) {
  RouteTimes times(10ms);
  for (int i = 0; i < 4; ++i) times.Record("GET", "/first", 1ms);
  for (size_t i = 0; i + 1 < RouteTimes::kMaxRoutes; ++i)
    times.Record("GET", "/users/" + std::to_string(i), 1ms);
  EXPECT_TRUE(times.IsQuick("GET", "/first")) << "the table holds kMaxRoutes routes";
  times.Record("GET", "/one-too-many", 1ms);
  EXPECT_FALSE(times.IsQuick("GET", "/first")) << "relearned from empty";
}

}  // namespace
}  // namespace valved::worker
