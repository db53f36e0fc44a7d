// WorkerSupervisor with real processes: a small shell script stands in for
// the valved binary (it ignores the worker's arguments and exits with a code
// the test chooses), and the test reaps as the master's reaper would.
#include "master/worker_supervisor.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "common/exit_status.h"
#include "tests/unit/fakes.h"
#include "tests/unit/temp_dir.h"

namespace valved::master {
namespace {

using namespace std::chrono_literals;
using testing::FakeClock;
using testing::TempDir;

class WorkerSupervisorTest : public ::testing::Test {
 protected:
  /// A supervisor of `slots` slots whose workers exit with `code` at once.
  WorkerSupervisor& Make(size_t slots, int code) {
    std::string exe = dir_.Write("worker.sh", "#!/bin/sh\nexit " + std::to_string(code) + "\n");
    chmod(exe.c_str(), 0755);
    std::vector<UniqueFd> listeners;
    for (size_t i = 0; i < slots; ++i) listeners.push_back(Socket());
    WorkerSupervisor::Hooks hooks{[](uint64_t, const ipc::Message&) {},
                                  [this](uint64_t id) { lost_.push_back(id); }};
    supervisor_ = std::make_unique<WorkerSupervisor>(base_.get(), config_, clock_, exe,
                                                     std::move(listeners), std::move(hooks));
    return *supervisor_;
  }
  static UniqueFd Socket() { return UniqueFd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)); }

  WorkerSupervisorTest() {
    // Blocked, so that a worker's exit can be waited for (sigtimedwait).
    sigemptyset(&sigchld_);
    sigaddset(&sigchld_, SIGCHLD);
    sigprocmask(SIG_BLOCK, &sigchld_, nullptr);
  }

  /// Reaps one exited worker, as the master's reaper would, and hands it to
  /// the supervisor; returns its wait status (-1 if none exits within 10 s).
  int ReapOne() {
    const timespec limit{10, 0};
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    while (pid == 0 && sigtimedwait(&sigchld_, nullptr, &limit) == SIGCHLD)
      pid = waitpid(-1, &status, WNOHANG);
    if (pid <= 0) {
      ADD_FAILURE() << "no worker exited within 10 s";
      return -1;
    }
    EXPECT_TRUE(supervisor_->OnExit(pid, status)) << "pid " << pid << " is not a worker";
    return status;
  }
  void TearDown() override {
    if (!supervisor_) return;
    supervisor_->StopAll(false);
    supervisor_->KillAll();
    while (supervisor_->alive() > 0 && ReapOne() != -1) {
    }
  }

  sigset_t sigchld_;
  TempDir dir_;
  Config config_;
  FakeClock clock_;
  EventBasePtr base_{event_base_new()};
  std::unique_ptr<WorkerSupervisor> supervisor_;
  std::vector<uint64_t> lost_;
};

TEST_F(WorkerSupervisorTest, StartForksOneWorkerPerSlot) {
  WorkerSupervisor& supervisor = Make(2, 0);
  supervisor.Start();
  EXPECT_EQ(supervisor.slots(), 2u);
  EXPECT_EQ(supervisor.alive(), 2u);
}

TEST_F(WorkerSupervisorTest, OnlyItsOwnPidsAreWorkers) {
  WorkerSupervisor& supervisor = Make(1, 0);
  EXPECT_FALSE(supervisor.OnExit(1, 0));
}

TEST_F(WorkerSupervisorTest, TheFirstDeathIsReforkedAtOnceThenItBacksOff) {
  WorkerSupervisor& supervisor = Make(1, 1);
  supervisor.Start();
  EXPECT_EQ(DescribeWaitStatus(ReapOne()), "exited with code 1");
  EXPECT_EQ(supervisor.alive(), 1u) << "re-forked at once";
  EXPECT_EQ(lost_.size(), 1u) << "its leases are dropped";
  ReapOne();
  EXPECT_EQ(supervisor.alive(), 0u) << "a second quick death waits";
  clock_.Advance(5s);
  supervisor.RespawnDue();
  EXPECT_EQ(supervisor.alive(), 1u);
  EXPECT_EQ(supervisor.fatal_error(), "");
}

TEST_F(WorkerSupervisorTest, ExitCode78IsFatalAndNotReforked) {
  WorkerSupervisor& supervisor = Make(1, kExitConfig);
  supervisor.Start();
  ReapOne();
  EXPECT_NE(supervisor.fatal_error().find("cannot run (exit code 78)"), std::string::npos)
      << supervisor.fatal_error();
  clock_.Advance(5s);
  supervisor.RespawnDue();
  EXPECT_EQ(supervisor.alive(), 0u);
}

TEST_F(WorkerSupervisorTest, SlotsComeAndGoButOneStays) {
  WorkerSupervisor& supervisor = Make(1, 0);
  supervisor.Start();
  supervisor.AddSlot(Socket());
  EXPECT_EQ(supervisor.slots(), 2u);
  EXPECT_EQ(supervisor.alive(), 2u);
  supervisor.RemoveSlot();
  supervisor.RemoveSlot();
  EXPECT_EQ(supervisor.slots(), 1u) << "TTOU keeps the last worker";
}

TEST_F(WorkerSupervisorTest, AfterStopAllNothingIsReforked) {
  WorkerSupervisor& supervisor = Make(2, 0);
  supervisor.Start();
  supervisor.StopAll(true);
  ReapOne();
  ReapOne();
  supervisor.RespawnDue();
  EXPECT_EQ(supervisor.alive(), 0u);
}

TEST_F(WorkerSupervisorTest, ReplaceAllForksNewWorkersBeforeTheOldOnesQuit) {
  WorkerSupervisor& supervisor = Make(2, 0);
  supervisor.Start();
  supervisor.ReplaceAll({});
  EXPECT_EQ(supervisor.alive(), 4u) << "old ones quitting, new ones starting";
  EXPECT_EQ(supervisor.slots(), 2u);
}

}  // namespace
}  // namespace valved::master
