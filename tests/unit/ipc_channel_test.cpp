// IpcChannel's batching on a real event base and a real socketpair: messages
// batched in one callback leave together at the end of the loop's turn, a
// Send() takes the batch with it, in order, and WhenFlushed() waits for it.
#include "common/ipc_channel.h"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <functional>
#include <string>

#include "common/event_ptr.h"
#include "common/unique_fd.h"
#include "tests/unit/read_now.h"

namespace valved {
namespace {

class IpcChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    peer_ = UniqueFd(fds[1]);
    channel_ = std::make_unique<IpcChannel>(
        base_.get(), UniqueFd(fds[0]), "test", [](const ipc::Message&) {},
        [this](const std::string& reason) { closed_ = reason; });
  }

  /// Runs `body` as a callback of the loop, then the rest of that turn.
  void InOneCallback(std::function<void()> body) {
    body_ = std::move(body);
    EventPtr ev(event_new(base_.get(), -1, 0, &IpcChannelTest::RunBody, this));
    event_active(ev.get(), EV_TIMEOUT, 0);
    event_base_loop(base_.get(), EVLOOP_NONBLOCK);
  }

  /// What the peer can read now, without waiting.
  std::string PeerReads() { return testing::ReadNow(peer_.get()); }

  static void RunBody(evutil_socket_t, short, void* arg) {
    static_cast<IpcChannelTest*>(arg)->body_();
  }

  EventBasePtr base_{event_base_new()};
  UniqueFd peer_;
  std::unique_ptr<IpcChannel> channel_;
  std::function<void()> body_;
  std::string closed_;
};

TEST_F(IpcChannelTest, BatchedMessagesLeaveTogetherAtTheEndOfTheTurn) {
  std::string during;
  InOneCallback([&] {
    channel_->SendBatched(ipc::Acquire{1});
    channel_->SendBatched(ipc::Transfer{1, 2, 7});
    during = PeerReads();
  });
  EXPECT_EQ(during, "") << "a batched message left before the callback returned";
  EXPECT_EQ(PeerReads(), "ACQUIRE 1\nTRANSFER 1 2 7\n");
  EXPECT_EQ(closed_, "");
}

TEST_F(IpcChannelTest, SendTakesTheBatchAlongInOrder) {
  std::string during;
  InOneCallback([&] {
    channel_->SendBatched(ipc::Acquire{1});
    channel_->Send(ipc::Release{3, 7, ipc::Outcome::kOk});
    during = PeerReads();
    channel_->SendBatched(ipc::Acquire{4});
  });
  EXPECT_EQ(during, "ACQUIRE 1\nRELEASE 3 7 ok\n");
  EXPECT_EQ(PeerReads(), "ACQUIRE 4\n");
}

TEST_F(IpcChannelTest, WhenFlushedWaitsForTheBatch) {
  bool flushed_in_callback = true;
  bool flushed = false;
  InOneCallback([&] {
    channel_->SendBatched(ipc::Cancel{5});
    channel_->WhenFlushed([&] { flushed = true; });
    flushed_in_callback = flushed;
  });
  EXPECT_FALSE(flushed_in_callback) << "WhenFlushed ran before the batch was written";
  EXPECT_TRUE(flushed);
  EXPECT_EQ(PeerReads(), "CANCEL 5\n");
}

}  // namespace
}  // namespace valved
