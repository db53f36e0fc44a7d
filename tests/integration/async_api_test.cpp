// An async plumber API (tests/fixtures/async.R: endpoints returning
// promises::future_promise()) keeps its concurrency under valved with
// max_concurrency_per_child, and gets one request at a time per child
// without it. The fixture counts the requests one R process holds, so
// nothing here depends on timing.
#include <future>
#include <string>
#include <vector>

#include "tests/integration/status_util.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

class AsyncApiTest : public ValvedTest {
 protected:
  /// valved on the async fixture with one R child, two workers (so leases
  /// on the child come from both), a status listener and `args`.
  Valved* StartAsync(const std::vector<std::string>& args) {
    status_port_ = FreePort();
    std::vector<std::string> all = {"-f",
                                    Fixture("async.R"),
                                    "-n",
                                    "1",
                                    "--n-min",
                                    "1",
                                    "-w",
                                    "2",
                                    "--spawn-method",
                                    "fresh",
                                    "--status-listen",
                                    "127.0.0.1:" + std::to_string(status_port_)};
    all.insert(all.end(), args.begin(), args.end());
    // The future workers are R processes of their own: the fixture's exit
    // hook stops them, and they leave a moment after their R child.
    ExpectOrphans();
    return StartServing(all);
  }
  double Leases() const {
    return Metric(HttpGet(status_port_, "/metrics", 10s).body, "valved_leases");
  }
  /// Sends `count` GET /sleep?s=`seconds` at once, each on its own thread.
  static std::vector<std::future<HttpResponse>> SleepAll(int port, int count,
                                                         const std::string& seconds) {
    std::vector<std::future<HttpResponse>> answers;
    for (int i = 0; i < count; ++i)
      answers.push_back(std::async(std::launch::async, [port, seconds] {
        return HttpGet(port, "/sleep?s=" + seconds, 60s);
      }));
    return answers;
  }

  int status_port_ = 0;
};

TEST_F(AsyncApiTest, OneChildHoldsSeveralRequestsWithMaxConcurrencyPerChild) {
  Valved* valved = StartAsync({"--max-concurrency-per-child", "4"});
  ASSERT_NE(valved, nullptr);
  int port = valved->port();

  // Three requests that wait on futures; the master grants three leases on
  // its only child while none of them has answered.
  auto slow = SleepAll(port, 3, "3");
  ASSERT_TRUE(Eventually(
      30s, [&] { return Leases() == 3; }, "3 leases on the one child"));
  // A fourth request is answered while the three are still held by the same R.
  HttpResponse now = HttpGet(port, "/now", 30s);
  ASSERT_EQ(now.status, 200) << now.Describe();
  EXPECT_EQ(JsonNumber(now.body, "now"), 3)
      << "requests the R child held besides this one: " << now.Describe();
  std::optional<double> pid = JsonNumber(now.body, "pid");
  for (auto& answer : slow) {
    HttpResponse r = answer.get();
    ASSERT_EQ(r.status, 200) << r.Describe();
    EXPECT_EQ(JsonNumber(r.body, "pid"), pid) << "n_max 1: the same R child";
    EXPECT_EQ(JsonNumber(r.body, "most"), 3) << r.Describe();
  }
  EXPECT_TRUE(Eventually(
      10s, [&] { return Leases() == 0; }, "every lease released"));
  std::string status = HttpGet(status_port_, "/status", 10s).body;
  EXPECT_NE(status.find("\"max_concurrency_per_child\": 4"), std::string::npos) << status;
  EXPECT_EQ(valved->RChildPids().size(), 1u) << "no second child was needed";
}

TEST_F(AsyncApiTest, WithoutItAChildHoldsOneRequestAtATime) {
  Valved* valved = StartAsync({});
  ASSERT_NE(valved, nullptr);
  auto slow = SleepAll(valved->port(), 2, "1");
  for (auto& answer : slow) {
    HttpResponse r = answer.get();
    ASSERT_EQ(r.status, 200) << r.Describe();
    EXPECT_EQ(JsonNumber(r.body, "most"), 1) << "max_concurrency_per_child 1: " << r.Describe();
  }
}

}  // namespace
}  // namespace valved::itest
