// ReadWithoutSizing() on a real event base and a real socketpair: reads of
// the bufferevent's max_single_read (libevent 2.1's own stop at 4 KiB), the
// high watermark respected, EOF and read timeouts reported as libevent does.
#include "common/socket_read.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/event_ptr.h"
#include "common/unique_fd.h"

namespace valved {
namespace {

class SocketReadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, fds), 0);
    peer_ = UniqueFd(fds[1]);
    bev_.reset(bufferevent_socket_new(base_.get(), fds[0], BEV_OPT_CLOSE_ON_FREE));
    bufferevent_setcb(bev_.get(), OnRead, nullptr, OnEvent, this);
    ReadWithoutSizing(bev_.get());
    bufferevent_enable(bev_.get(), EV_READ);
  }

  void PeerWrites(size_t bytes) {
    std::string data(bytes, 'x');
    ASSERT_EQ(write(peer_.get(), data.data(), data.size()), static_cast<ssize_t>(bytes));
  }

  /// One turn of the loop, waiting for at most `limit`.
  void Turn(timeval limit = {2, 0}) {
    event_base_loopexit(base_.get(), &limit);
    event_base_loop(base_.get(), EVLOOP_ONCE);
  }

  static void OnRead(bufferevent* bev, void* arg) {
    static_cast<SocketReadTest*>(arg)->reads_.push_back(
        evbuffer_get_length(bufferevent_get_input(bev)));
  }
  static void OnEvent(bufferevent*, short what, void* arg) {
    static_cast<SocketReadTest*>(arg)->events_.push_back(what);
  }

  EventBasePtr base_{event_base_new()};
  UniqueFd peer_;
  BuffereventPtr bev_;
  std::vector<size_t> reads_;  // the input's length at each read callback
  std::vector<short> events_;
};

TEST_F(SocketReadTest, OneReadTakesUpToMaxSingleRead) {
  bufferevent_set_max_single_read(bev_.get(), 16384);
  PeerWrites(20000);
  Turn();
  ASSERT_EQ(reads_.size(), 1u);
  EXPECT_EQ(reads_[0], 16384u) << "libevent's own read takes 4096";
  Turn();
  ASSERT_EQ(reads_.size(), 2u);
  EXPECT_EQ(reads_[1], 20000u);
  EXPECT_TRUE(events_.empty());
}

TEST_F(SocketReadTest, StopsAtTheHighWatermark) {
  // No read callback: libevent calls one that leaves the input at the
  // watermark again and again (bufferevent_inbuf_wm_check), whoever reads.
  bufferevent_setcb(bev_.get(), nullptr, nullptr, OnEvent, this);
  bufferevent_setwatermark(bev_.get(), EV_READ, 0, 1000);
  evbuffer* in = bufferevent_get_input(bev_.get());
  PeerWrites(3000);
  Turn();
  EXPECT_EQ(evbuffer_get_length(in), 1000u);
  PeerWrites(1);  // reading is suspended: nothing is read
  Turn({0, 50000});
  EXPECT_EQ(evbuffer_get_length(in), 1000u);
  evbuffer_drain(in, 1000);
  Turn();
  EXPECT_EQ(evbuffer_get_length(in), 1000u);
  EXPECT_TRUE(events_.empty());
}

TEST_F(SocketReadTest, EofIsReportedAndReadingStops) {
  PeerWrites(10);
  peer_.reset();
  Turn();
  Turn();
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0], BEV_EVENT_READING | BEV_EVENT_EOF);
  EXPECT_EQ(evbuffer_get_length(bufferevent_get_input(bev_.get())), 10u);
  EXPECT_FALSE(bufferevent_get_enabled(bev_.get()) & EV_READ);
}

TEST_F(SocketReadTest, ReadTimeoutIsReported) {
  timeval quick{0, 20000};
  bufferevent_set_timeouts(bev_.get(), &quick, nullptr);
  Turn();
  ASSERT_EQ(events_.size(), 1u);
  EXPECT_EQ(events_[0], BEV_EVENT_READING | BEV_EVENT_TIMEOUT);
}

}  // namespace
}  // namespace valved
