// Local waits (worker/master_link.h): while the lease table says the pool is
// saturated, a worker holding a lease keeps new requests to itself and hands
// the lease on to them; the master hears of them through HANDED, FLUSH and
// the ACQUIREs sent later. The worker's side runs on a real event base with
// the master's end of a real socketpair; the master's side on the broker
// fixture.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <optional>
#include <string>

#include "common/event_ptr.h"
#include "common/lease_table.h"
#include "common/request_stats.h"
#include "tests/unit/broker_fixture.h"
#include "tests/unit/read_now.h"
#include "worker/master_link.h"

namespace valved {
namespace {

using namespace std::chrono_literals;
using worker::MasterLink;

class LocalWaitTest : public ::testing::Test {
 protected:
  void SetUp() override {
    table_.AddChild(1, LeaseTable::kUnlimited);
    table_.SetOpen(1, true);
    Connect({});
  }

  /// A new link (worker 1) on a new channel.
  void Connect(worker::LocalWaitLimits limits) {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    master_ = UniqueFd(fds[1]);
    link_ = std::make_unique<MasterLink>(
        base_.get(), UniqueFd(fds[0]), 1,
        MasterLink::Handlers{[] {}, [] {}, [this](const std::string& r) { lost_ = r; }, [] {}},
        &table_, limits);
    Turn();
    MasterReads();  // HELLO
  }

  void Turn() { event_base_loop(base_.get(), EVLOOP_NONBLOCK); }

  /// What the master end can read now.
  std::string MasterReads() { return testing::ReadNow(master_.get()); }

  void MasterSends(const std::string& line) {
    ASSERT_EQ(send(master_.get(), line.data(), line.size(), 0), static_cast<ssize_t>(line.size()));
    Turn();
  }

  void Ask(uint64_t req) {
    link_->Acquire(req, [this, req](const MasterLink::LeaseAnswer& a) { answers_[req] = a; });
    Turn();
  }

  /// Request 10 holds child 1, granted by the master; the pool is saturated.
  void HoldALease() {
    Ask(10);
    ASSERT_EQ(MasterReads(), "ACQUIRE 10\n");
    MasterSends("GRANT 10 1 /run/c1.sock\n");
    ASSERT_TRUE(answers_.count(10));
    table_.PublishSaturated(true);
  }

  const ipc::Grant* GrantOf(uint64_t req) {
    auto it = answers_.find(req);
    return it == answers_.end() ? nullptr : std::get_if<ipc::Grant>(&it->second);
  }

  EventBasePtr base_{event_base_new()};
  LeaseTable table_ = LeaseTable::Create();
  UniqueFd master_;
  std::unique_ptr<MasterLink> link_;
  std::map<uint64_t, MasterLink::LeaseAnswer> answers_;
  std::string lost_;
};

TEST_F(LocalWaitTest, ARequestWaitsInTheWorkerAndTakesTheLeaseOnWithoutTheMaster) {
  HoldALease();
  Ask(11);
  EXPECT_EQ(MasterReads(), "") << "no ACQUIRE while saturated behind a lease";
  EXPECT_EQ(link_->waiting_locally(), 1u);
  link_->ReleaseOk(10, 1, "/run/c1.sock");
  Turn();
  const ipc::Grant* grant = GrantOf(11);
  ASSERT_NE(grant, nullptr);
  EXPECT_EQ(grant->req, 10u) << "the lease keeps the name the master knows";
  EXPECT_EQ(grant->child_id, 1u);
  EXPECT_EQ(MasterReads(), "") << "neither RELEASE nor TRANSFER";
  link_->SendStats(RequestStats{});
  Turn();
  EXPECT_NE(MasterReads().find("HANDED 1 1 1\n"), std::string::npos);
  link_->Release(10, 1, ipc::Outcome::kOk);
  EXPECT_EQ(MasterReads(), "RELEASE 10 1 ok\n");
}

TEST_F(LocalWaitTest, WithoutSaturationOrWithoutALeaseTheMasterIsAskedAtOnce) {
  Ask(9);
  EXPECT_EQ(MasterReads(), "ACQUIRE 9\n") << "saturated or not, it holds no lease";
  HoldALease();
  table_.PublishSaturated(false);
  Ask(11);
  EXPECT_EQ(MasterReads(), "ACQUIRE 11\n");
}

TEST_F(LocalWaitTest, FlushSendsTheLocalWaitersAcquiresOldestFirst) {
  HoldALease();
  Ask(11);
  Ask(12);
  table_.PublishSaturated(false);
  Ask(13);  // waits here too: after the others, its ACQUIRE must come after theirs
  EXPECT_EQ(MasterReads(), "");
  MasterSends("FLUSH\n");
  std::string lines = MasterReads();
  size_t a = lines.find("ACQUIRE 11 "), b = lines.find("ACQUIRE 12 "),
         c = lines.find("ACQUIRE 13 ");
  ASSERT_NE(a, std::string::npos) << lines;
  ASSERT_NE(b, std::string::npos) << lines;
  ASSERT_NE(c, std::string::npos) << lines;
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(link_->waiting_locally(), 0u);
  EXPECT_EQ(link_->waiting(), 3u);
}

TEST_F(LocalWaitTest, AReleaseTakesTheHandedCountAndTheLocalWaitersAcquiresFirst) {
  HoldALease();
  Ask(11);
  link_->ReleaseOk(10, 1, "/run/c1.sock");  // 11 takes the lease on
  Ask(12);
  link_->Release(10, 1, ipc::Outcome::kBroken);
  std::string lines = MasterReads();
  size_t handed = lines.find("HANDED 1 1 1\n"), acquire = lines.find("ACQUIRE 12 "),
         release = lines.find("RELEASE 10 1 broken\n");
  ASSERT_NE(handed, std::string::npos) << lines;
  ASSERT_NE(acquire, std::string::npos) << lines;
  ASSERT_NE(release, std::string::npos) << lines;
  EXPECT_LT(handed, release);
  EXPECT_LT(acquire, release);
}

TEST_F(LocalWaitTest, AtMaxQueueTheLocalWaitersAndTheNewRequestAreEachAskedForOnce) {
  Connect({1, 1s});
  HoldALease();
  Ask(11);  // waits here: the queue holds 1 now
  EXPECT_EQ(MasterReads(), "");
  Ask(12);  // the queue is full: the master must refuse it
  std::string lines = MasterReads();
  EXPECT_EQ(lines.rfind("ACQUIRE 11 ", 0), 0u) << lines << "(11 first, with its wait)";
  EXPECT_NE(lines.find("\nACQUIRE 12\n"), std::string::npos) << lines;
  EXPECT_EQ(lines.find("ACQUIRE 12 "), std::string::npos) << lines << "(12 once, not as a wait)";
}

TEST_F(LocalWaitTest, ALocalWaiterThatLeavesCostsTheMasterNothing) {
  HoldALease();
  Ask(11);
  link_->Cancel(11);
  Turn();
  EXPECT_EQ(MasterReads(), "");
  EXPECT_EQ(link_->waiting(), 0u);
  link_->ReleaseOk(10, 1, "/run/c1.sock");
  EXPECT_EQ(MasterReads(), "RELEASE 10 1 ok\n");
}

TEST_F(LocalWaitTest, AnOlderWaiterInAnotherWorkerGetsTheChildThroughTheMaster) {
  HoldALease();
  Ask(11);
  table_.PublishOldest(2, 1);  // worker 2's waiter asked at the clock's dawn
  link_->ReleaseOk(10, 1, "/run/c1.sock");
  EXPECT_EQ(GrantOf(11), nullptr);
  std::string lines = MasterReads();
  EXPECT_NE(lines.find("ACQUIRE 11 "), std::string::npos) << lines;
  EXPECT_NE(lines.find("RELEASE 10 1 ok\n"), std::string::npos) << lines;
}

TEST_F(LocalWaitTest, WithOneWorkerALeaseLingersForTheNextRequestThenGoesBack) {
  table_.PublishWorkers(1);
  HoldALease();
  table_.PublishSaturated(false);
  link_->ReleaseOk(10, 1, "/run/c1.sock");
  Turn();
  EXPECT_EQ(MasterReads(), "") << "the lease lingers";
  Ask(11);
  const ipc::Grant* grant = GrantOf(11);
  ASSERT_NE(grant, nullptr) << "the next request takes it on at once";
  EXPECT_EQ(grant->req, 10u);
  EXPECT_EQ(MasterReads(), "");
  link_->ReleaseOk(10, 1, "/run/c1.sock");
  event_base_loop(base_.get(), EVLOOP_ONCE);  // the linger timer, milliseconds away
  std::string lines = MasterReads();
  EXPECT_NE(lines.find("HANDED 1 1 0\n"), std::string::npos) << lines << "(not a wait)";
  EXPECT_NE(lines.find("RELEASE 10 1 ok\n"), std::string::npos) << lines;
}

TEST_F(LocalWaitTest, NoLingeringWithTwoWorkersOrOnQuit) {
  table_.PublishWorkers(2);
  HoldALease();
  link_->ReleaseOk(10, 1, "/run/c1.sock");
  EXPECT_EQ(MasterReads(), "RELEASE 10 1 ok\n") << "another worker may need the child";
  table_.PublishWorkers(1);
  Ask(12);
  EXPECT_EQ(MasterReads(), "ACQUIRE 12\n");
  MasterSends("GRANT 12 1 /run/c1.sock\n");
  link_->ReleaseOk(12, 1, "/run/c1.sock");
  EXPECT_EQ(MasterReads(), "");
  MasterSends("QUIT\n");
  EXPECT_EQ(MasterReads(), "RELEASE 12 1 ok\n");
}

// queue_in_child: the oldest local waiter may be sent to a child behind a
// request on a quick route, sharing its lease.
TEST_F(LocalWaitTest, AWaiterQueuesInTheChildBehindAQuickRequestAndTheLeaseEndsWithTheLast) {
  Connect({1000, 1s, 10s});
  HoldALease();
  link_->Serving(10, 1, "/run/c1.sock", /*quick=*/true);
  Ask(11);
  const ipc::Grant* grant = GrantOf(11);
  ASSERT_NE(grant, nullptr) << "sent to the busy child at once";
  EXPECT_EQ(grant->req, 10u) << "on the lease it shares";
  link_->Serving(10, 1, "/run/c1.sock", /*quick=*/true);  // 11 went out
  Ask(12);
  EXPECT_EQ(GrantOf(12), nullptr) << "one request at most waits in a child";
  EXPECT_EQ(link_->waiting_locally(), 1u);
  link_->ReleaseOk(10, 1, "/run/c1.sock");  // 10 answered: R is on 11
  EXPECT_NE(GrantOf(12), nullptr) << "12 queues behind 11 the moment it is the one in R";
  link_->ReleaseOk(10, 1, "/run/c1.sock");  // 11
  EXPECT_EQ(MasterReads(), "") << "the lease goes on while a request is in the child";
  link_->ReleaseOk(10, 1, "/run/c1.sock");  // 12, the last
  std::string lines = MasterReads();
  EXPECT_NE(lines.find("HANDED 1 2 2\n"), std::string::npos) << lines;
  EXPECT_NE(lines.find("RELEASE 10 1 ok\n"), std::string::npos) << lines;
}

TEST_F(LocalWaitTest, NoQueueingInAChildBehindASlowRouteOrWhenOff) {
  Connect({1000, 1s, 10s});
  HoldALease();
  link_->Serving(10, 1, "/run/c1.sock", /*quick=*/false);
  Ask(11);
  EXPECT_EQ(GrantOf(11), nullptr) << "behind a slow or unknown route, it waits in the worker";
  link_->ReleaseOk(10, 1, "/run/c1.sock");
  ASSERT_NE(GrantOf(11), nullptr) << "and takes the lease on when it ends, as before";

  Connect({1000, 1s, 0s});
  answers_.clear();
  HoldALease();
  link_->Serving(10, 1, "/run/c1.sock", /*quick=*/true);
  Ask(11);
  EXPECT_EQ(GrantOf(11), nullptr) << "queue_in_child 0";
}

TEST_F(LocalWaitTest, AFailedRequestInASharedLeaseEndsItWithItsOutcome) {
  Connect({1000, 1s, 10s});
  HoldALease();
  link_->Serving(10, 1, "/run/c1.sock", /*quick=*/true);
  Ask(11);
  ASSERT_NE(GrantOf(11), nullptr);
  link_->Release(10, 1, ipc::Outcome::kTimedOut);  // 10 timed out; 11 is still in the child
  EXPECT_EQ(MasterReads(), "");
  Ask(12);
  EXPECT_EQ(GrantOf(12), nullptr) << "never behind a lease that has failed";
  link_->ReleaseOk(10, 1, "/run/c1.sock");
  std::string lines = MasterReads();
  EXPECT_NE(lines.find("RELEASE 10 1 timed_out\n"), std::string::npos) << lines;
}

class LocalWaitBrokerTest : public testing::BrokerTest {
 protected:
  LocalWaitBrokerTest() : BrokerTest(/*with_table=*/true) {
    config_.n_min = 1;
    config_.n_max = 1;
    config_.max_queue = 10;
    config_.max_requests = 3;
    Start();
    pool_.OnReady(1);
  }
};

TEST_F(LocalWaitBrokerTest, SaturatedWhenNoChildIsFreeAndNoneMayBeSpawned) {
  EXPECT_FALSE(broker_.Saturated()) << "child 1 is free";
  broker_.Acquire(1, 10);
  broker_.Dispatch();
  EXPECT_TRUE(broker_.Saturated()) << "busy, and n_max is 1";
  ReleaseOk(1, 10, 1);
  EXPECT_FALSE(broker_.Saturated());
}

TEST_F(LocalWaitBrokerTest, HandedRequestsCountAsServedAndWaitedAndReachMaxRequests) {
  broker_.Acquire(1, 10);
  broker_.Dispatch();
  broker_.Handed({1, 2, 2});
  EXPECT_EQ(pool_.Find(1)->requests, 3u);
  EXPECT_EQ(broker_.waited(), 2u);
  EXPECT_EQ(broker_.handovers(), 2u);
  EXPECT_NE(pool_.Find(1)->replacement, master::Replacement::kNone) << "max_requests is 3";
  broker_.Handed({7, 1, 1});  // a child gone meanwhile
  EXPECT_EQ(broker_.handovers(), 2u);
}

TEST_F(LocalWaitBrokerTest, AnAcquireThatWaitedLocallyQueuesByArrivalAndCountsAsWaited) {
  broker_.Acquire(1, 10);
  broker_.Dispatch();  // child 1 busy
  clock_.Advance(50ms);
  broker_.Acquire(2, 20);        // worker 2, asked just now
  broker_.Acquire(1, 11, 30ms);  // worker 1's, asked 30 ms ago: before 20
  broker_.Dispatch();
  EXPECT_EQ(broker_.waited(), 2u);
  ReleaseOk(1, 10, 1);
  ASSERT_EQ(sink_.grants.size(), 2u);
  EXPECT_EQ(sink_.grants[1].second.req, 11u);
}

TEST_F(LocalWaitBrokerTest, MaxQueueCountsLocalWaitersAndNeverRefusesOneLetIn) {
  config_.max_queue = 1;
  broker_.SetConfig(config_);
  broker_.Acquire(1, 10);
  broker_.Dispatch();         // child 1 busy
  table_.PublishLocal(1, 1);  // worker 1 keeps one request waiting
  broker_.Acquire(2, 20);
  ASSERT_EQ(sink_.denies.size(), 1u) << "the queue is full with worker 1's";
  EXPECT_EQ(sink_.denies[0].second.reason, ipc::DenyReason::kQueueFull);
  table_.PublishLocal(1, 0);
  broker_.Acquire(2, 21);       // queued: the total is 0 again
  broker_.Acquire(1, 11, 5ms);  // worker 1's, let in when it arrived
  EXPECT_EQ(sink_.denies.size(), 1u);
  EXPECT_EQ(broker_.waiting(), 2u);
}

}  // namespace
}  // namespace valved
