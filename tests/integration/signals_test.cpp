// Stopping valved: SIGTERM lets requests in flight finish, SIGINT is fast;
// both leave no process, socket or runtime directory behind.
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <thread>

#include "tests/integration/valved_harness.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

class SignalsTest : public ValvedTest {
 protected:
  /// No R process, worker or zombie, no socket file, no runtime directory.
  void ExpectCleanedUp() {
    for (const ProcInfo& p : StrayChildren()) ADD_FAILURE() << "left behind: " << p.Describe();
    EXPECT_TRUE(Valved::RuntimeDirs(dir()).empty()) << "runtime directory left behind";
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir(), ec); it != fs::end(it);
         it.increment(ec)) {
      EXPECT_FALSE(it->is_socket()) << "socket file left behind: " << it->path();
    }
  }
};

TEST_F(SignalsTest, TermLetsTheRequestInFlightFinishThenCleansUp) {
  Valved* valved = StartServing({"-f", Fixture("hello.R"), "-n", "2", "--n-min", "1", "-w", "1"});
  ASSERT_NE(valved, nullptr);
  HttpResponse response;
  std::thread request([&] { response = HttpGet(valved->port(), "/sleep?s=3", 90s); });
  bool busy = Eventually(
      60s, [&] { return MarkerPids("busy.").size() == 1; }, "the /sleep request reached a child");
  pid_t busy_pid = busy ? MarkerPids("busy.")[0] : 0;
  if (busy) valved->Signal(SIGTERM);
  request.join();
  ASSERT_TRUE(busy);

  std::optional<int> status = valved->WaitExit(60s);
  ASSERT_TRUE(status.has_value()) << "valved still running 60s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << DescribeStatus(*status);
  EXPECT_EQ(response.status, 200) << "the request in flight completes: " << response.Describe();
  EXPECT_EQ(JsonNumber(response.body, "pid"), busy_pid) << response.Describe();
  ExpectCleanedUp();
  EXPECT_TRUE(fs::exists(dir() / ("exit." + std::to_string(busy_pid))))
      << "the R child stopped cleanly and ran the API's exit hooks";
}

TEST_F(SignalsTest, IntStopsQuicklyEvenWithARequestInFlight) {
  Valved* valved = StartServing({"-f", Fixture("hello.R"), "-n", "2", "--n-min", "2", "-w", "1"});
  ASSERT_NE(valved, nullptr);
  HttpResponse response;
  std::thread request([&] { response = HttpGet(valved->port(), "/sleep?s=60", 90s); });
  bool busy = Eventually(
      60s, [&] { return MarkerPids("busy.").size() == 1; }, "the /sleep request reached a child");
  auto signalled = SteadyClock::now();
  if (busy) valved->Signal(SIGINT);
  std::optional<int> status = valved->WaitExit(30s);
  double took = SecondsSince(signalled);
  request.join();
  ASSERT_TRUE(busy);

  ASSERT_TRUE(status.has_value()) << "valved still running 30s after SIGINT";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << DescribeStatus(*status);
  EXPECT_LT(took, 10.0) << "SIGINT does not wait for the 60 s request";
  EXPECT_LT(response.seconds, 45.0) << "the client is not left hanging: " << response.Describe();
  ExpectCleanedUp();
}

TEST_F(SignalsTest, TermWhenIdleStopsPromptlyAndRunsExitHooks) {
  Valved* valved = StartServing({"-f", Fixture("hello.R"), "-n", "2", "--n-min", "2", "-w", "2"});
  ASSERT_NE(valved, nullptr);
  // Ready, not merely running: a child still starting has no API loaded, so
  // it is killed, not asked to run exit hooks.
  ASSERT_TRUE(Eventually(
      60s, [&] { return valved->ReadyRChildPids().size() == 2; }, "2 R children ready"));
  std::vector<pid_t> children = valved->ReadyRChildPids();
  auto signalled = SteadyClock::now();
  valved->Signal(SIGTERM);
  std::optional<int> status = valved->WaitExit(30s);
  ASSERT_TRUE(status.has_value()) << "valved still running 30s after SIGTERM";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << DescribeStatus(*status);
  EXPECT_LT(SecondsSince(signalled), 10.0) << "nothing in flight: no reason to wait";
  ExpectCleanedUp();
  for (pid_t pid : children) {
    EXPECT_TRUE(fs::exists(dir() / ("exit." + std::to_string(pid))))
        << "child " << pid << " ran the API's exit hooks";
  }
}

}  // namespace
}  // namespace valved::itest
