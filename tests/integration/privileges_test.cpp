// Settings user and allow_root with the real binary: a root master keeps
// root, its workers and R children run as `user`, and without a user it
// refuses to run R as root. Only meaningful as root; skipped otherwise.
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "tests/integration/valved_harness.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;
constexpr size_t npos = std::string::npos;

/// The real uid of `pid` from /proc/<pid>/status, or -1.
long UidOf(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("Uid:", 0) == 0) return std::stol(line.substr(4));
  }
  return -1;
}

class PrivilegesTest : public ValvedTest {
 protected:
  void SetUp() override {
    ValvedTest::SetUp();
    if (geteuid() != 0) GTEST_SKIP() << "switching users needs root; running as " << geteuid();
    passwd* nobody = getpwnam("nobody");
    ASSERT_NE(nobody, nullptr) << "no user nobody on this machine";
    nobody_uid_ = nobody->pw_uid;
  }
  uid_t nobody_uid_ = 0;
};

TEST_F(PrivilegesTest, WorkersAndRChildrenRunAsTheUserTheMasterStaysRoot) {
  // The runtime directory goes in dir() (the harness sets runtime_dir), which
  // the user must be able to pass through; hello.R also writes its marker
  // files there, as nobody.
  ASSERT_EQ(chmod(dir().c_str(), 0777), 0);
  // The user must read the API too; the checkout may sit where it can't (/root).
  std::filesystem::path api = dir() / "hello.R";
  std::filesystem::copy_file(Fixture("hello.R"), api);
  ASSERT_EQ(chmod(api.c_str(), 0644), 0);
  Valved* valved =
      StartServing({"-f", api.string(), "-n", "2", "--n-min", "1", "-w", "2", "--user", "nobody"});
  ASSERT_NE(valved, nullptr);
  EXPECT_NE(valved->Log().find("workers and R children run as user nobody"), npos);
  ASSERT_TRUE(Eventually(
      60s, [&] { return valved->Workers().size() == 2 && valved->RChildren().size() == 1; },
      "2 workers and 1 R child"));
  EXPECT_EQ(UidOf(valved->pid()), 0) << "the master keeps root";
  for (const ProcInfo& worker : valved->Workers())
    EXPECT_EQ(UidOf(worker.pid), nobody_uid_) << worker.Describe();
  for (const ProcInfo& child : valved->RChildren())
    EXPECT_EQ(UidOf(child.pid), nobody_uid_) << child.Describe();
  // A worker running as nobody reaches the socket of an R child running as
  // nobody, and the R child stays up (it must still see its root master).
  for (int i = 0; i < 3; ++i) {
    HttpResponse response = HttpGet(valved->port(), "/pid");
    EXPECT_EQ(response.status, 200) << response.Describe();
  }
  // The launcher checks once a second that its master exists; a check that
  // kill(master, 0) fails with EPERM would make it quit within this request.
  pid_t child = valved->RChildPids().at(0);
  HttpResponse slow = HttpGet(valved->port(), "/sleep?s=2.5", 60s);
  EXPECT_EQ(slow.status, 200) << slow.Describe();
  EXPECT_EQ(JsonNumber(slow.body, "pid"), child) << slow.Describe();
  EXPECT_TRUE(IsAlive(child)) << "the R child took its root master for gone";
}

TEST_F(PrivilegesTest, RootWithoutUserIsRefused) {
  RunResult run = RunToExit({"-f", Fixture("hello.R"), "-p", std::to_string(FreePort())}, 30s);
  EXPECT_EQ(run.ExitCode(), 78) << run.Describe();
  EXPECT_NE(run.output.find("valved is running as root and would run the R children"), npos)
      << run.output;
  EXPECT_NE(run.output.find("allow_root: true"), npos) << run.output;
}

TEST_F(PrivilegesTest, AnUnknownUserIsAConfigurationError) {
  RunResult run = RunToExit({"-f", Fixture("hello.R"), "--user", "valvd"}, 30s);
  EXPECT_EQ(run.ExitCode(), 78) << run.Describe();
  EXPECT_NE(run.output.find("user: no such user \"valvd\""), npos) << run.output;
}

}  // namespace
}  // namespace valved::itest
