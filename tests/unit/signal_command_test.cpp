// valved -s: which signal each command sends, and a clear message and exit 1
// for every way the master cannot be found.
#include "master/signal_command.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "tests/unit/temp_dir.h"

namespace valved::master {
namespace {

class SignalCommandTest : public ::testing::Test {
 protected:
  SignalCommandTest() {
    dir_ = temp_.path();
    path_ = dir_ + "/valved.pid";
  }

  int Send(const std::string& command, const std::string& pid_file,
           const PidFile::Probe& probe = IsValvedRunning) {
    out_.str("");
    err_.str("");
    return SendSignalCommand(command, pid_file, out_, err_, probe);
  }
  void Write(const std::string& text) { std::ofstream(path_) << text; }

  testing::TempDir temp_;  // declared first: removed last
  std::string dir_;
  std::string path_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST(SignalOfCommand, NginxNamesOnValvedsSignals) {
  EXPECT_EQ(SignalOfCommand("reload"), SIGHUP);
  EXPECT_EQ(SignalOfCommand("stop"), SIGTERM);
  EXPECT_EQ(SignalOfCommand("quit"), SIGQUIT);
  EXPECT_EQ(SignalOfCommand("reopen"), SIGUSR1);
  for (const char* other : {"", "restart", "RELOAD", "term", "hup"}) {
    EXPECT_EQ(SignalOfCommand(other), std::nullopt) << other;
  }
}

TEST_F(SignalCommandTest, NoPidFileConfigured) {
  EXPECT_EQ(Send("reload", ""), 1);
  EXPECT_EQ(err_.str(),
            "valved: no pid_file configured; set pid_file in the config or pass --pid-file\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(SignalCommandTest, MissingPidFile) {
  EXPECT_EQ(Send("stop", path_), 1);
  EXPECT_EQ(err_.str(), "valved: cannot read pid file " + path_ +
                            ": No such file or directory; is valved running?\n");
}

TEST_F(SignalCommandTest, UnreadablePidFile) {
  EXPECT_EQ(Send("stop", dir_), 1);
  EXPECT_EQ(err_.str(), "valved: cannot read pid file " + dir_ + ": Is a directory\n");
}

TEST_F(SignalCommandTest, PidFileWithoutAPid) {
  for (const char* text : {"", "pid\n", "-1\n", "12 13\n"}) {
    Write(text);
    EXPECT_EQ(Send("reload", path_), 1) << text;
    EXPECT_NE(err_.str().find("does not hold a process id"), std::string::npos) << err_.str();
  }
}

TEST_F(SignalCommandTest, StalePidFileIsNeverSignalled) {
  Write("4242\n");
  pid_t asked = 0;
  EXPECT_EQ(Send("stop", path_,
                 [&](pid_t pid) {
                   asked = pid;
                   return false;
                 }),
            1);
  EXPECT_EQ(asked, 4242);
  EXPECT_EQ(err_.str(), "valved: valved is not running: pid file " + path_ +
                            " names pid 4242, which is not a running valved (stale pid file)\n");
}

TEST_F(SignalCommandTest, UnknownCommand) {
  Write(std::to_string(getpid()) + "\n");
  EXPECT_EQ(Send("restart", path_), 1);
  EXPECT_EQ(err_.str(),
            "valved: unknown signal command \"restart\"; expected reload, stop, quit or reopen\n");
}

// The real thing, on a forked copy of this process (the same program, so
// IsValvedRunning accepts it): "stop" delivers SIGTERM.
TEST_F(SignalCommandTest, StopSendsTermToTheNamedProcess) {
  pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    for (;;) pause();
  }
  Write(std::to_string(child) + "\n");
  EXPECT_EQ(Send("stop", path_), 0) << err_.str();
  EXPECT_EQ(out_.str(),
            "valved: sent SIGTERM (stop) to the master, pid " + std::to_string(child) + "\n");
  EXPECT_EQ(err_.str(), "");
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGTERM);
}

}  // namespace
}  // namespace valved::master
