#include "master/lease_broker.h"

#include <gtest/gtest.h>

#include "tests/unit/broker_fixture.h"

namespace valved::master {
namespace {

using namespace std::chrono_literals;

class LeaseBrokerTest : public testing::BrokerTest {
 protected:
  LeaseBrokerTest() : BrokerTest(/*with_table=*/false) {
    config_.n_min = 1;
    config_.n_max = 2;
    config_.max_queue = 3;
    config_.max_spawning = 2;
    config_.queue_timeout = 10s;
    Start();
  }
};

TEST_F(LeaseBrokerTest, GrantsAnIdleChildAtOnce) {
  ReadyAll();
  broker_.Acquire(1, 10);
  broker_.Dispatch();
  ASSERT_EQ(sink_.grants.size(), 1u);
  EXPECT_EQ(sink_.grants[0].first, 1u);
  EXPECT_EQ(sink_.grants[0].second.req, 10u);
  EXPECT_EQ(sink_.grants[0].second.socket_path, "/run/v/child-1.sock");
}

TEST_F(LeaseBrokerTest, WaitersAreServedInArrivalOrderAcrossWorkers) {
  ReadyAll();
  broker_.Acquire(1, 10);
  broker_.Dispatch();
  broker_.Acquire(2, 20);
  broker_.Acquire(1, 11);
  broker_.Dispatch();
  ASSERT_EQ(sink_.grants.size(), 1u);
  EXPECT_EQ(launcher_.launched.size(), 2u) << "a waiter calls for a second child";
  pool_.OnReady(2);
  broker_.Dispatch();
  ASSERT_EQ(sink_.grants.size(), 2u);
  EXPECT_EQ(sink_.grants[1].first, 2u);
  EXPECT_EQ(sink_.grants[1].second.req, 20u);
  ReleaseOk(1, 10, 1);
  ASSERT_EQ(sink_.grants.size(), 3u);
  EXPECT_EQ(sink_.grants[2].second.req, 11u);
}

TEST_F(LeaseBrokerTest, CountsOnlyRequestsThatFoundNoFreeChild) {
  ReadyAll();
  broker_.Acquire(1, 10);
  broker_.Dispatch();
  EXPECT_EQ(broker_.waited(), 0u);
  broker_.Acquire(1, 11);
  broker_.Dispatch();
  broker_.Dispatch();
  EXPECT_EQ(broker_.waited(), 1u);
}

TEST_F(LeaseBrokerTest, AFullWaitlistDeniesWithQueueFull) {
  for (uint64_t req = 1; req <= 4; ++req) broker_.Acquire(1, req);
  ASSERT_EQ(sink_.denies.size(), 1u);
  EXPECT_EQ(sink_.denies[0].second.req, 4u);
  EXPECT_EQ(sink_.denies[0].second.reason, ipc::DenyReason::kQueueFull);
}

TEST_F(LeaseBrokerTest, WaitersOlderThanQueueTimeoutAreDenied) {
  broker_.Acquire(1, 1);
  clock_.Advance(5s);
  broker_.Acquire(1, 2);
  clock_.Advance(5s);
  broker_.ExpireWaiters();
  ASSERT_EQ(sink_.denies.size(), 1u);
  EXPECT_EQ(sink_.denies[0].second.req, 1u);
  EXPECT_EQ(sink_.denies[0].second.reason, ipc::DenyReason::kQueueTimeout);
  EXPECT_EQ(broker_.waiting(), 1u);
}

TEST_F(LeaseBrokerTest, ACancelledWaiterIsNeverGranted) {
  broker_.Acquire(1, 1);
  broker_.Cancel(1, 1);
  ReadyAll();
  broker_.Dispatch();
  EXPECT_TRUE(sink_.grants.empty());
  broker_.Cancel(1, 99);  // unknown: ignored
}

TEST_F(LeaseBrokerTest, ADeadWorkersWaitersAndLeasesAreDropped) {
  ReadyAll();
  broker_.Acquire(1, 1);
  broker_.Dispatch();
  broker_.Acquire(1, 2);
  broker_.Acquire(2, 3);
  broker_.DropWorker(1);
  EXPECT_EQ(broker_.waiting(), 1u);
  EXPECT_EQ(pool_.Count(ChildState::kStopping), 1u);
}

TEST_F(LeaseBrokerTest, CloseDeniesEveryWaiterAndEveryNewcomer) {
  broker_.Acquire(1, 1);
  broker_.Close(ipc::DenyReason::kShuttingDown);
  broker_.Acquire(2, 2);
  ASSERT_EQ(sink_.denies.size(), 2u);
  EXPECT_EQ(sink_.denies[1].second.reason, ipc::DenyReason::kShuttingDown);
}

}  // namespace
}  // namespace valved::master
