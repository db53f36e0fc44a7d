// The master's care of its R children: a crash mid-request, an API that
// cannot load, and a master that is killed outright.
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <filesystem>
#include <regex>
#include <set>
#include <thread>
#include <vector>

#include "tests/integration/valved_harness.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::vector<fs::path> SocketFiles(const fs::path& dir) {
  std::vector<fs::path> sockets;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::end(it); it.increment(ec)) {
    if (it->is_socket()) sockets.push_back(it->path());
  }
  return sockets;
}

class SupervisionTest : public ValvedTest {};

TEST_F(SupervisionTest, KillingABusyChildFailsOnlyItsRequestAndTheChildIsReplaced) {
  Valved* valved =
      StartServing({"-f", Fixture("hello.R"), "-n", "3", "--n-min", "3", "-w", "2"}, 180s);
  ASSERT_NE(valved, nullptr);
  ASSERT_TRUE(Eventually(
      120s, [&] { return valved->ReadyRChildPids().size() == 3; },
      "3 R children running and ready"));
  std::vector<pid_t> before = valved->RChildPids();

  std::vector<HttpResponse> responses(3);
  std::vector<std::thread> threads;
  for (int i = 0; i < 3; ++i) {
    threads.emplace_back([&, i] { responses[i] = HttpGet(valved->port(), "/sleep?s=6", 90s); });
  }
  // The fixture's busy.<pid> markers say which children hold a request.
  bool all_busy = Eventually(
      60s, [&] { return MarkerPids("busy.").size() == 3; }, "all 3 children busy with a /sleep");
  pid_t victim = all_busy ? MarkerPids("busy.")[0] : 0;
  if (all_busy) {
    EXPECT_TRUE(Contains(before, victim)) << "busy pid " << victim << " is not an R child";
    ExpectLogErrors("pid=" + std::to_string(victim) + "\\b");
    ASSERT_EQ(kill(victim, SIGKILL), 0);
  }
  for (std::thread& t : threads) t.join();
  ASSERT_TRUE(all_busy);

  int bad_gateway = 0, ok = 0;
  for (const HttpResponse& r : responses) {
    if (r.status == 502) {
      ++bad_gateway;
      EXPECT_LT(r.body.size(), 512u) << "error bodies are short: " << r.Describe();
    } else if (r.status == 200) {
      ++ok;
      EXPECT_NE(JsonNumber(r.body, "pid"), victim) << r.Describe();
    } else {
      ADD_FAILURE() << "unexpected response: " << r.Describe();
    }
  }
  EXPECT_EQ(bad_gateway, 1) << "the killed child's request gets 502";
  EXPECT_EQ(ok, 2) << "requests on the other children are unaffected";

  EXPECT_TRUE(Eventually(
      120s,
      [&] {
        std::vector<pid_t> now = valved->RChildPids();
        return now.size() == 3 && !Contains(now, victim) &&
               std::any_of(now.begin(), now.end(), [&](pid_t p) { return !Contains(before, p); });
      },
      "the pool is back to n_min = 3 with a new child in place of the killed one"));
  EXPECT_TRUE(Eventually(
      10s, [&] { return valved->ZombieChildren().empty(); }, "the killed child is reaped"));
  for (int i = 0; i < 3; ++i) {
    HttpResponse r = HttpGet(valved->port(), "/pid");
    EXPECT_EQ(r.status, 200) << r.Describe();
  }
}

TEST_F(SupervisionTest, AnApiThatCannotLoadExits78WithTheRErrorAndNoRespawnLoop) {
  ExpectLogErrors("");  // the failure is reported at error level, with R's output
  Valved& valved = Start({"-f", Fixture("broken.R"), "-n", "3", "--n-min", "2", "-w", "1"});
  std::optional<int> status = valved.WaitExit(90s);
  ASSERT_TRUE(status.has_value()) << "valved still running 90s after a broken API";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 78) << DescribeStatus(*status);

  std::string log = valved.Log();
  EXPECT_NE(log.find("valved-fixture-broken: cannot load"), std::string::npos)
      << "the R error text is shown";
  std::set<std::string> children;
  std::regex child_id(R"(child#(\d+))");
  for (auto it = std::sregex_iterator(log.begin(), log.end(), child_id);
       it != std::sregex_iterator(); ++it) {
    children.insert((*it)[1]);
  }
  EXPECT_LE(children.size(), 4u) << "R was started " << children.size()
                                 << " times: a broken API must not become a respawn loop";
  EXPECT_TRUE(StrayChildren().empty()) << "no R process or worker outlives the master";
}

TEST_F(SupervisionTest, ChildrenAndWorkersLeaveWhenTheMasterIsKilled) {
  ExpectOrphans();
  ExpectLogErrors("master gone");  // the workers' last words
  ExpectRuntimeDirLeft();          // only the master removes it, and it gets no chance
  Valved* valved =
      StartServing({"-f", Fixture("hello.R"), "-n", "2", "--n-min", "2", "-w", "2"}, 180s);
  ASSERT_NE(valved, nullptr);
  ASSERT_TRUE(Eventually(
      120s, [&] { return valved->RChildPids().size() == 2; }, "2 R children running"));
  ASSERT_TRUE(Eventually(
      30s, [&] { return valved->Workers().size() == 2; }, "2 workers running"));
  std::vector<pid_t> left_behind = valved->RChildPids();
  for (const ProcInfo& w : valved->Workers()) left_behind.push_back(w.pid);

  kill(valved->pid(), SIGKILL);
  ASSERT_TRUE(valved->WaitExit(10s).has_value());
  EXPECT_TRUE(Eventually(
      20s, [&] { return std::none_of(left_behind.begin(), left_behind.end(), IsAlive); },
      "R children (orphan guard, about 1 s) and workers (channel EOF) exit by themselves"));
  EXPECT_TRUE(SocketFiles(dir()).empty()) << "R children remove their sockets as they go";
}

// The master is a child subreaper: what an R child leaves running becomes the
// master's once its parent is gone, and the master does not exit before it is
// gone too (so do a template's spares, which are killed as it stops).
TEST_F(SupervisionTest, AProcessAnRChildLeftRunningDoesNotOutliveValved) {
  Valved* valved = StartServing({"-f", Fixture("hello.R"), "-n", "1", "-w", "1"}, 180s);
  ASSERT_NE(valved, nullptr);
  HttpResponse response = HttpGet(valved->port(), "/leave");
  ASSERT_EQ(response.status, 200) << response.Describe();
  auto left = static_cast<pid_t>(JsonNumber(response.body, "pid").value_or(0));
  ASSERT_GT(left, 0) << response.body;
  ASSERT_TRUE(IsAlive(left));
  std::optional<int> status = Stop(*valved);
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << DescribeStatus(*status);
  EXPECT_FALSE(IsAlive(left)) << "the process the R child left outlived valved";
}

}  // namespace
}  // namespace valved::itest
