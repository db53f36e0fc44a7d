// valved's real /metrics, after traffic of every kind and a reload, passes
// `promtool check metrics` (Debian's prometheus package): names, HELP and
// TYPE lines, unit suffixes, counter and histogram conventions. The same
// test reads what the reload did in /status and /metrics.
#include <gtest/gtest.h>

#include <csignal>
#include <fstream>
#include <regex>

#include "master/executable_path.h"
#include "tests/integration/status_util.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

class MetricsLintTest : public StatusTest {
 protected:
  /// `promtool check metrics` on `exposition`: its complaints ("" when none).
  RunResult Promtool(const std::string& promtool, const std::string& exposition) {
    std::filesystem::path file = dir() / ("metrics." + std::to_string(++checks_) + ".txt");
    std::ofstream(file) << exposition;
    return RunProgram("/bin/sh", {"-c", "exec \"$0\" check metrics < \"$1\"", promtool, file}, 60s);
  }

 private:
  int checks_ = 0;
};

TEST_F(MetricsLintTest, PromtoolFindsNoProblemAfterTrafficAndAReload) {
  std::string promtool = master::FindExecutable("promtool");
  if (promtool.empty())
    GTEST_SKIP() << "promtool is not installed (scripts/install-deps.sh installs Debian's "
                    "prometheus package, which has it)";
  // promtool does complain: a counter without _total.
  RunResult bad =
      Promtool(promtool, "# HELP x_count A count.\n# TYPE x_count counter\nx_count 1\n");
  EXPECT_NE(bad.ExitCode(), 0) << bad.output;
  EXPECT_NE(bad.output.find("_total"), std::string::npos) << bad.output;

  Valved* valved = StartObservedServing({"-n", "2", "--max-body-size", "1k"});
  ASSERT_NE(valved, nullptr);
  int port = valved->port();
  ASSERT_EQ(HttpGet(port, "/ok").status, 200);
  ASSERT_EQ(HttpGet(port, "/missing").status, 404);
  ASSERT_EQ(HttpGet(port, "/fail").status, 500);
  ASSERT_EQ(HttpPost(port, "/upload", std::string(2048, 'x')).status, 413);
  ASSERT_EQ(HttpPost(port, "/upload", "small", "text/plain").status, 200);

  valved->Signal(SIGHUP);
  std::string status;
  ASSERT_TRUE(Eventually(
      120s,
      [&] {
        status = StatusJson();
        return std::regex_search(status, std::regex(R"("last_reload"\s*:\s*"ok")"));
      },
      "/status says the reload took over"));
  std::vector<double> age = JsonNumbers(status, "last_reload_age_seconds", "", "");
  ASSERT_EQ(age.size(), 1u) << status;
  EXPECT_GE(age[0], 0);
  EXPECT_EQ(JsonNumbers(status, "generation", "\"uptime_seconds\"", "\"n_min\""),
            std::vector<double>{1});

  std::string m;
  ASSERT_TRUE(Eventually(
      10s,
      [&] {
        m = HttpGet(status_port(), "/metrics").body;
        return Metric(m, "valved_request_duration_seconds_count") == 5;
      },
      "5 requests counted"));
  EXPECT_EQ(Metric(m, R"(valved_reloads_total{result="ok"})"), 1) << m;
  EXPECT_EQ(Metric(m, "valved_last_reload_successful"), 1);
  EXPECT_GE(Metric(m, "valved_last_reload_timestamp_seconds"),
            Metric(m, "valved_start_time_seconds"));

  RunResult lint = Promtool(promtool, m);
  EXPECT_TRUE(lint.exited) << lint.Describe();
  EXPECT_EQ(lint.ExitCode(), 0) << lint.output;
  EXPECT_EQ(lint.output, "") << "promtool check metrics complains about /metrics";
}

}  // namespace
}  // namespace valved::itest
