// The reaper's end-of-stop helpers (master/reaper.h), on real processes.
#include "master/reaper.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace valved::master {
namespace {

TEST(Reaper, AChildCountsUntilItIsReapedAndKillChildrenEndsIt) {
  ASSERT_FALSE(HasChildren()) << "this test needs a process without children";
  pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    pause();
    _exit(0);
  }
  EXPECT_TRUE(HasChildren());
  EXPECT_EQ(KillChildren(), 1u);
  int status = 0;
  siginfo_t info{};
  // Exited, not reaped yet: still a child, and not killed again.
  ASSERT_EQ(waitid(P_PID, child, &info, WEXITED | WNOWAIT), 0);
  EXPECT_TRUE(HasChildren());
  EXPECT_EQ(KillChildren(), 0u);
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  EXPECT_FALSE(HasChildren());
}

}  // namespace
}  // namespace valved::master
