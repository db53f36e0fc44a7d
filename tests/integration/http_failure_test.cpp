// Issue 3, every wait has a limit and no failure costs more than it must,
// against real R children (tests/fixtures/http.R): slowloris heads (408),
// idle keep-alive connections, the queue (503 + Retry-After), a silent R
// (504, child replaced), an R that dies mid-request (502, child replaced),
// clients that leave or stop reading (the child is freed once R is done, and
// nothing of their response reaches anyone else), and a request R itself
// refuses (the child stays).
#include <poll.h>

#include <regex>
#include <string>
#include <vector>

#include "tests/integration/http_test_util.h"
#include "tests/integration/valved_harness.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

class HttpFailureTest : public HttpTest {
 protected:
  /// Waits until requests got a child `count` times in all: leased by the
  /// master, or a lease the worker kept lingering (one worker) taken on.
  bool LeasedTimes(const Valved& valved, size_t count) {
    return Eventually(
        30s,
        [&] { return valved.LogLines(std::regex("Ready -> Busy|takes on lease")).size() >= count; },
        "lease " + std::to_string(count));
  }

  /// The pid of the R process answering /pid, or 0.
  pid_t PidOf(const Valved& valved) {
    HttpResponse response = HttpGet(valved.port(), "/pid", 30s);
    return static_cast<pid_t>(JsonNumber(response.body, "pid").value_or(0));
  }

  /// Waits until a child other than `before` answers.
  bool WaitForAnotherChild(const Valved& valved, pid_t before) {
    return Eventually(
        60s,
        [&] {
          pid_t now = PidOf(valved);
          return now != 0 && now != before;
        },
        "a new R child serving");
  }
};

TEST_F(HttpFailureTest, SlowlorisHeadIsCutOffWithinHeaderTimeout) {
  Valved* valved = StartHttp(1, {"--header-timeout", "1s"});
  ASSERT_NE(valved, nullptr);
  RawSocket client(valved->port());
  auto start = SteadyClock::now();
  client.Send("GET /ping HTTP/1.1\r\nHost: a\r\n");
  // One header byte every 100 ms, for at most 10 s, until valved answers.
  std::string trickle = "X-Slow: " + std::string(200, 'z');
  for (size_t i = 0; i < trickle.size() && !client.closed(); ++i) {
    if (!client.Send(trickle.substr(i, 1))) break;
    if (client.Receive(100ms)) break;
  }
  ASSERT_TRUE(client.ReceiveUntilClosed(5s)) << client.received();
  double seconds = SecondsSince(start);
  EXPECT_EQ(client.FirstStatus(), 408) << client.received();
  EXPECT_GE(seconds, 0.9);
  EXPECT_LT(seconds, 3.0) << "the head kept the connection open";
  EXPECT_EQ(Seen(valved->port()), std::vector<std::string>{});
}

TEST_F(HttpFailureTest, IdleKeepAliveConnectionIsClosedAfterKeepaliveTimeout) {
  Valved* valved = StartHttp(1, {"--keepalive-timeout", "1s"});
  ASSERT_NE(valved, nullptr);
  RawSocket client(valved->port());
  client.Send("GET /ping HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(client.ReceiveUntil("pong", 30s));
  auto idle_since = SteadyClock::now();
  ASSERT_TRUE(client.ReceiveUntilClosed(10s));
  EXPECT_GE(SecondsSince(idle_since), 0.9);
  EXPECT_LT(SecondsSince(idle_since), 3.0);
  EXPECT_EQ(client.received().rfind("pong"), client.received().size() - 4) << "bytes after close";
}

TEST_F(HttpFailureTest, QueueTimeoutGives503WithRetryAfter) {
  Valved* valved = StartHttp(1, {"--queue-timeout", "1s", "--log-level", "debug"});
  ASSERT_NE(valved, nullptr);
  RawSocket busy(valved->port());
  busy.Send("GET /sleep?s=3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(LeasedTimes(*valved, 1));

  HttpResponse waited = HttpGet(valved->port(), "/ping", 30s);
  EXPECT_EQ(waited.status, 503) << waited.Describe();
  EXPECT_FALSE(waited.Header("retry-after").empty());
  EXPECT_GE(waited.seconds, 0.9);
  EXPECT_LT(waited.seconds, 2.9) << "not answered at queue_timeout";
  EXPECT_NE(waited.body.find("503"), std::string::npos) << waited.body;
  ExpectLogErrors("no child free within queue_timeout");

  ASSERT_TRUE(busy.ReceiveUntilClosed(30s));
  EXPECT_EQ(busy.FirstStatus(), 200);
}

TEST_F(HttpFailureTest, FullQueueGives503AtOnce) {
  Valved* valved =
      StartHttp(1, {"--max-queue", "1", "--queue-timeout", "30s", "--log-level", "debug"});
  ASSERT_NE(valved, nullptr);
  RawSocket busy(valved->port());
  busy.Send("GET /sleep?s=2 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(LeasedTimes(*valved, 1));
  RawSocket queued(valved->port());
  queued.Send("GET /ping HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(Eventually(
      10s, [&] { return valved->LogLines(std::regex("recv ACQUIRE")).size() >= 2; },
      "the second request queued"));

  HttpResponse refused = HttpGet(valved->port(), "/ping", 30s);
  EXPECT_EQ(refused.status, 503) << refused.Describe();
  EXPECT_FALSE(refused.Header("retry-after").empty());
  EXPECT_LT(refused.seconds, 1.0) << "a full queue must answer at once";

  ASSERT_TRUE(queued.ReceiveUntilClosed(30s));
  EXPECT_EQ(queued.FirstStatus(), 200) << "the queued request is still served";
}

TEST_F(HttpFailureTest, SilentChildGives504AndIsReplaced) {
  Valved* valved = StartHttp(1, {"--timeout", "1s"});
  ASSERT_NE(valved, nullptr);
  pid_t before = PidOf(*valved);
  HttpResponse slow = HttpGet(valved->port(), "/sleep?s=30", 30s);
  EXPECT_EQ(slow.status, 504) << slow.Describe();
  EXPECT_LT(slow.seconds, 3.0);
  EXPECT_NE(slow.body.find("504"), std::string::npos);
  ASSERT_TRUE(WaitForAnotherChild(*valved, before));
  EXPECT_FALSE(IsAlive(before));
}

TEST_F(HttpFailureTest, ChildDyingMidRequestGives502AndIsReplaced) {
  Valved* valved = StartHttp(1, {});
  ASSERT_NE(valved, nullptr);
  ExpectLogErrors("killed by signal 9");
  pid_t before = PidOf(*valved);
  HttpResponse died = HttpGet(valved->port(), "/die", 30s);
  EXPECT_EQ(died.status, 502) << died.Describe();
  EXPECT_NE(died.body.find("502"), std::string::npos);
  ASSERT_TRUE(WaitForAnotherChild(*valved, before));
}

// plumber.maxRequestSize: R refuses the upload itself and closes its
// connection while valved still sends; that one failed request must not cost
// the R process.
TEST_F(HttpFailureTest, RequestRRefusesDoesNotCondemnTheChild) {
  setenv("VALVED_TEST_MAX_REQUEST_SIZE", "1000", 1);
  Valved* valved = StartHttp(1, {});
  unsetenv("VALVED_TEST_MAX_REQUEST_SIZE");
  ASSERT_NE(valved, nullptr);
  pid_t before = PidOf(*valved);
  HttpResponse refused =
      HttpPost(valved->port(), "/upload", std::string(4 << 20, 'u'), "application/octet-stream");
  EXPECT_EQ(refused.status, 413) << refused.Describe();
  EXPECT_EQ(PidOf(*valved), before);
  EXPECT_EQ(HttpGet(valved->port(), "/ping").body, "pong");
}

// Streaming mode (request_buffering off): the child is leased while the body
// arrives. (Buffered, a child is never leased for a body still arriving: see
// http_buffering_test.)
TEST_F(HttpFailureTest, ClientLeavingMidUploadFreesTheChildAtOnce) {
  Valved* valved = StartHttp(1, {"--log-level", "debug", "--set", "request_buffering=false"});
  ASSERT_NE(valved, nullptr);
  pid_t before = PidOf(*valved);
  {
    RawSocket client(valved->port());
    client.Send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n");
    client.Send(std::string(10000, 'u'));
    ASSERT_TRUE(LeasedTimes(*valved, 2));
  }  // gone with 990000 bytes unsent
  HttpResponse next = HttpGet(valved->port(), "/pid", 30s);
  EXPECT_EQ(JsonNumber(next.body, "pid").value_or(0), before) << next.Describe();
  EXPECT_LT(next.seconds, 5.0);
  std::vector<std::string> seen = Seen(valved->port());
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "POST /upload"), 0) << "R ran half a request";
}

TEST_F(HttpFailureTest, ClientLeavingWhileRWorksFreesTheChildWhenRIsDone) {
  Valved* valved = StartHttp(1, {"--log-level", "debug"});
  ASSERT_NE(valved, nullptr);
  pid_t before = PidOf(*valved);
  {
    RawSocket client(valved->port());
    client.Send("GET /sleep?s=1 HTTP/1.1\r\nHost: a\r\n\r\n");
    ASSERT_TRUE(LeasedTimes(*valved, 2));
  }
  HttpResponse next = HttpGet(valved->port(), "/pid", 30s);
  EXPECT_EQ(JsonNumber(next.body, "pid").value_or(0), before) << next.Describe();
  std::vector<std::string> seen = Seen(valved->port());
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "GET /sleep"), 1);
}

// One connection per request to R: whatever R still had to say to a client
// that left can never be read as the start of another client's response.
TEST_F(HttpFailureTest, ClientLeavingMidResponseLeaksNothingToTheNextClient) {
  Valved* valved = StartHttp(1, {});
  ASSERT_NE(valved, nullptr);
  for (int i = 0; i < 3; ++i) {
    {
      RawSocket client(valved->port());
      client.Send("GET /bytes?n=50000000 HTTP/1.1\r\nHost: a\r\n\r\n");
      ASSERT_TRUE(client.ReceiveUntil("\r\n\r\n", 30s));
      client.Receive(1s);
    }
    HttpResponse next = HttpGet(valved->port(), "/ping", 60s);
    EXPECT_EQ(next.status, 200) << next.Describe();
    EXPECT_EQ(next.body, "pong");
  }
}

// Streaming mode (response_buffering off): the child waits for the client.
TEST_F(HttpFailureTest, ClientThatStopsReadingIsCutOffAndTheChildFreed) {
  // `timeout` bounds R's answer too: 20 MB (more than the sockets and the
  // worker hold) leave R time to spare on a loaded machine, where making
  // 100 MB took it over 2 s.
  Valved* valved = StartHttp(1, {"--timeout", "4s", "--set", "response_buffering=false"});
  ASSERT_NE(valved, nullptr);
  pid_t before = PidOf(*valved);
  RawSocket stalled(valved->port(), /*small_receive_buffer=*/true);
  stalled.Send("GET /bytes?n=20000000 HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(stalled.ReceiveUntil("\r\n\r\n", 30s)) << "no response head";
  ASSERT_EQ(stalled.FirstStatus(), 200) << "R did not start its answer within --timeout";
  // R has answered and the client reads no more: the only child is held
  // until the stalled client is given up on, `timeout` from now.
  HttpResponse next = HttpGet(valved->port(), "/pid", 30s);
  EXPECT_EQ(JsonNumber(next.body, "pid").value_or(0), before) << next.Describe();
  EXPECT_GE(next.seconds, 2.0) << "the child was freed before the stalled client's 4 s were up";
  EXPECT_TRUE(stalled.ReceiveUntilClosed(30s)) << "the stalled connection was not closed";
}

// Buffered (the default): the child is free as soon as R has written the
// response; the client that stops reading is still cut off, after
// keepalive_timeout without progress, and its temporary file goes with it.
TEST_F(HttpFailureTest, BufferedClientThatStopsReadingFreesTheChildAndIsCutOffLater) {
  Valved* valved = StartHttp(1, {"--keepalive-timeout", "2s"});
  ASSERT_NE(valved, nullptr);
  pid_t before = PidOf(*valved);
  RawSocket stalled(valved->port(), /*small_receive_buffer=*/true);
  stalled.Send("GET /bytes?n=20000000 HTTP/1.1\r\nHost: a\r\n\r\n");
  HttpResponse next = HttpGet(valved->port(), "/pid", 30s);
  EXPECT_EQ(JsonNumber(next.body, "pid").value_or(0), before) << next.Describe();
  EXPECT_LT(next.seconds, 10.0) << "the stalled client held the only child";
  EXPECT_TRUE(stalled.ReceiveUntilClosed(30s)) << "the stalled connection was not closed";
}

}  // namespace
}  // namespace valved::itest
