// The PromQL that deploy/kubernetes/autoscaling scales on, evaluated by
// Prometheus' own engine (`promtool test rules`) on series shaped like
// valved's /metrics from two pods: the KEDA triggers' queries and the
// prometheus-adapter's metricsQuery templates must parse and give the sums
// and averages deploy/kubernetes/README.md's arithmetic assumes.
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <fstream>

#include "master/executable_path.h"
#include "tests/integration/valved_harness.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

const std::string kAutoscaling = std::string(VALVED_SOURCE_DIR) + "/deploy/kubernetes/autoscaling";

// Two pods, 15 s scrapes for 3 minutes: busy ratios 0.5 and 0.9, queues 3 and 1.
constexpr const char* kSeries = R"(    input_series:
      - series: 'valved_children_busy_ratio{namespace="default",pod="valved-a"}'
        values: '0.5x12'
      - series: 'valved_children_busy_ratio{namespace="default",pod="valved-b"}'
        values: '0.9x12'
      - series: 'valved_queue_length{namespace="default",pod="valved-a"}'
        values: '3x12'
      - series: 'valved_queue_length{namespace="default",pod="valved-b"}'
        values: '1x12'
)";

// One promql_expr_test: `expr` at 2 minutes is `value`, with `labels`.
std::string ExprTest(const std::string& expr, const std::string& labels, double value) {
  YAML::Emitter e;
  e << YAML::BeginSeq << YAML::BeginMap << YAML::Key << "expr" << YAML::Value << expr << YAML::Key
    << "eval_time" << YAML::Value << "2m" << YAML::Key << "exp_samples" << YAML::Value
    << YAML::BeginSeq << YAML::BeginMap << YAML::Key << "labels" << YAML::Value << labels
    << YAML::Key << "value" << YAML::Value << value << YAML::EndMap << YAML::EndSeq << YAML::EndMap
    << YAML::EndSeq;
  std::string text = e.c_str(), indented;
  for (size_t start = 0; start < text.size();) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    indented += "      " + text.substr(start, end - start) + "\n";
    start = end + 1;
  }
  return indented;
}

// The adapter's template with what it fills in for pod valved-a.
std::string AdapterQuery(const YAML::Node& rule) {
  std::string query = rule["metricsQuery"].as<std::string>();
  std::string series = rule["seriesQuery"].as<std::string>();
  auto replace = [&](const std::string& from, const std::string& to) {
    size_t at = query.find(from);
    EXPECT_NE(at, std::string::npos) << from << " is not in " << query;
    if (at != std::string::npos) query.replace(at, from.size(), to);
  };
  replace("<<.Series>>", series.substr(0, series.find('{')));
  replace("<<.LabelMatchers>>", R"(namespace="default",pod="valved-a")");
  return query;
}

class DeployQueriesTest : public ValvedTest {};

TEST_F(DeployQueriesTest, AutoscalingQueriesGiveWhatTheReadmeArithmeticAssumes) {
  std::string promtool = master::FindExecutable("promtool");
  if (promtool.empty())
    GTEST_SKIP() << "promtool is not installed (scripts/install-deps.sh installs Debian's "
                    "prometheus package, which has it)";
  std::string tests;
  YAML::Node keda = YAML::LoadFile(kAutoscaling + "/keda/scaledobject.yaml");
  std::vector<double> keda_sums = {0.5 + 0.9, 3 + 1};  // busy ratios, queue lengths
  ASSERT_EQ(keda["spec"]["triggers"].size(), keda_sums.size());
  for (size_t i = 0; i < keda_sums.size(); ++i) {
    std::string query = keda["spec"]["triggers"][i]["metadata"]["query"].as<std::string>();
    tests += ExprTest(query, "{}", keda_sums[i]);
  }
  YAML::Node adapter = YAML::LoadFile(kAutoscaling + "/hpa/prometheus-adapter-values.yaml");
  std::vector<std::pair<std::string, double>> adapter_values = {{"valved_children_busy_ratio", 0.5},
                                                                {"valved_queue_length", 3}};
  ASSERT_EQ(adapter["rules"]["custom"].size(), adapter_values.size());
  for (size_t i = 0; i < adapter_values.size(); ++i) {
    const auto& [name, value] = adapter_values[i];
    const YAML::Node& rule = adapter["rules"]["custom"][i];
    EXPECT_TRUE(rule["seriesQuery"].as<std::string>().starts_with(name + "{"));
    tests += ExprTest(AdapterQuery(rule), R"({namespace="default",pod="valved-a"})", value);
  }

  std::filesystem::path file = dir() / "autoscaling_test.yaml";
  std::ofstream(file) << "evaluation_interval: 1m\ntests:\n  - interval: 15s\n"
                      << kSeries << "    promql_expr_test:\n"
                      << tests;
  RunResult run = RunProgram(promtool, {"test", "rules", file.string()}, 60s);
  EXPECT_EQ(run.ExitCode(), 0) << run.Describe() << "\n" << run.output;
  EXPECT_NE(run.output.find("SUCCESS"), std::string::npos) << run.output;
}

}  // namespace
}  // namespace valved::itest
