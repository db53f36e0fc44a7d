#include "master/child_pool.h"

#include <gtest/gtest.h>

#include "tests/unit/fakes.h"

namespace valved::master {
namespace {

using testing::Exited;
using testing::FakeClock;
using testing::FakeLauncher;
using testing::Killed;
using namespace std::chrono_literals;

class ChildPoolTest : public ::testing::Test {
 protected:
  ChildPoolTest() {
    config_.n_min = 1;
    config_.n_max = 3;
    config_.max_spawning = 2;
  }
  ChildPool& pool() {
    if (!pool_) pool_ = std::make_unique<ChildPool>(config_, launcher_, clock_, "/run/v");
    return *pool_;
  }
  // Launches and readies `n` children through waiters; returns their ids.
  void ReadyAll() {
    for (auto& [id, path] : launcher_.launched) pool().OnReady(id);
  }
  void Check() { EXPECT_EQ(pool().VerifyInvariants(), ""); }

  Config config_;
  FakeClock clock_;
  FakeLauncher launcher_;
  std::unique_ptr<ChildPool> pool_;
};

TEST_F(ChildPoolTest, StartSpawnsNMinChildrenWithSocketsInTheRuntimeDir) {
  config_.n_min = 2;
  pool().Start();
  ASSERT_EQ(launcher_.launched.size(), 2u);
  EXPECT_EQ(launcher_.launched[0].second, "/run/v/child-1.sock");
  EXPECT_EQ(pool().Count(ChildState::kSpawning), 2u);
  Check();
}

TEST_F(ChildPoolTest, StartSpawnsOneChildEvenWithNMinZeroSoLoadErrorsShowAtStart) {
  config_.n_min = 0;
  pool().Start();
  EXPECT_EQ(launcher_.launched.size(), 1u);
}

TEST_F(ChildPoolTest, AtMostMaxSpawningStartAtOnce) {
  config_.n_min = 3;
  pool().Start();
  EXPECT_EQ(launcher_.launched.size(), 2u);
  pool().OnReady(1);
  pool().Reconcile(0);
  EXPECT_EQ(launcher_.launched.size(), 3u);
  Check();
}

// spawn_method fork: nothing starts while the template loads the API, not
// even a reload's successors; once it is ready, everything due starts.
// The template's spares follow it (RLauncher::SetHeadroom).
TEST_F(ChildPoolTest, HeadroomIsWhatNMaxStillAllowsAndNoneOnceShuttingDown) {
  EXPECT_EQ(pool().Headroom(), 3u);
  pool().Start();
  EXPECT_EQ(pool().Headroom(), 2u) << "a spawning child counts";
  pool().OnReady(1);
  pool().Reconcile(3);  // one waiter served by child 1, two spawned for the others
  EXPECT_EQ(pool().Headroom(), 0u);
  pool().RetireAll(SIGTERM);
  EXPECT_EQ(pool().Headroom(), 0u);
  Check();
}

TEST_F(ChildPoolTest, NothingSpawnsWhileTheLauncherWaitsForItsTemplate) {
  config_.n_min = 2;
  launcher_.can_launch = false;
  pool().Start();
  pool().Reconcile(3);
  EXPECT_TRUE(launcher_.launched.empty());
  launcher_.can_launch = true;
  pool().Start();
  EXPECT_EQ(launcher_.launched.size(), 2u);
  ReadyAll();
  pool().ReplaceAll("reload");
  launcher_.can_launch = false;
  pool().Reconcile(0);
  EXPECT_EQ(launcher_.launched.size(), 2u) << "successors wait for the new template";
  launcher_.can_launch = true;
  pool().Reconcile(0);
  EXPECT_EQ(launcher_.launched.size(), 4u);
}

TEST_F(ChildPoolTest, ReadyChildIsLeasedThenReleasedBackToReady) {
  pool().Start();
  pool().OnReady(1);
  RChild* child = pool().PickFree();
  ASSERT_NE(child, nullptr);
  pool().Lease(*child, {1, 7});
  EXPECT_EQ(child->state, ChildState::kBusy);
  EXPECT_EQ(pool().PickFree(), nullptr);
  Check();
  pool().Release(1, {1, 7}, ipc::Outcome::kOk, [](const RChild&) { return true; });
  EXPECT_EQ(pool().Find(1)->state, ChildState::kReady);
  Check();
}

TEST_F(ChildPoolTest, ReleaseOfAnotherLeaseIsIgnored) {
  pool().Start();
  pool().OnReady(1);
  pool().Lease(*pool().PickFree(), {1, 7});
  pool().Release(1, {2, 7}, ipc::Outcome::kOk, [](const RChild&) { return true; });
  EXPECT_EQ(pool().Find(1)->state, ChildState::kBusy);
}

TEST_F(ChildPoolTest, WaitersGrowThePoolUpToNMaxAndNeverPast) {
  pool().Start();
  pool().Reconcile(10);
  EXPECT_EQ(launcher_.launched.size(), 2u) << "max_spawning bounds simultaneous starts";
  ReadyAll();
  pool().Reconcile(10);
  EXPECT_EQ(launcher_.launched.size(), 3u);
  ReadyAll();
  pool().Reconcile(10);
  EXPECT_EQ(launcher_.launched.size(), 3u) << "n_max is a hard cap";
  Check();
}

TEST_F(ChildPoolTest, AWaiterThatASpawningChildWillServeSpawnsNothingMore) {
  config_.n_min = 1;
  pool().Start();
  pool().Reconcile(1);
  EXPECT_EQ(launcher_.launched.size(), 1u);
}

TEST_F(ChildPoolTest, IdleChildrenBeyondNMinStopAfterMaxAge) {
  config_.max_age = 300s;
  pool().Start();
  pool().Reconcile(3);
  ReadyAll();
  pool().Reconcile(3);
  ReadyAll();
  ASSERT_EQ(pool().Count(ChildState::kReady), 3u);
  clock_.Advance(299s);
  pool().StopIdle();
  EXPECT_EQ(pool().Count(ChildState::kReady), 3u);
  clock_.Advance(1s);
  pool().StopIdle();
  EXPECT_EQ(pool().Count(ChildState::kReady), 1u) << "n_min stays";
  EXPECT_EQ(pool().Count(ChildState::kStopping), 2u);
  EXPECT_TRUE(launcher_.WasSignalled(launcher_.PidOf(0), SIGINT)) << "the oldest idle goes first";
  Check();
}

TEST_F(ChildPoolTest, StoppingChildIsKilledAfterKillTimeout) {
  config_.max_age = 1s;
  config_.n_min = 0;
  pool().Start();
  ReadyAll();
  clock_.Advance(1s);
  pool().StopIdle();
  ASSERT_EQ(pool().Count(ChildState::kStopping), 1u);
  clock_.Advance(config_.kill_timeout);
  pool().EnforceDeadlines();
  EXPECT_TRUE(launcher_.WasSignalled(launcher_.PidOf(0), SIGKILL));
  EXPECT_TRUE(pool().OnExit(launcher_.PidOf(0), Killed(SIGKILL)));
  EXPECT_TRUE(pool().empty());
}

TEST_F(ChildPoolTest, CrashWhileBusyIsReapedAndReplacedToKeepNMin) {
  pool().Start();
  ReadyAll();
  pool().Lease(*pool().PickFree(), {1, 1});
  EXPECT_TRUE(pool().OnExit(launcher_.PidOf(0), Killed(SIGKILL)));
  EXPECT_EQ(pool().LiveCount(), 0u);
  pool().Reconcile(0);
  EXPECT_EQ(launcher_.launched.size(), 2u);
  // The dead child's late RELEASE is ignored.
  pool().Release(1, {1, 1}, ipc::Outcome::kBroken, [](const RChild&) { return false; });
  Check();
}

TEST_F(ChildPoolTest, UnknownPidIsNotAChild) { EXPECT_FALSE(pool().OnExit(4242, Exited(0))); }

TEST_F(ChildPoolTest, ApiLoadFailureBeforeAnyChildWasReadyIsFatalNotARespawnLoop) {
  pool().Start();
  pool().OnExit(launcher_.PidOf(0), Exited(kApiLoadFailedExitCode));
  EXPECT_NE(pool().fatal_error().find("boom"), std::string::npos) << pool().fatal_error();
  clock_.Advance(1h);
  pool().Reconcile(5);
  EXPECT_EQ(launcher_.launched.size(), 1u);
}

TEST_F(ChildPoolTest, BootFailuresAfterTheApiWorkedBackOffExponentially) {
  pool().Start();
  ReadyAll();
  pool().OnExit(launcher_.PidOf(0), Killed(SIGKILL));  // crash; respawn at once
  pool().Reconcile(0);
  ASSERT_EQ(launcher_.launched.size(), 2u);
  pool().OnExit(launcher_.PidOf(1), Exited(kApiLoadFailedExitCode));  // boot failure 1
  EXPECT_EQ(pool().fatal_error(), "");
  pool().Reconcile(0);
  EXPECT_EQ(launcher_.launched.size(), 2u) << "backing off";
  clock_.Advance(1s);
  pool().Reconcile(0);
  ASSERT_EQ(launcher_.launched.size(), 3u);
  pool().OnExit(launcher_.PidOf(2), Exited(1));  // boot failure 2: 2 s
  clock_.Advance(1s);
  pool().Reconcile(0);
  EXPECT_EQ(launcher_.launched.size(), 3u);
  clock_.Advance(1s);
  pool().Reconcile(0);
  EXPECT_EQ(launcher_.launched.size(), 4u);
}

TEST_F(ChildPoolTest, SpawnTimeoutKillsTheChildAndBacksOff) {
  config_.spawn_timeout = 60s;
  pool().Start();
  clock_.Advance(60s);
  pool().EnforceDeadlines();
  EXPECT_TRUE(launcher_.WasSignalled(launcher_.PidOf(0), SIGKILL));
  EXPECT_EQ(pool().Count(ChildState::kStopping), 1u);
  pool().OnExit(launcher_.PidOf(0), Killed(SIGKILL));
  pool().Reconcile(0);
  EXPECT_EQ(launcher_.launched.size(), 1u) << "backing off";
}

TEST_F(ChildPoolTest, AForkedChildsPidArrivesLaterAndItsExitIsThenRouted) {
  launcher_.pid_later = true;
  pool().Start();
  ASSERT_EQ(pool().Find(1)->pid, Launcher::kPidLater);
  EXPECT_FALSE(pool().OnExit(launcher_.PidOf(0), Exited(1))) << "no pid known yet";
  pool().OnLaunched(1, launcher_.PidOf(0), "");
  EXPECT_EQ(pool().Find(1)->pid, launcher_.PidOf(0));
  EXPECT_TRUE(pool().OnExit(launcher_.PidOf(0), Exited(1)));
}

TEST_F(ChildPoolTest, AChildReadyBeforeItsPidArrivedIsReadyWhenItDoes) {
  launcher_.pid_later = true;
  pool().Start();
  pool().OnReady(1);
  EXPECT_EQ(pool().Find(1)->state, ChildState::kSpawning) << "no pid, no leases";
  pool().OnLaunched(1, launcher_.PidOf(0), "");
  EXPECT_EQ(pool().Find(1)->state, ChildState::kReady);
}

TEST_F(ChildPoolTest, AChildStoppedBeforeItsPidArrivedIsKilledWhenItDoes) {
  launcher_.pid_later = true;
  config_.spawn_timeout = 60s;
  pool().Start();
  clock_.Advance(60s);
  pool().EnforceDeadlines();
  EXPECT_EQ(pool().Count(ChildState::kStopping), 1u);
  EXPECT_FALSE(launcher_.WasSignalled(launcher_.PidOf(0), SIGKILL));
  pool().OnLaunched(1, launcher_.PidOf(0), "");
  EXPECT_TRUE(launcher_.WasSignalled(launcher_.PidOf(0), SIGKILL));
}

TEST_F(ChildPoolTest, AChildNotForkedIsForgottenAndAnotherStartsWithoutBackoff) {
  launcher_.pid_later = true;
  pool().Start();
  pool().OnLaunched(1, -1, "the template exited");
  EXPECT_TRUE(pool().empty());
  EXPECT_EQ(launcher_.forgotten, std::vector<uint64_t>{1});
  pool().Reconcile(0);
  EXPECT_EQ(launcher_.launched.size(), 2u) << "the template's failure is not the API's";
}

TEST_F(ChildPoolTest, APidForAChildNoLongerKnownIsKilled) {
  pool().OnLaunched(42, 4321, "");
  EXPECT_TRUE(launcher_.WasSignalled(4321, SIGKILL));
}

TEST_F(ChildPoolTest, LaunchFailureBacksOff) {
  launcher_.fail_next_launch = true;
  pool().Start();
  EXPECT_TRUE(pool().empty());
  pool().Reconcile(0);
  EXPECT_TRUE(pool().empty());
  clock_.Advance(1s);
  pool().Reconcile(0);
  EXPECT_EQ(launcher_.launched.size(), 1u);
}

TEST_F(ChildPoolTest, BrokenReleaseKeepsAChildWhoseSocketStillAccepts) {
  pool().Start();
  ReadyAll();
  pool().Lease(*pool().PickFree(), {1, 1});
  pool().Release(1, {1, 1}, ipc::Outcome::kBroken, [](const RChild&) { return true; });
  EXPECT_EQ(pool().Find(1)->state, ChildState::kReady)
      << "one bad request must not cost an R start";
}

TEST_F(ChildPoolTest, BrokenReleaseStopsAChildThatNoLongerAccepts) {
  pool().Start();
  ReadyAll();
  pool().Lease(*pool().PickFree(), {1, 1});
  pool().Release(1, {1, 1}, ipc::Outcome::kBroken, [](const RChild&) { return false; });
  EXPECT_EQ(pool().Find(1)->state, ChildState::kStopping);
  EXPECT_TRUE(launcher_.WasSignalled(launcher_.PidOf(0), SIGKILL));
  Check();
}

TEST_F(ChildPoolTest, TimedOutReleaseKillsTheChild) {
  pool().Start();
  ReadyAll();
  pool().Lease(*pool().PickFree(), {1, 1});
  pool().Release(1, {1, 1}, ipc::Outcome::kTimedOut, [](const RChild&) { return true; });
  EXPECT_TRUE(launcher_.WasSignalled(launcher_.PidOf(0), SIGKILL));
}

TEST_F(ChildPoolTest, MaxRequestsRecyclesMakeBeforeBreak) {
  config_.max_requests = 2;
  pool().Start();
  ReadyAll();
  for (uint64_t req = 1; req <= 2; ++req) {
    pool().Lease(*pool().PickFree(), {1, req});
    pool().Release(1, {1, req}, ipc::Outcome::kOk, [](const RChild&) { return true; });
  }
  EXPECT_EQ(pool().Find(1)->state, ChildState::kReady) << "keeps serving until replaced";
  pool().Reconcile(0);
  ASSERT_EQ(launcher_.launched.size(), 2u) << "the successor starts first";
  EXPECT_EQ(pool().LiveCount(), 1u) << "a child and its successor count once";
  // A request arriving meanwhile is served by the old child without waiting.
  ASSERT_NE(pool().PickFree(), nullptr);
  EXPECT_EQ(pool().PickFree()->id, 1u);
  pool().OnReady(2);
  EXPECT_EQ(pool().Find(1)->state, ChildState::kStopping);
  EXPECT_TRUE(launcher_.WasSignalled(launcher_.PidOf(0), SIGINT));
  Check();
}

TEST_F(ChildPoolTest, AChildOverMaxMemoryIsReplacedMakeBeforeBreak) {
  config_.max_memory = 100 << 20;
  config_.n_min = 2;
  pool().Start();
  ReadyAll();
  auto rss = [&](pid_t pid) -> int64_t { return pid == launcher_.PidOf(1) ? 101 << 20 : 50 << 20; };
  pool().ReplaceOversized(rss);
  pool().Reconcile(0);
  ASSERT_EQ(launcher_.launched.size(), 3u);
  EXPECT_EQ(pool().Find(3)->predecessor, 2u);
  EXPECT_EQ(pool().Find(2)->state, ChildState::kReady) << "serves until its successor is ready";
  pool().OnReady(3);
  EXPECT_EQ(pool().Find(2)->state, ChildState::kStopping);
  EXPECT_EQ(pool().Find(1)->state, ChildState::kReady);
  Check();
}

TEST_F(ChildPoolTest, ABusyChildDrainsWhenItsSuccessorIsReady) {
  config_.max_requests = 1;
  pool().Start();
  ReadyAll();
  pool().Lease(*pool().PickFree(), {1, 1});
  pool().Release(1, {1, 1}, ipc::Outcome::kOk, [](const RChild&) { return true; });
  pool().Reconcile(0);
  pool().Lease(*pool().PickFree(), {1, 2});
  pool().OnReady(2);
  EXPECT_EQ(pool().Find(1)->state, ChildState::kDraining);
  pool().Release(1, {1, 2}, ipc::Outcome::kOk, [](const RChild&) { return true; });
  EXPECT_EQ(pool().Find(1)->state, ChildState::kStopping);
  Check();
}

TEST_F(ChildPoolTest, ReplaceAllSwapsEveryChildWithinMaxSpawning) {
  config_.n_min = 3;
  config_.max_spawning = 2;
  pool().Start();
  pool().OnReady(1);
  pool().OnReady(2);
  pool().Reconcile(0);
  pool().OnReady(3);
  ASSERT_EQ(pool().Count(ChildState::kReady), 3u);
  pool().ReplaceAll("reload");
  pool().Reconcile(0);
  EXPECT_EQ(launcher_.launched.size(), 5u) << "two successors at a time";
  pool().OnReady(4);
  pool().OnReady(5);
  EXPECT_EQ(pool().Count(ChildState::kStopping), 2u);
  pool().Reconcile(0);
  ASSERT_EQ(launcher_.launched.size(), 6u);
  pool().OnReady(6);
  EXPECT_EQ(pool().Count(ChildState::kStopping), 3u);
  EXPECT_EQ(pool().Count(ChildState::kReady), 3u);
  EXPECT_EQ(pool().reload_error(), "");
  Check();
}

TEST_F(ChildPoolTest, AReloadWhoseApiFailsToLoadKeepsTheOldChildren) {
  config_.n_min = 2;
  pool().Start();
  ReadyAll();
  pool().ReplaceAll("reload");
  pool().Reconcile(0);
  ASSERT_EQ(launcher_.launched.size(), 4u);
  pool().OnExit(launcher_.PidOf(2), testing::Exited(kApiLoadFailedExitCode));
  EXPECT_NE(pool().reload_error().find("boom"), std::string::npos);
  EXPECT_EQ(pool().fatal_error(), "") << "the old API still serves";
  EXPECT_TRUE(launcher_.WasSignalled(launcher_.PidOf(3), SIGKILL)) << "the other successor stops";
  EXPECT_EQ(pool().Count(ChildState::kReady), 2u);
  clock_.Advance(1h);
  pool().Reconcile(0);
  EXPECT_EQ(launcher_.launched.size(), 4u) << "no more successors";
  Check();
}

TEST_F(ChildPoolTest, RetireAllDrainsBusyChildrenAndStopsIdleOnes) {
  config_.n_min = 2;
  pool().Start();
  ReadyAll();
  pool().Lease(*pool().PickFree(), {1, 1});
  pool().RetireAll(SIGINT);
  EXPECT_EQ(pool().Count(ChildState::kDraining), 1u);
  EXPECT_EQ(pool().Count(ChildState::kStopping), 1u);
  Check();
  uint64_t busy = pool().Find(1)->state == ChildState::kDraining ? 1 : 2;
  pool().Release(busy, {1, 1}, ipc::Outcome::kOk, [](const RChild&) { return true; });
  EXPECT_EQ(pool().Count(ChildState::kStopping), 2u);
  pool().Reconcile(5);
  EXPECT_EQ(launcher_.launched.size(), 2u) << "no spawns while shutting down";
  // Exits while stopping are expected: no respawn, nothing fatal.
  pool().OnExit(launcher_.PidOf(0), Exited(0));
  pool().OnExit(launcher_.PidOf(1), Exited(0));
  EXPECT_TRUE(pool().empty());
}

TEST_F(ChildPoolTest, RetireAllKillsChildrenStillStarting) {
  pool().Start();
  pool().RetireAll(SIGINT);
  EXPECT_TRUE(launcher_.WasSignalled(launcher_.PidOf(0), SIGKILL))
      << "a child that may not have exec'd R yet must not get a catchable signal";
  EXPECT_FALSE(launcher_.WasSignalled(launcher_.PidOf(0), SIGINT));
}

TEST_F(ChildPoolTest, LeasesOfADeadWorkerAreRevoked) {
  config_.n_min = 2;
  pool().Start();
  ReadyAll();
  pool().Lease(*pool().PickFree(), {2, 9});
  pool().RevokeLeasesOf(2);
  EXPECT_EQ(pool().Count(ChildState::kStopping), 1u);
  EXPECT_EQ(pool().Count(ChildState::kReady), 1u);
  Check();
}

TEST_F(ChildPoolTest, AChildDueForReplacementIsPickedOnlyWhenNoOtherIsFree) {
  config_.n_min = 2;
  config_.max_requests = 1;
  pool().Start();
  pool().OnReady(1);
  clock_.Advance(1s);
  pool().OnReady(2);
  pool().Lease(*pool().PickFree(), {1, 1});  // child 2, the most recently idle
  pool().Release(2, {1, 1}, ipc::Outcome::kOk, [](const RChild&) { return true; });
  ASSERT_NE(pool().Find(2)->replacement, Replacement::kNone);
  EXPECT_EQ(pool().PickFree()->id, 1u);
  pool().Lease(*pool().PickFree(), {1, 2});
  EXPECT_EQ(pool().PickFree()->id, 2u) << "still serves when nothing else is free";
}

TEST_F(ChildPoolTest, PicksTheMostRecentlyIdleChild) {
  config_.n_min = 2;
  pool().Start();
  pool().OnReady(1);
  clock_.Advance(1s);
  pool().OnReady(2);
  EXPECT_EQ(pool().PickFree()->id, 2u);
}

// max_concurrency_per_child: a child takes several leases, idle children
// first, and the pool grows only when every slot is taken.
TEST_F(ChildPoolTest, AChildTakesUpToMaxConcurrencyLeasesAndIdleChildrenComeFirst) {
  config_.max_concurrency_per_child = 3;
  config_.n_min = 2;
  pool().Start();
  ReadyAll();
  uint64_t first = pool().PickFree()->id;
  pool().Lease(*pool().PickFree(), {1, 1});
  EXPECT_NE(pool().PickFree()->id, first) << "an idle child before a busy one";
  pool().Lease(*pool().PickFree(), {1, 2});
  for (uint64_t req = 3; req <= 6; ++req) pool().Lease(*pool().PickFree(), {2, req});
  EXPECT_EQ(pool().PickFree(), nullptr) << "two children with three leases each";
  EXPECT_EQ(pool().LeaseCount(), 6u);
  EXPECT_EQ(pool().Find(first)->leases.size(), 3u);
  Check();
  pool().Reconcile(1);
  EXPECT_EQ(launcher_.launched.size(), 3u) << "a waiter with every slot taken calls for a child";
}

TEST_F(ChildPoolTest, WaitersThatFreeSlotsCanServeStartNoChild) {
  config_.max_concurrency_per_child = 4;
  pool().Start();
  ReadyAll();
  pool().Lease(*pool().PickFree(), {1, 1});
  pool().Reconcile(3);
  EXPECT_EQ(launcher_.launched.size(), 1u) << "three free slots on the busy child";
  pool().Reconcile(4);
  EXPECT_EQ(launcher_.launched.size(), 2u);
  pool().Reconcile(9);
  EXPECT_EQ(launcher_.launched.size(), 3u) << "a Spawning child will take four";
}

TEST_F(ChildPoolTest, ABusyChildWithSeveralLeasesIsReadyOnlyAfterTheLast) {
  config_.max_concurrency_per_child = 2;
  pool().Start();
  ReadyAll();
  pool().Lease(*pool().PickFree(), {1, 1});
  clock_.Advance(1s);
  pool().Lease(*pool().PickFree(), {2, 1});
  clock_.Advance(1s);
  pool().Release(1, {1, 1}, ipc::Outcome::kOk, [](const RChild&) { return true; });
  EXPECT_EQ(pool().Find(1)->state, ChildState::kBusy);
  EXPECT_EQ(pool().PickFree()->id, 1u) << "a slot is free again";
  pool().Release(1, {1, 1}, ipc::Outcome::kOk, [](const RChild&) { return true; });
  EXPECT_EQ(pool().Find(1)->leases.size(), 1u) << "a lease released twice counts once";
  clock_.Advance(1s);
  pool().Release(1, {2, 1}, ipc::Outcome::kOk, [](const RChild&) { return true; });
  EXPECT_EQ(pool().Find(1)->state, ChildState::kReady);
  EXPECT_EQ(pool().Find(1)->busy_total, 3s) << "busy while at least one lease was held";
  Check();
}

TEST_F(ChildPoolTest, ADrainingChildWithSeveralLeasesStopsAfterTheLast) {
  config_.max_concurrency_per_child = 2;
  pool().Start();
  ReadyAll();
  pool().Lease(*pool().PickFree(), {1, 1});
  pool().Lease(*pool().PickFree(), {1, 2});
  pool().ReplaceAll("reload");
  pool().Reconcile(0);
  pool().OnReady(2);
  EXPECT_EQ(pool().Find(1)->state, ChildState::kDraining);
  EXPECT_EQ(pool().PickFree()->id, 2u) << "a draining child takes no new lease";
  pool().Release(1, {1, 1}, ipc::Outcome::kOk, [](const RChild&) { return true; });
  EXPECT_EQ(pool().Find(1)->state, ChildState::kDraining);
  pool().Release(1, {1, 2}, ipc::Outcome::kOk, [](const RChild&) { return true; });
  EXPECT_EQ(pool().Find(1)->state, ChildState::kStopping);
  Check();
}

TEST_F(ChildPoolTest, MaxRequestsCountsLeasesAsTheyAreGranted) {
  config_.max_concurrency_per_child = 4;
  config_.max_requests = 2;
  pool().Start();
  ReadyAll();
  pool().Lease(*pool().PickFree(), {1, 1});
  EXPECT_EQ(pool().Find(1)->replacement, Replacement::kNone);
  pool().Lease(*pool().PickFree(), {1, 2});
  EXPECT_EQ(pool().Find(1)->replacement, Replacement::kDue)
      << "its second lease reaches max_requests, before either ends";
  pool().Reconcile(0);
  EXPECT_EQ(launcher_.launched.size(), 2u) << "the successor starts while it serves";
  pool().OnReady(2);
  EXPECT_EQ(pool().Find(1)->state, ChildState::kDraining);
  Check();
}

TEST_F(ChildPoolTest, ATimedOutLeaseStopsTheChildWithItsOtherLeases) {
  config_.max_concurrency_per_child = 2;
  pool().Start();
  ReadyAll();
  pool().Lease(*pool().PickFree(), {1, 1});
  pool().Lease(*pool().PickFree(), {2, 1});
  pool().Release(1, {1, 1}, ipc::Outcome::kTimedOut, [](const RChild&) { return true; });
  EXPECT_EQ(pool().Find(1)->state, ChildState::kStopping);
  EXPECT_TRUE(pool().Find(1)->leases.empty());
  pool().Release(1, {2, 1}, ipc::Outcome::kBroken, [](const RChild&) { return true; });
  EXPECT_EQ(pool().Find(1)->state, ChildState::kStopping) << "a late release is ignored";
  Check();
}

TEST_F(ChildPoolTest, ADeadWorkerStopsEveryChildItHadALeaseOn) {
  config_.max_concurrency_per_child = 2;
  config_.n_min = 2;
  pool().Start();
  ReadyAll();
  pool().Lease(*pool().PickFree(), {1, 1});
  pool().Lease(*pool().PickFree(), {2, 1});
  pool().Lease(*pool().PickFree(), {2, 2});
  pool().RevokeLeasesOf(1);
  EXPECT_EQ(pool().Count(ChildState::kStopping), 1u);
  EXPECT_EQ(pool().Count(ChildState::kBusy), 1u);
  EXPECT_EQ(pool().LeaseCount(), 1u);
  Check();
}
}  // namespace
}  // namespace valved::master
