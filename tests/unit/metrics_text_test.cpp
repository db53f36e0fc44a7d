// The Prometheus text exposition: escaping, histogram buckets, _sum/_count,
// and the /metrics page of a hand-made snapshot.
#include "common/metrics_text.h"

#include <gtest/gtest.h>

#include <chrono>
#include <sstream>

#include "master/status_report.h"

namespace valved {
namespace {

using std::chrono::milliseconds;

TEST(MetricsText, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(MetricsText::EscapeLabel("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(MetricsText::EscapeHelp("x\\y\nz \"q\""), "x\\\\y\\nz \"q\"");
  MetricsText m;
  m.Family("t_total", "counter", "Help with\na newline.");
  m.Sample("t_total", {{"path", "/a\"b"}, {"k", "v"}}, uint64_t{3});
  EXPECT_EQ(m.text(),
            "# HELP t_total Help with\\na newline.\n"
            "# TYPE t_total counter\n"
            "t_total{path=\"/a\\\"b\",k=\"v\"} 3\n");
}

TEST(MetricsText, NumbersAsPrometheusReadsThem) {
  EXPECT_EQ(MetricsText::Number(3), "3");
  EXPECT_EQ(MetricsText::Number(0.25), "0.25");
  EXPECT_EQ(MetricsText::Number(0.005), "0.005");
  EXPECT_EQ(MetricsText::Number(1.0 / 0.0), "+Inf");
  EXPECT_EQ(MetricsText::Number(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(MetricsText::Number(0.0 / 0.0), "NaN");
}

TEST(MetricsText, HistogramBucketsAreCumulativeWithSumAndCount) {
  Histogram h;
  h.Observe(milliseconds(3));            // <= 0.005
  h.Observe(milliseconds(5));            // <= 0.005 (bounds are inclusive)
  h.Observe(milliseconds(70));           // <= 0.1
  h.Observe(std::chrono::seconds(100));  // +Inf only
  MetricsText m;
  m.HistogramSamples("d_seconds", {{"k", "v"}}, h);
  const std::string& t = m.text();
  EXPECT_NE(t.find("d_seconds_bucket{k=\"v\",le=\"0.005\"} 2\n"), std::string::npos) << t;
  EXPECT_NE(t.find("d_seconds_bucket{k=\"v\",le=\"0.05\"} 2\n"), std::string::npos) << t;
  EXPECT_NE(t.find("d_seconds_bucket{k=\"v\",le=\"0.1\"} 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("d_seconds_bucket{k=\"v\",le=\"60\"} 3\n"), std::string::npos) << t;
  EXPECT_NE(t.find("d_seconds_bucket{k=\"v\",le=\"+Inf\"} 4\n"), std::string::npos) << t;
  EXPECT_NE(t.find("d_seconds_sum{k=\"v\"} 100.078\n"), std::string::npos) << t;
  EXPECT_NE(t.find("d_seconds_count{k=\"v\"} 4\n"), std::string::npos) << t;
  // One bucket line per bound plus +Inf, in increasing order.
  size_t buckets = 0;
  for (size_t at = 0; (at = t.find("_bucket{", at)) != std::string::npos; ++at) ++buckets;
  EXPECT_EQ(buckets, Histogram::kBuckets);
}

TEST(MetricsText, SnapshotExpositionHasEveryFamilyWithHelpAndType) {
  master::StatusSnapshot s;
  s.version = "0.1.0";
  s.n_max = 4;
  for (const char* state : {"Busy", "Ready", "Busy"}) {
    master::ChildStatus child;
    child.state = state;
    child.leases = child.state == "Busy" ? 1 : 0;
    s.children.push_back(child);
  }
  s.requests.CountRequest("GET", 200, milliseconds(10));
  s.requests.CountRequest("BREW", 404, milliseconds(20));
  s.requests.CountRejection(413);
  std::string text = master::MetricsExposition(s);
  EXPECT_NE(text.find("valved_requests_total{class=\"2xx\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("valved_requests_total{class=\"4xx\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("valved_requests_by_method_total{method=\"other\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("valved_rejections_total{status=\"413\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("valved_children{state=\"Busy\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("valved_children_busy_ratio 0.5\n"), std::string::npos);
  EXPECT_NE(text.find("valved_leases 2\n"), std::string::npos);
  s.max_concurrency_per_child = 4;
  s.children[0].leases = 4;
  EXPECT_NE(master::MetricsExposition(s).find("valved_children_busy_ratio 0.3125\n"),
            std::string::npos)
      << "5 leases of 4 x 4";
  EXPECT_NE(text.find("valved_request_duration_seconds_count 2\n"), std::string::npos);
  // Every sample belongs to a family announced just before with HELP and TYPE.
  std::istringstream lines(text);
  std::string line, family;
  while (std::getline(lines, line)) {
    if (line.rfind("# HELP ", 0) == 0) {
      family = line.substr(7, line.find(' ', 7) - 7);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      EXPECT_EQ(line.substr(7, family.size()), family);
      continue;
    }
    EXPECT_EQ(line.rfind(family, 0), 0u) << line << " outside family " << family;
  }
}

}  // namespace
}  // namespace valved
