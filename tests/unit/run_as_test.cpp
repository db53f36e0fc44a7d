// valved run-as: its command line, and (as root) that the program it runs
// really runs as the user, with that user's environment.
#include "master/run_as.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace valved::master {
namespace {

class Argv {
 public:
  Argv(std::initializer_list<std::string> args) : storage_(args) {
    for (std::string& arg : storage_) pointers_.push_back(arg.data());
    pointers_.push_back(nullptr);
  }
  explicit Argv(std::vector<std::string> args) : storage_(std::move(args)) {
    for (std::string& arg : storage_) pointers_.push_back(arg.data());
    pointers_.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(storage_.size()); }
  char** argv() { return pointers_.data(); }

 private:
  std::vector<std::string> storage_;
  std::vector<char*> pointers_;
};

std::string ParseError(Argv args) {
  std::string error;
  EXPECT_FALSE(ParseRunAsArgs(args.argc(), args.argv(), &error));
  return error;
}

TEST(RunAs, ArgsRoundTrip) {
  Identity identity{"nobody", 65534, "nogroup", 65534, "/nonexistent"};
  std::vector<std::string> args =
      RunAsArgs(identity, "/usr/bin/Rscript", {"launcher.R", "/run/x.sock", "-- odd"});
  EXPECT_EQ(args,
            (std::vector<std::string>{"run-as", "--user=nobody", "--group=nogroup", "--",
                                      "/usr/bin/Rscript", "launcher.R", "/run/x.sock", "-- odd"}));
  args.insert(args.begin(), "valved");
  Argv argv(args);
  std::string error;
  std::optional<RunAsRequest> request = ParseRunAsArgs(argv.argc(), argv.argv(), &error);
  ASSERT_TRUE(request) << error;
  EXPECT_EQ(request->user, "nobody");
  EXPECT_EQ(request->group, "nogroup");
  EXPECT_EQ(request->command,
            (std::vector<std::string>{"/usr/bin/Rscript", "launcher.R", "/run/x.sock", "-- odd"}));
}

TEST(RunAs, BadCommandLines) {
  EXPECT_EQ(ParseError({"valved", "run-as", "--group=x", "--", "id"}),
            "--group=GROUP needs --user=USER");
  EXPECT_EQ(ParseError({"valved", "run-as", "--user=nobody"}), "no program to run after \"--\"");
  EXPECT_EQ(ParseError({"valved", "run-as", "--user=nobody", "--"}),
            "no program to run after \"--\"");
  EXPECT_EQ(ParseError({"valved", "run-as", "--uid=3", "--", "id"}),
            "unknown argument \"--uid=3\"");
}

/// Runs RunAsMain in a child with stdout on a pipe; returns (exit code, output).
std::pair<int, std::string> RunInChild(std::vector<std::string> args) {
  int pipe_fds[2];
  EXPECT_EQ(pipe(pipe_fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(pipe_fds[1], 1);
    close(pipe_fds[0]);
    Argv argv(std::move(args));
    _exit(RunAsMain(argv.argc(), argv.argv()));
  }
  close(pipe_fds[1]);
  std::string output;
  char buf[256];
  for (ssize_t n; (n = read(pipe_fds[0], buf, sizeof buf)) > 0;) output.append(buf, n);
  close(pipe_fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

TEST(RunAs, RunsTheProgramAsTheUserWithItsEnvironment) {
  if (geteuid() != 0) GTEST_SKIP() << "switching user needs root; running as " << geteuid();
  auto [code, output] = RunInChild({"valved", "run-as", "--user=nobody", "--", "/bin/sh", "-c",
                                    "echo \"$(id -u) $(id -g) $(id -G) $HOME $USER $LOGNAME\""});
  Identity nobody = ResolveIdentity("nobody", "");
  std::string gid = std::to_string(nobody.gid);
  EXPECT_EQ(code, 0);
  EXPECT_EQ(output, std::to_string(nobody.uid) + " " + gid + " " + gid + " " + nobody.home +
                        " nobody nobody\n");
}

TEST(RunAs, FailuresExitWithTheirCodes) {
  if (geteuid() != 0) GTEST_SKIP() << "switching user needs root; running as " << geteuid();
  EXPECT_EQ(RunInChild({"valved", "run-as", "--user=valvd", "--", "/bin/true"}).first, 78);
  EXPECT_EQ(RunInChild({"valved", "run-as", "--user=nobody", "--", "/no/such/program"}).first, 71);
  EXPECT_EQ(RunInChild({"valved", "run-as", "--group=x", "--", "/bin/true"}).first, 64);
  EXPECT_EQ(RunInChild({"valved", "run-as", "--", "/bin/true"}).first, 0) << "no user: just exec";
}

}  // namespace
}  // namespace valved::master
