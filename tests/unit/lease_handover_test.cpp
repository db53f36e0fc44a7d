// Hand-overs: the lease table the master publishes (common/lease_table.h),
// and the master's side of a TRANSFER (LeaseBroker::Transfer, ChildPool::Transfer).
#include <gtest/gtest.h>

#include <csignal>

#include "common/lease_table.h"
#include "master/lease_broker.h"
#include "tests/unit/broker_fixture.h"

namespace valved::master {
namespace {

using namespace std::chrono_literals;

TEST(LeaseTable, AClaimNeedsAnOpenChildWithRequestsLeft) {
  LeaseTable table = LeaseTable::Create();
  table.AddChild(7, 2);
  EXPECT_FALSE(table.Claim(7)) << "a new child is closed";
  table.SetOpen(7, true);
  EXPECT_TRUE(table.Claim(7));
  table.Spend(7);  // the master leased it once itself
  EXPECT_FALSE(table.Claim(7)) << "max_requests spent";
  EXPECT_FALSE(table.Claim(8)) << "unknown child";
  EXPECT_FALSE(table.Claim(7 + LeaseTable::kChildSlots)) << "another child's slot";
}

TEST(LeaseTable, AnUnlimitedChildTakesClaimsUntilClosedOrRemoved) {
  LeaseTable table = LeaseTable::Create();
  table.AddChild(3, LeaseTable::kUnlimited);
  table.SetOpen(3, true);
  for (int i = 0; i < 5; ++i) EXPECT_TRUE(table.Claim(3)) << i;
  table.SetOpen(3, false);
  EXPECT_FALSE(table.Claim(3));
  table.SetOpen(3, true);
  table.RemoveChild(3);
  EXPECT_FALSE(table.Claim(3));
  // A later child in the same slot is not touched by the old one's id.
  table.AddChild(3 + LeaseTable::kChildSlots, LeaseTable::kUnlimited);
  table.SetOpen(3, true);
  EXPECT_FALSE(table.Claim(3 + LeaseTable::kChildSlots));
}

TEST(LeaseTable, OnlyTheOldestWaiterOfAllWorkersMayTakeAHandOver) {
  LeaseTable table = LeaseTable::Create();
  EXPECT_TRUE(table.OldestOfAll(1, 500)) << "nobody else waits";
  table.PublishOldest(2, 300);
  EXPECT_FALSE(table.OldestOfAll(1, 500));
  EXPECT_TRUE(table.OldestOfAll(1, 300)) << "a tie is good enough";
  EXPECT_TRUE(table.OldestOfAll(2, 300)) << "a worker's own entry does not count";
  table.ClearWorker(2);  // it died
  EXPECT_TRUE(table.OldestOfAll(1, 500));
}

TEST(LeaseTable, TheWorkerOrTheMasterGivesAWaiterAChildNeverBoth) {
  LeaseTable table = LeaseTable::Create();
  EXPECT_FALSE(table.TakeWaiter(1, 0)) << "not read by the master yet";
  table.PublishRead(1, 3);  // ACQUIREs 0..2 read
  EXPECT_TRUE(table.TakeForGrant(1, 0));
  EXPECT_FALSE(table.TakeWaiter(1, 0)) << "granted by the master";
  EXPECT_TRUE(table.TakeWaiter(1, 1));
  EXPECT_FALSE(table.TakeForGrant(1, 1)) << "handed over by the worker";
  EXPECT_FALSE(table.TakeWaiter(1, 3)) << "not read yet";
  EXPECT_TRUE(table.TakeForGrant(1, 2));
  table.PublishRead(1, 5);
  EXPECT_TRUE(table.TakeWaiter(1, 4)) << "3 was cancelled: 4 is next";
  // A worker whose id shares the slot never hands over, and the master
  // grants its waiters as usual.
  EXPECT_FALSE(table.TakeWaiter(1 + LeaseTable::kWorkerSlots, 5));
  EXPECT_TRUE(table.TakeForGrant(1 + LeaseTable::kWorkerSlots, 5));
  table.ClearWorker(1);
  EXPECT_FALSE(table.TakeWaiter(1, 5));
}

TEST(LeaseTable, WaiterNumbersWrapAround) {
  LeaseTable table = LeaseTable::Create();
  table.PublishRead(1, 0xfffffffe);
  EXPECT_TRUE(table.TakeForGrant(1, 0x7ffffffe));  // numbers advance by less than 2^31 at once
  EXPECT_TRUE(table.TakeForGrant(1, 0xfffffffe));
  table.PublishRead(1, 2);  // 0xffffffff, 0 and 1 read
  EXPECT_TRUE(table.TakeWaiter(1, 0xffffffffULL));
  EXPECT_FALSE(table.TakeForGrant(1, 0xffffffff));
  EXPECT_TRUE(table.TakeWaiter(1, 0x100000001ULL));
  EXPECT_FALSE(table.TakeWaiter(1, 0x100000002ULL));
}

TEST(LeaseTable, AnUnclaimGivesTheRequestBack) {
  LeaseTable table = LeaseTable::Create();
  table.AddChild(1, 1);
  table.SetOpen(1, true);
  EXPECT_TRUE(table.Claim(1));
  table.Unclaim(1);
  EXPECT_TRUE(table.Claim(1));
  EXPECT_FALSE(table.Claim(1));
}

TEST(LeaseTable, AWorkerSeesTheMastersTableThroughTheFd) {
  LeaseTable master = LeaseTable::Create();
  LeaseTable worker = LeaseTable::Attach(UniqueFd(dup(master.fd())));
  master.AddChild(1, 1);
  master.SetOpen(1, true);
  EXPECT_TRUE(worker.Claim(1));
  EXPECT_FALSE(master.Claim(1)) << "the worker spent the last request";
}

class LeaseHandoverTest : public testing::BrokerTest {
 protected:
  LeaseHandoverTest() : BrokerTest(/*with_table=*/true) {
    config_.n_min = 1;
    config_.n_max = 2;
    config_.max_queue = 10;
    config_.max_spawning = 2;
    Start();
    pool_.OnReady(1);
  }
  // Request `req` of worker 1 gets child 1 from the master, and `next` queues.
  void LeaseAndQueue(uint64_t req, uint64_t next) {
    broker_.Acquire(1, req);
    broker_.Dispatch();
    broker_.Acquire(1, next);
    broker_.Dispatch();
  }
  const RChild& Child(uint64_t id) { return *pool_.Find(id); }
};

TEST_F(LeaseHandoverTest, AWaiterTheWorkerTookIsNotGrantedAgain) {
  broker_.Acquire(1, 10);  // ACQUIRE #0, granted at once
  broker_.Dispatch();
  EXPECT_FALSE(table_.TakeWaiter(1, 0)) << "its GRANT is on its way: no hand-over";
  broker_.Acquire(1, 11);  // #1
  broker_.Dispatch();
  ASSERT_TRUE(table_.TakeWaiter(1, 1));  // the worker hands it child 1 ...
  pool_.OnReady(2);                      // ... as the master gets a second child
  broker_.Dispatch();
  EXPECT_EQ(sink_.grants.size(), 1u) << "no GRANT for a request the worker took";
  EXPECT_EQ(broker_.waiting(), 0u);
  EXPECT_EQ(pool_.Find(2)->state, ChildState::kReady);
  broker_.Transfer(1, {10, 11, 1});  // ... which it then reads
  EXPECT_EQ(broker_.handovers(), 1u);
  EXPECT_EQ(pool_.VerifyInvariants(), "");
}

TEST_F(LeaseHandoverTest, ATransferMovesTheLeaseAndEndsTheWait) {
  LeaseAndQueue(10, 11);
  ASSERT_EQ(sink_.grants.size(), 1u);
  ASSERT_EQ(broker_.waiting(), 1u);
  ASSERT_TRUE(table_.Claim(1)) << "a Ready or Busy child is open";
  broker_.Transfer(1, {10, 11, 1});
  broker_.Dispatch();
  EXPECT_EQ(broker_.waiting(), 0u);
  EXPECT_EQ(sink_.grants.size(), 1u) << "no GRANT for a request handed a child";
  EXPECT_EQ(broker_.handovers(), 1u);
  EXPECT_EQ(broker_.waited(), 1u) << "it did wait";
  ASSERT_EQ(Child(1).leases.size(), 1u);
  EXPECT_EQ(Child(1).leases[0], (LeaseRef{1, 11}));
  EXPECT_EQ(Child(1).requests, 2u);
  EXPECT_EQ(pool_.VerifyInvariants(), "");
  ReleaseOk(1, 10, 1);  // a stale RELEASE of the lease handed over: ignored
  EXPECT_EQ(Child(1).state, ChildState::kBusy);
  ReleaseOk(1, 11, 1);
  EXPECT_EQ(Child(1).state, ChildState::kReady);
}

TEST_F(LeaseHandoverTest, AGrantThatCrossedTheTransferIsReleasedAndNothingIsLost) {
  LeaseAndQueue(10, 11);
  pool_.OnReady(2);  // the waiter called for a second child
  broker_.Dispatch();
  ASSERT_EQ(sink_.grants.size(), 2u);
  EXPECT_EQ(sink_.grants[1].second.child_id, 2u);
  // Meanwhile the worker handed child 1 to request 11 as well.
  broker_.Transfer(1, {10, 11, 1});
  EXPECT_EQ(pool_.VerifyInvariants(), "");
  ReleaseOk(1, 11, 2);  // what MasterLink does with the GRANT
  EXPECT_EQ(Child(2).state, ChildState::kReady);
  EXPECT_EQ(Child(1).state, ChildState::kBusy);
  ReleaseOk(1, 11, 1);
  EXPECT_EQ(pool_.LeaseCount(), 0u);
}

TEST_F(LeaseHandoverTest, ATransferOnAChildStoppedMeanwhileChangesNothing) {
  LeaseAndQueue(10, 11);
  broker_.Release(1, {10, 1, ipc::Outcome::kTimedOut}, [](const RChild&) { return true; });
  ASSERT_EQ(Child(1).state, ChildState::kStopping);
  EXPECT_FALSE(table_.Claim(1)) << "a stopping child is closed";
  broker_.Transfer(1, {10, 11, 1});
  EXPECT_EQ(broker_.handovers(), 0u);
  EXPECT_EQ(broker_.waiting(), 0u) << "the worker no longer waits for it";
  EXPECT_EQ(pool_.LeaseCount(), 0u);
  EXPECT_EQ(pool_.VerifyInvariants(), "");
}

TEST_F(LeaseHandoverTest, ADrainingChildServesTheRequestHandedOverThenStops) {
  LeaseAndQueue(10, 11);
  pool_.RetireAll(SIGINT);
  ASSERT_EQ(Child(1).state, ChildState::kDraining);
  EXPECT_FALSE(table_.Claim(1)) << "closed once draining";
  broker_.Transfer(1, {10, 11, 1});  // claimed just before it closed
  EXPECT_EQ(Child(1).state, ChildState::kDraining);
  ReleaseOk(1, 11, 1);
  EXPECT_EQ(Child(1).state, ChildState::kStopping);
  EXPECT_TRUE(launcher_.WasSignalled(Child(1).pid, SIGINT));
}

TEST_F(LeaseHandoverTest, MaxRequestsCountsHandOversAndClosesTheChild) {
  config_.max_requests = 3;
  config_.max_requests_jitter = 0;
  pool_.SetConfig(config_);
  pool_.Reconcile(2);  // child 2, with max_requests 3
  pool_.OnReady(2);
  pool_.OnReady(1);
  // Child 1 (no limit) busy, so the master leases child 2: one request spent.
  broker_.Acquire(1, 1);
  broker_.Dispatch();
  ASSERT_EQ(sink_.grants.back().second.child_id, 1u);
  broker_.Acquire(1, 2);
  broker_.Dispatch();
  ASSERT_EQ(sink_.grants.back().second.child_id, 2u);
  // The worker hands child 2 over twice before the master reads a TRANSFER.
  EXPECT_TRUE(table_.Claim(2));
  EXPECT_TRUE(table_.Claim(2));
  EXPECT_FALSE(table_.Claim(2)) << "a fourth request would pass max_requests";
  broker_.Acquire(1, 3);
  broker_.Acquire(1, 4);
  broker_.Dispatch();
  broker_.Transfer(1, {2, 3, 2});
  broker_.Transfer(1, {3, 4, 2});
  EXPECT_EQ(Child(2).requests, 3u);
  EXPECT_EQ(Child(2).replacement, Replacement::kDue);
  EXPECT_EQ(pool_.counters().recycled_max_requests, 1u);
}

TEST_F(LeaseHandoverTest, AWorkerThatDiesAfterAHandOverLeaksNothing) {
  LeaseAndQueue(10, 11);
  broker_.Transfer(1, {10, 11, 1});
  broker_.DropWorker(1);
  EXPECT_EQ(Child(1).state, ChildState::kStopping);
  EXPECT_EQ(pool_.LeaseCount(), 0u);
}

TEST_F(LeaseHandoverTest, ADeadChildsSlotIsCleared) {
  pid_t pid = Child(1).pid;
  ASSERT_TRUE(table_.Claim(1));
  pool_.OnExit(pid, 9);  // killed
  EXPECT_FALSE(table_.Claim(1));
}

}  // namespace
}  // namespace valved::master
