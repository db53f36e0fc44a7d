// The pid file and `valved -s`: the running master is found through its pid
// file and signalled; a second master is refused; a stale file is replaced;
// the file is gone after a clean stop.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "tests/integration/valved_harness.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;
constexpr size_t npos = std::string::npos;

class SignalCommandTest : public ValvedTest {
 protected:
  std::string pid_file() const { return (dir() / "valved.pid").string(); }

  /// The pid file's text, or "" when there is none.
  std::string PidFileText() const {
    std::ifstream in(pid_file());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

  /// `valved -s COMMAND --pid-file <pid_file()>`, run to its exit.
  RunResult SendCommand(const std::string& command) {
    return RunToExit({"-s", command, "--pid-file", pid_file()}, 30s);
  }

  Valved* StartWithPidFile() {
    return StartServing(
        {"-f", Fixture("hello.R"), "-n", "2", "--n-min", "1", "-w", "1", "--pid-file", pid_file()});
  }
};

TEST_F(SignalCommandTest, ReloadThenStopThroughThePidFile) {
  Valved* valved = StartWithPidFile();
  ASSERT_NE(valved, nullptr);
  EXPECT_EQ(PidFileText(), std::to_string(valved->pid()) + "\n");
  ASSERT_TRUE(Eventually(
      60s, [&] { return valved->RChildPids().size() == 1; }, "one R child running"));
  pid_t old_child = valved->RChildPids()[0];

  RunResult reload = SendCommand("reload");
  EXPECT_EQ(reload.ExitCode(), 0) << reload.Describe();
  EXPECT_NE(reload.output.find("sent SIGHUP (reload) to the master, pid " +
                               std::to_string(valved->pid())),
            npos)
      << reload.output;
  EXPECT_TRUE(Eventually(
      60s, [&] { return !IsAlive(old_child) && valved->RChildPids().size() == 1; },
      "the reload replaced the R child"));
  HttpResponse response = HttpGet(valved->port(), "/pid");
  EXPECT_EQ(response.status, 200) << response.Describe();

  RunResult stop = SendCommand("stop");
  EXPECT_EQ(stop.ExitCode(), 0) << stop.Describe();
  EXPECT_NE(stop.output.find("sent SIGTERM (stop)"), npos) << stop.output;
  std::optional<int> status = valved->WaitExit(45s);
  ASSERT_TRUE(status.has_value()) << "valved still running 45s after -s stop";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << DescribeStatus(*status);
  EXPECT_FALSE(fs::exists(pid_file())) << "a clean stop removes the pid file";

  RunResult again = SendCommand("stop");
  EXPECT_EQ(again.ExitCode(), 1) << again.Describe();
  EXPECT_NE(again.output.find("cannot read pid file " + pid_file() +
                              ": No such file or directory; is valved running?"),
            npos)
      << again.output;
}

TEST_F(SignalCommandTest, AReloadTheMasterWouldRefuseIsNotSent) {
  Valved* valved = StartWithPidFile();
  ASSERT_NE(valved, nullptr);
  // The file the master would read again names an API that is gone.
  std::string config = (dir() / "valve.yaml").string();
  std::ofstream(config) << "file: " << (dir() / "gone.R").string() << "\npid_file: " << pid_file()
                        << "\n";
  RunResult reload = RunToExit({"-s", "reload", "-c", config}, 30s);
  EXPECT_EQ(reload.ExitCode(), 78) << reload.Describe();
  EXPECT_NE(reload.output.find("file: cannot use the API " + (dir() / "gone.R").string()), npos)
      << reload.output;
  EXPECT_EQ(reload.output.find("sent SIGHUP"), npos) << reload.output;
  // The master was not signalled: a later reopen is the first signal it logs.
  ASSERT_EQ(SendCommand("reopen").ExitCode(), 0);
  ASSERT_TRUE(Eventually(
      10s, [&] { return valved->Log().find("SIGUSR1 received") != npos; }, "SIGUSR1 logged"));
  EXPECT_EQ(valved->Log().find("SIGHUP"), npos) << valved->Log();
}

TEST_F(SignalCommandTest, ReopenAndQuit) {
  Valved* valved = StartWithPidFile();
  ASSERT_NE(valved, nullptr);
  RunResult reopen = SendCommand("reopen");
  EXPECT_EQ(reopen.ExitCode(), 0) << reopen.Describe();
  EXPECT_TRUE(Eventually(
      10s, [&] { return valved->Log().find("SIGUSR1 received") != npos; }, "SIGUSR1 logged"));
  RunResult quit = SendCommand("quit");
  EXPECT_EQ(quit.ExitCode(), 0) << quit.Describe();
  std::optional<int> status = valved->WaitExit(30s);
  ASSERT_TRUE(status.has_value()) << "valved still running 30s after -s quit";
  EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << DescribeStatus(*status);
  EXPECT_NE(valved->Log().find("SIGQUIT received"), npos) << valved->Log();
}

TEST_F(SignalCommandTest, WithoutAPidFileSaysHowToNameOne) {
  RunResult run = RunToExit({"-s", "reload"}, 30s);
  EXPECT_EQ(run.ExitCode(), 1) << run.Describe();
  EXPECT_NE(
      run.output.find("no pid_file configured; set pid_file in the config or pass --pid-file"),
      npos)
      << run.output;
  run = RunToExit({"-s", "restart"}, 30s);
  EXPECT_EQ(run.ExitCode(), 64) << run.Describe();
}

TEST_F(SignalCommandTest, ASecondMasterIsRefusedAndTheFirstKeepsItsFile) {
  Valved* valved = StartWithPidFile();
  ASSERT_NE(valved, nullptr);
  std::vector<std::string> args = {
      "-f", Fixture("hello.R"), "-p",      std::to_string(FreePort()), "-w",
      "1",  "--pid-file",       pid_file()};
  if (geteuid() == 0) args.push_back("--allow-root");  // else root is refused first
  RunResult second = RunToExit(args, 30s);
  EXPECT_EQ(second.ExitCode(), 78) << second.Describe();
  EXPECT_NE(second.output.find("valved is already running (pid " + std::to_string(valved->pid()) +
                               ", pid file " + pid_file() + ")"),
            npos)
      << second.output;
  EXPECT_EQ(PidFileText(), std::to_string(valved->pid()) + "\n");
  EXPECT_EQ(HttpGet(valved->port(), "/").status, 200);
}

TEST_F(SignalCommandTest, AStalePidFileIsReplaced) {
  // A pid that cannot exist (above the kernel's limit of 2^22).
  std::ofstream(pid_file()) << "4194305\n";
  Valved* valved = StartWithPidFile();
  ASSERT_NE(valved, nullptr);
  EXPECT_EQ(PidFileText(), std::to_string(valved->pid()) + "\n");
  EXPECT_NE(valved->Log().find("replaced stale pid file " + pid_file()), npos) << valved->Log();
  // Nothing else is left beside it (the temporary file was renamed into place).
  for (const auto& entry : fs::directory_iterator(dir())) {
    EXPECT_EQ(entry.path().string().find(".tmp"), npos) << entry.path();
  }
}

}  // namespace
}  // namespace valved::itest
