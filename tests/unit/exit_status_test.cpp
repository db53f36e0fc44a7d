// DescribeWaitStatus: how the logs name the end of a process.
#include "common/exit_status.h"

#include <gtest/gtest.h>
#include <sys/wait.h>

namespace valved {
namespace {

TEST(DescribeWaitStatus, ExitCode) {
  EXPECT_EQ(DescribeWaitStatus(W_EXITCODE(0, 0)), "exited with code 0");
  EXPECT_EQ(DescribeWaitStatus(W_EXITCODE(kExitConfig, 0)), "exited with code 78");
}

TEST(DescribeWaitStatus, SignalWithItsName) {
  EXPECT_EQ(DescribeWaitStatus(W_EXITCODE(0, SIGKILL)), "killed by signal 9 (SIGKILL)");
  EXPECT_EQ(DescribeWaitStatus(W_EXITCODE(0, SIGSEGV) | WCOREFLAG),
            "killed by signal 11 (SIGSEGV) (core dumped)");
}

TEST(DescribeWaitStatus, StoppedIsNeitherExitNorSignal) {
  EXPECT_EQ(DescribeWaitStatus(W_STOPCODE(SIGSTOP)),
            "ended with wait status " + std::to_string(W_STOPCODE(SIGSTOP)));
}

}  // namespace
}  // namespace valved
