// The worker in-process: a real Worker on a real listening socket, a fake
// master on the other end of its channel, a fake child (an HTTP backend on a
// Unix socket in a temp dir) and real client sockets, all on one event base.
// Every wait is the event loop running until a condition holds (or a 5s
// deadline fails the test); timers in the configs are short instead of sleeps.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <list>
#include <optional>

#include "common/event_ptr.h"
#include "common/ipc_channel.h"
#include "common/unique_fd.h"
#include "worker/http_util.h"
#include "worker/response_parser.h"
#include "worker/worker.h"

namespace valved::worker {
namespace {

using namespace std::chrono_literals;

constexpr uint64_t kChildId = 7;

// --- a fake child: an HTTP server on a Unix socket ---------------------------

class FakeChild {
 public:
  /// Answers a complete request; nullopt holds the connection unanswered, ""
  /// closes it unanswered.
  using Responder = std::function<std::optional<std::string>(const std::string& request)>;

  FakeChild(event_base* base, std::string path) : path_(std::move(path)) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path_.c_str(), sizeof address.sun_path - 1);
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    EXPECT_EQ(::listen(fd.get(), 16), 0);
    listener_.reset(
        evconnlistener_new(base, OnAccept, this, LEV_OPT_CLOSE_ON_FREE, 0, fd.release()));
  }

  const std::string& path() const { return path_; }
  Responder respond = [](const std::string&) -> std::optional<std::string> {
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Child: yes\r\n\r\nhello");
  };
  std::vector<std::string> requests;  // complete requests, in arrival order
  size_t connections = 0;
  bool extra_bytes = false;  // a second request arrived on one connection
  /// Keep a connection open after a response to a request without
  /// Connection: close (as httpuv does); otherwise close it, as with plumber's
  /// Connection: close.
  bool keep_alive = false;

  /// Answers every held connection with `bytes`, then closes it.
  void RespondToHeld(const std::string& bytes) {
    for (Conn* conn : held_) Reply(*conn, bytes);
    held_.clear();
  }

 private:
  struct Conn {
    FakeChild* child;
    BuffereventPtr bev;
    std::string data;
    bool answered = false;
  };

  static void OnAccept(evconnlistener* listener, evutil_socket_t fd, sockaddr*, int, void* arg) {
    auto* self = static_cast<FakeChild*>(arg);
    ++self->connections;
    auto& conn = self->conns_.emplace_back(Conn{self, nullptr, "", false});
    conn.bev.reset(
        bufferevent_socket_new(evconnlistener_get_base(listener), fd, BEV_OPT_CLOSE_ON_FREE));
    bufferevent_setcb(conn.bev.get(), OnRead, nullptr, nullptr, &conn);
    bufferevent_enable(conn.bev.get(), EV_READ | EV_WRITE);
  }

  static void OnRead(bufferevent* bev, void* arg) {
    auto* conn = static_cast<Conn*>(arg);
    evbuffer* in = bufferevent_get_input(bev);
    size_t n = evbuffer_get_length(in);
    std::string chunk(n, '\0');
    evbuffer_remove(in, chunk.data(), n);
    if (conn->answered || conn->child->IsComplete(conn->data)) {
      conn->child->extra_bytes = true;
      return;
    }
    conn->data += chunk;
    if (conn->child->IsComplete(conn->data)) conn->child->OnRequest(*conn);
  }

  static void OnWritten(bufferevent*, void* arg) {
    auto* conn = static_cast<Conn*>(arg);
    if (conn->child->keep_alive &&
        conn->data.find("\r\nConnection: close\r\n") == std::string::npos) {
      conn->data.clear();  // ready for the next request
      conn->answered = false;
      return;
    }
    conn->bev.reset();  // the response is out: close, as plumber does
  }

  static bool IsComplete(const std::string& data) {
    size_t end = data.find("\r\n\r\n");
    if (end == std::string::npos) return false;
    std::string head = data.substr(0, end);
    if (head.find("Transfer-Encoding: chunked") != std::string::npos)
      return data.size() >= 5 && data.compare(data.size() - 5, 5, "0\r\n\r\n") == 0;
    size_t cl = head.find("Content-Length: ");
    size_t length = cl == std::string::npos ? 0 : std::strtoul(head.c_str() + cl + 16, nullptr, 10);
    return data.size() >= end + 4 + length;
  }

  void OnRequest(Conn& conn) {
    requests.push_back(conn.data);
    std::optional<std::string> reply = respond(conn.data);
    if (reply) {
      Reply(conn, *reply);
    } else {
      held_.push_back(&conn);
    }
  }

  void Reply(Conn& conn, const std::string& bytes) {
    conn.answered = true;
    if (!conn.bev) return;
    if (bytes.empty()) return conn.bev.reset();
    bufferevent_setcb(conn.bev.get(), OnRead, OnWritten, nullptr, &conn);
    bufferevent_write(conn.bev.get(), bytes.data(), bytes.size());
  }

  std::string path_;
  std::list<Conn> conns_;  // stable addresses for the callbacks
  std::vector<Conn*> held_;
  EvconnlistenerPtr listener_;
};

// --- a fake master on the other end of the worker's channel ------------------

class FakeMaster {
 public:
  /// The answer to an ACQUIRE; nullopt leaves the request waiting.
  using Policy = std::function<std::optional<ipc::Message>(uint64_t req)>;

  FakeMaster(event_base* base, UniqueFd fd)
      : channel_(std::make_unique<IpcChannel>(
            base, std::move(fd), "test-master", [this](const ipc::Message& m) { OnMessage(m); },
            [this](const std::string&) { closed = true; })) {}

  Policy policy;
  std::vector<ipc::Message> received;
  bool closed = false;

  void Send(const ipc::Message& m) { channel_->Send(m); }
  void Close() { channel_.reset(); }

  template <typename T>
  std::vector<T> All() const {
    std::vector<T> out;
    for (const auto& m : received) {
      if (const T* t = std::get_if<T>(&m)) out.push_back(*t);
    }
    return out;
  }

 private:
  void OnMessage(const ipc::Message& m) {
    received.push_back(m);
    if (const auto* acquire = std::get_if<ipc::Acquire>(&m)) {
      if (auto answer = policy(acquire->req)) Send(*answer);
    }
  }

  std::unique_ptr<IpcChannel> channel_;
};

// --- a client: a real TCP socket read by the same loop -----------------------

struct TestResponse {
  ResponseHead head;
  std::string body;
  std::string Field(std::string_view name) const {
    const worker::Header* h = FindHeader(head.headers, name);
    return h ? h->value : "";
  }
};

class TestClient {
 public:
  TestClient(event_base* base, int port) {
    fd_.reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<uint16_t>(port));
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // A loopback connect completes in the kernel's backlog, before any accept().
    EXPECT_EQ(::connect(fd_.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    evutil_make_socket_nonblocking(fd_.get());
    read_.reset(event_new(base, fd_.get(), EV_READ | EV_PERSIST, OnReadable, this));
    event_add(read_.get(), nullptr);
  }

  void Send(std::string_view data) {
    while (!data.empty()) {
      ssize_t n = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      data.remove_prefix(static_cast<size_t>(n));
    }
  }
  void Close() {
    read_.reset();
    fd_.reset();
  }
  /// Closes with a reset (SO_LINGER 0), as a client that crashed.
  void Reset() {
    linger hard{1, 0};
    setsockopt(fd_.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    Close();
  }
  /// Stops reading without shrinking the receive buffer; ResumeReading() goes on.
  void PauseReading() { event_del(read_.get()); }
  void ResumeReading() { event_add(read_.get(), nullptr); }
  /// Shuts the sending side only, as some clients do after a request.
  void HalfClose() { ::shutdown(fd_.get(), SHUT_WR); }
  /// Stops reading, as a client that stalls: the response piles up in the kernel.
  void StopReading() {
    event_del(read_.get());
    int small = 4096;
    setsockopt(fd_.get(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }

  std::string received;
  bool eof = false;

  /// The complete responses received so far (`head_request`: to HEAD).
  std::vector<TestResponse> Responses(bool head_request = false) const {
    std::vector<TestResponse> out;
    ResponseParser parser(head_request);
    TestResponse current;
    parser.SetBodyHandler([&](std::string_view d) { current.body.append(d); });
    std::string_view rest = received;
    bool eof_fed = false;
    while (true) {
      size_t used = 0;
      ResponseParser::Result result;
      if (!rest.empty()) {
        result = parser.Feed(rest, &used);
      } else if (eof && !eof_fed) {
        eof_fed = true;
        result = parser.FeedEof();
      } else {
        return out;
      }
      rest.remove_prefix(used);
      if (result == ResponseParser::Result::kHeadComplete) {
        current.head = parser.head();
        parser.Resume();
      } else if (result == ResponseParser::Result::kMessageComplete) {
        out.push_back(std::move(current));
        current = TestResponse{};
        parser.Resume();
      } else if (result == ResponseParser::Result::kError) {
        return out;
      }
    }
  }

 private:
  static void OnReadable(evutil_socket_t fd, short, void* arg) {
    auto* self = static_cast<TestClient*>(arg);
    char buffer[65536];
    while (true) {
      ssize_t n = ::recv(fd, buffer, sizeof buffer, 0);
      if (n > 0) {
        self->received.append(buffer, static_cast<size_t>(n));
        continue;
      }
      if (n == -1 && (errno == EAGAIN || errno == EINTR)) return;
      self->eof = true;  // closed or reset: close too, as a real client would
      event_del(self->read_.get());
      self->fd_.reset();
      return;
    }
  }

  UniqueFd fd_;
  EventPtr read_;
};

// --- the fixture -------------------------------------------------------------

class WorkerProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::signal(SIGPIPE, SIG_IGN);
    char dir[] = "/tmp/valved-worker-test-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
    base_.reset(event_base_new());
    child_ = std::make_unique<FakeChild>(base_.get(), dir_ + "/child.sock");
    config_.timeout = 5s;
    config_.header_timeout = 5s;
    config_.keepalive_timeout = 5s;
    config_.temp_dir = dir_;
  }

  void TearDown() override {
    clients_.clear();
    worker_.reset();
    master_.reset();
    child_.reset();
    std::filesystem::remove_all(dir_);
  }

  /// Builds the worker with config_; the master grants child 7 unless told otherwise.
  /// The fake child answers every request with exactly `raw`.
  void ChildAnswers(std::string raw) {
    child_->respond = [raw](const std::string&) -> std::optional<std::string> { return raw; };
  }
  /// The fake child reads requests and never answers.
  void ChildIsSilent() {
    child_->respond = [](const std::string&) -> std::optional<std::string> { return std::nullopt; };
  }

  void StartWorker() {
    UniqueFd listen_fd(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    int one = 1;
    setsockopt(listen_fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(listen_fd.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    ASSERT_EQ(::listen(listen_fd.get(), 16), 0);
    socklen_t length = sizeof address;
    getsockname(listen_fd.get(), reinterpret_cast<sockaddr*>(&address), &length);
    port_ = ntohs(address.sin_port);

    int pair[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair), 0);
    master_ = std::make_unique<FakeMaster>(base_.get(), UniqueFd(pair[0]));
    master_->policy = [this](uint64_t req) -> std::optional<ipc::Message> {
      return ipc::Grant{req, kChildId, child_->path()};
    };
    worker_ =
        std::make_unique<Worker>(base_.get(), config_, 1, std::move(listen_fd), UniqueFd(pair[1]));
  }

  TestClient& Connect() {
    clients_.push_back(std::make_unique<TestClient>(base_.get(), port_));
    return *clients_.back();
  }

  /// Runs the loop until `done` holds; false after 5 seconds.
  bool RunUntil(const std::function<bool()>& done) {
    bool expired = false;
    EventPtr deadline(evtimer_new(
        base_.get(), [](evutil_socket_t, short, void* arg) { *static_cast<bool*>(arg) = true; },
        &expired));
    timeval five_seconds{5, 0};
    evtimer_add(deadline.get(), &five_seconds);
    while (!done() && !expired) event_base_loop(base_.get(), EVLOOP_ONCE);
    return done();
  }

  /// Runs the loop for `duration` (to show that something does not happen).
  void RunFor(Duration duration) {
    bool over = false;
    EventPtr timer(evtimer_new(
        base_.get(), [](evutil_socket_t, short, void* arg) { *static_cast<bool*>(arg) = true; },
        &over));
    timeval tv{static_cast<time_t>(duration.count() / 1000),
               static_cast<suseconds_t>((duration.count() % 1000) * 1000)};
    evtimer_add(timer.get(), &tv);
    RunUntil([&] { return over; });
  }

  /// Runs the loop for one round of ready events: what was sent is written,
  /// but what that makes ready on the other end is not handled yet.

  /// The child holds requests for `target` unanswered (RespondToHeld) and
  /// answers the others.
  void HoldRequestsFor(const std::string& target) {
    child_->respond = [target](const std::string& request) -> std::optional<std::string> {
      if (request.rfind("GET " + target + " ", 0) == 0) return std::nullopt;
      return std::string("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
    };
  }

  bool RunUntilResponses(TestClient& client, size_t count, bool head_request = false) {
    return RunUntil([&] { return client.Responses(head_request).size() >= count; });
  }

  std::vector<ipc::Release> Releases() const { return master_->All<ipc::Release>(); }

  std::string dir_;
  Config config_;
  int port_ = 0;
  EventBasePtr base_;  // first: destroyed last
  std::unique_ptr<FakeChild> child_;
  std::unique_ptr<FakeMaster> master_;
  std::unique_ptr<Worker> worker_;
  std::vector<std::unique_ptr<TestClient>> clients_;
};

constexpr const char* kGet = "GET /hello HTTP/1.1\r\nHost: example.com\r\n\r\n";

TEST_F(WorkerProxyTest, SendsHelloFirst) {
  StartWorker();
  ASSERT_TRUE(RunUntil([&] { return !master_->received.empty(); }));
  auto hello = std::get_if<ipc::Hello>(&master_->received[0]);
  ASSERT_NE(hello, nullptr);
  EXPECT_EQ(hello->worker_id, 1u);
  EXPECT_EQ(hello->version, ipc::kProtocolVersion);
}

TEST_F(WorkerProxyTest, RelaysA200WithBodyAndReleasesOk) {
  StartWorker();
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntilResponses(client, 1));
  TestResponse r = client.Responses()[0];
  EXPECT_EQ(r.head.status, 200);
  EXPECT_EQ(r.body, "hello");
  EXPECT_EQ(r.Field("X-Child"), "yes");
  EXPECT_EQ(r.Field("Connection"), "");  // HTTP/1.1 keep-alive is the default

  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 1; }));
  EXPECT_EQ(Releases()[0].req, master_->All<ipc::Acquire>()[0].req);
  EXPECT_EQ(Releases()[0].child_id, kChildId);
  EXPECT_EQ(Releases()[0].outcome, ipc::Outcome::kOk);

  ASSERT_EQ(child_->requests.size(), 1u);
  const std::string& sent = child_->requests[0];
  EXPECT_EQ(sent.substr(0, sent.find("\r\n")), "GET /hello HTTP/1.1");
  EXPECT_NE(sent.find("\r\nX-Forwarded-For: 127.0.0.1\r\n"), std::string::npos) << sent;
  EXPECT_NE(sent.find("\r\nX-Forwarded-Host: example.com\r\n"), std::string::npos);
  EXPECT_NE(sent.find("\r\nX-Forwarded-Proto: http\r\n"), std::string::npos);
  EXPECT_EQ(sent.find("\r\nConnection:"), std::string::npos);  // kept alive (HTTP/1.1)
}

TEST_F(WorkerProxyTest, KeptConnectionCarriesTheChildsNextRequest) {
  child_->keep_alive = true;
  StartWorker();
  TestClient& first = Connect();
  first.Send(kGet);
  ASSERT_TRUE(RunUntilResponses(first, 1));
  TestClient& second = Connect();  // another client: the connection is the worker's
  second.Send("GET /again HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_TRUE(RunUntilResponses(second, 1));
  EXPECT_EQ(second.Responses()[0].body, "hello");
  EXPECT_EQ(child_->requests.size(), 2u);
  EXPECT_EQ(child_->connections, 1u);
  EXPECT_FALSE(child_->extra_bytes);
  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 2; }));
  EXPECT_EQ(Releases()[1].outcome, ipc::Outcome::kOk);
}

TEST_F(WorkerProxyTest, HeadGoesOnAConnectionOfItsOwnThatIsNotKept) {
  child_->keep_alive = true;
  StartWorker();
  TestClient& client = Connect();
  client.Send("HEAD /hello HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_TRUE(RunUntilResponses(client, 1, true));
  client.Send(kGet);
  ASSERT_TRUE(RunUntil([&] { return child_->requests.size() == 2; }));
  EXPECT_NE(child_->requests[0].find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(child_->connections, 2u);
}

TEST_F(WorkerProxyTest, ResponseAfterAnInterimOneIsNotKept) {
  child_->keep_alive = true;
  child_->respond = [](const std::string&) -> std::optional<std::string> {
    return std::string(
        "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  };
  StartWorker();
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntilResponses(client, 2));  // the 100, then the 200
  client.Send(kGet);
  ASSERT_TRUE(RunUntilResponses(client, 4));
  EXPECT_EQ(child_->connections, 2u);
}

TEST_F(WorkerProxyTest, ChildKeepaliveOffSendsConnectionClose) {
  config_.child_keepalive = false;
  child_->keep_alive = true;
  StartWorker();
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntilResponses(client, 1));
  client.Send(kGet);
  ASSERT_TRUE(RunUntilResponses(client, 2));
  EXPECT_NE(child_->requests[0].find("\r\nConnection: close\r\n"), std::string::npos);
  EXPECT_EQ(child_->connections, 2u);
}

// The child's end of a kept connection closes without an answer (as when the
// child dies just as the request arrives): a bodyless GET asks for a child
// again instead of failing.
TEST_F(WorkerProxyTest, KeptConnectionLostBeforeAnAnswerRetriesAGet) {
  child_->keep_alive = true;
  int answered = 0;
  child_->respond = [&answered](const std::string&) -> std::optional<std::string> {
    if (++answered == 2) return std::string();  // close unanswered
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  };
  StartWorker();
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntilResponses(client, 1));
  client.Send(kGet);
  ASSERT_TRUE(RunUntilResponses(client, 2));
  EXPECT_EQ(client.Responses()[1].head.status, 200);
  EXPECT_EQ(child_->connections, 2u);
  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 3; }));
  EXPECT_EQ(Releases()[1].outcome, ipc::Outcome::kBroken);
  EXPECT_EQ(Releases()[2].outcome, ipc::Outcome::kOk);
}

TEST_F(WorkerProxyTest, KeptConnectionLostBeforeAnAnswerGives502ForAPost) {
  child_->keep_alive = true;
  int answered = 0;
  child_->respond = [&answered](const std::string&) -> std::optional<std::string> {
    if (++answered == 2) return std::string();
    return std::string("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  };
  StartWorker();
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntilResponses(client, 1));
  client.Send("POST /p HTTP/1.1\r\nHost: example.com\r\nContent-Length: 2\r\n\r\nhi");
  ASSERT_TRUE(RunUntilResponses(client, 2));
  EXPECT_EQ(client.Responses()[1].head.status, 502);
  EXPECT_EQ(child_->requests.size(), 2u);
}

TEST_F(WorkerProxyTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  StartWorker();
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntilResponses(client, 1));
  client.Send("GET /again HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_TRUE(RunUntilResponses(client, 2));
  EXPECT_FALSE(client.eof);
  EXPECT_EQ(worker_->connections(), 1u);
  EXPECT_EQ(child_->connections, 2u);  // one child connection per request
  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 2; }));
}

TEST_F(WorkerProxyTest, PipelinedRequestsAreAnsweredInOrder) {
  child_->respond = [](const std::string& request) -> std::optional<std::string> {
    std::string path = request.substr(4, request.find(' ', 4) - 4);
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(path.size()) + "\r\n\r\n" + path;
  };
  StartWorker();
  TestClient& client = Connect();
  client.Send(
      "GET /one HTTP/1.1\r\nHost: a\r\n\r\nGET /two HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /three HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  auto responses = client.Responses();
  ASSERT_EQ(responses.size(), 3u);
  EXPECT_EQ(responses[0].body, "/one");
  EXPECT_EQ(responses[1].body, "/two");
  EXPECT_EQ(responses[2].body, "/three");
  EXPECT_EQ(responses[2].Field("Connection"), "close");
  EXPECT_FALSE(child_->extra_bytes);  // never two requests on one child connection
  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 3; }));
}

TEST_F(WorkerProxyTest, BadRequestAfterAGoodOneOnTheSameConnectionGetsItsOwnStatus) {
  StartWorker();
  TestClient& client = Connect();
  client.Send(
      "GET /one HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /two HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n"
      "GET /three HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  auto responses = client.Responses();
  ASSERT_EQ(responses.size(), 2u) << client.received;
  EXPECT_EQ(responses[0].head.status, 200);
  EXPECT_EQ(responses[1].head.status, 400);
  EXPECT_EQ(child_->requests.size(), 1u);
}

TEST_F(WorkerProxyTest, DenyGives503WithRetryAfter) {
  StartWorker();
  master_->policy = [](uint64_t req) -> std::optional<ipc::Message> {
    return ipc::Deny{req, ipc::DenyReason::kQueueFull};
  };
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  auto responses = client.Responses();
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].head.status, 503);
  EXPECT_EQ(responses[0].Field("Retry-After"), "1");
  EXPECT_EQ(responses[0].Field("Connection"), "close");
  EXPECT_NE(responses[0].body.find("queue is full"), std::string::npos);
  EXPECT_TRUE(Releases().empty());
  EXPECT_TRUE(child_->requests.empty());
}

TEST_F(WorkerProxyTest, ChildClosingBeforeTheHeadGives502AndReleasesBroken) {
  ChildAnswers("HTTP/1.1 200 OK\r\nContent-");
  StartWorker();
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  auto responses = client.Responses();
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].head.status, 502);
  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 1; }));
  EXPECT_EQ(Releases()[0].outcome, ipc::Outcome::kBroken);
}

TEST_F(WorkerProxyTest, ChildClosingMidBodyClosesTheClientAndReleasesBroken) {
  ChildAnswers("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this");
  StartWorker();
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  EXPECT_EQ(client.received.find("HTTP/1.1 200 OK"), 0u);  // no 502 after a started response
  EXPECT_EQ(client.received.find("502"), std::string::npos);
  EXPECT_TRUE(client.Responses().empty());  // the body is visibly cut short
  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 1; }));
  EXPECT_EQ(Releases()[0].outcome, ipc::Outcome::kBroken);
}

TEST_F(WorkerProxyTest, SlowChildGives504AndReleasesTimedOut) {
  config_.timeout = 100ms;
  ChildIsSilent();
  StartWorker();
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  auto responses = client.Responses();
  ASSERT_EQ(responses.size(), 1u);
  EXPECT_EQ(responses[0].head.status, 504);
  ASSERT_EQ(Releases().size(), 1u);
  EXPECT_EQ(Releases()[0].outcome, ipc::Outcome::kTimedOut);
}

// `timeout` runs from the request on, so the fake child's answer (16 MB
// copied into the socket's buffer, slow on a loaded machine) must come well
// within it: the response is made before the request, and `timeout` is 1 s.
TEST_F(WorkerProxyTest, ClientThatStopsReadingIsCutOffAndTheChildReleasedOk) {
  config_.response_buffering = false;
  config_.timeout = 1s;
  constexpr size_t kBig = 16 << 20;
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kBig) +
                               "\r\n\r\n" + std::string(kBig, 'x');
  child_->respond = [&](const std::string&) -> std::optional<std::string> { return response; };
  StartWorker();
  TestClient& client = Connect();
  client.StopReading();
  client.Send(kGet);
  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 1; }));
  EXPECT_EQ(Releases()[0].outcome, ipc::Outcome::kOk);  // the child had answered
  ASSERT_TRUE(RunUntil([&] { return worker_->connections() == 0; }));
}

// `timeout` bounds a wait without progress, not a whole upload. A byte every
// 100 ms against 1 s: a test process stalled for most of a second (a loaded
// machine) still sees the bytes as progress.
TEST_F(WorkerProxyTest, SlowButSteadyUploadIsNotTimedOut) {
  config_.timeout = 1s;
  StartWorker();
  TestClient& client = Connect();
  client.Send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n");
  int sent = 0;
  auto drip = [](evutil_socket_t, short, void* arg) {
    auto* state = static_cast<std::pair<TestClient*, int*>*>(arg);
    state->first->Send("x");
    ++*state->second;
  };
  std::pair<TestClient*, int*> state{&client, &sent};
  EventPtr timer(event_new(base_.get(), -1, EV_PERSIST, drip, &state));
  timeval every{0, 100 * 1000};  // 12 bytes over 1.2 s: more than `timeout` in all
  evtimer_add(timer.get(), &every);
  ASSERT_TRUE(RunUntil([&] { return sent == 12 || client.eof; }));
  evtimer_del(timer.get());
  ASSERT_TRUE(RunUntilResponses(client, 1));
  EXPECT_EQ(client.Responses()[0].head.status, 200);
  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 1; }));
  EXPECT_EQ(Releases()[0].outcome, ipc::Outcome::kOk);
}

// A child that died after the master last looked at it refuses the connect;
// nothing reached R, so the request is leased again, body and all.
TEST_F(WorkerProxyTest, ConnectFailureIsReleasedBrokenAndTheRequestLeasedAgain) {
  constexpr uint64_t kDeadChild = 9;
  StartWorker();
  master_->policy = [this](uint64_t req) -> std::optional<ipc::Message> {
    if (master_->All<ipc::Acquire>().size() == 1)
      return ipc::Grant{req, kDeadChild, dir_ + "/dead.sock"};
    return ipc::Grant{req, kChildId, child_->path()};
  };
  TestClient& client = Connect();
  client.Send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world");
  ASSERT_TRUE(RunUntilResponses(client, 1));
  EXPECT_EQ(client.Responses()[0].head.status, 200);
  ASSERT_EQ(child_->requests.size(), 1u);
  const std::string& sent = child_->requests[0];
  EXPECT_EQ(sent.substr(sent.find("\r\n\r\n") + 4), "hello world");

  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 2; }));
  auto acquires = master_->All<ipc::Acquire>();
  ASSERT_EQ(acquires.size(), 2u);
  EXPECT_EQ(acquires[1].req, acquires[0].req);  // the same request, asking again
  EXPECT_EQ(Releases()[0].child_id, kDeadChild);
  EXPECT_EQ(Releases()[0].outcome, ipc::Outcome::kBroken);  // the master checks it
  EXPECT_EQ(Releases()[1].child_id, kChildId);
  EXPECT_EQ(Releases()[1].outcome, ipc::Outcome::kOk);
}

TEST_F(WorkerProxyTest, ConnectFailingThreeTimesGives502) {
  StartWorker();
  master_->policy = [this](uint64_t req) -> std::optional<ipc::Message> {
    return ipc::Grant{req, kChildId, dir_ + "/missing.sock"};
  };
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  ASSERT_EQ(client.Responses().size(), 1u);
  EXPECT_EQ(client.Responses()[0].head.status, 502);
  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 3; }));
  for (const ipc::Release& release : Releases()) EXPECT_EQ(release.outcome, ipc::Outcome::kBroken);
  EXPECT_EQ(master_->All<ipc::Acquire>().size(), 3u);
}

TEST_F(WorkerProxyTest, ADenyAfterAFailedConnectGives503) {
  StartWorker();
  master_->policy = [this](uint64_t req) -> std::optional<ipc::Message> {
    if (master_->All<ipc::Acquire>().size() == 1)
      return ipc::Grant{req, kChildId, dir_ + "/missing.sock"};
    return ipc::Deny{req, ipc::DenyReason::kQueueTimeout};
  };
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  ASSERT_EQ(client.Responses().size(), 1u);
  EXPECT_EQ(client.Responses()[0].head.status, 503);
  EXPECT_EQ(Releases().size(), 1u);
}

TEST_F(WorkerProxyTest, ClientLeavingWhileQueuedCancelsAndALateGrantIsReleased) {
  StartWorker();
  master_->policy = [](uint64_t) -> std::optional<ipc::Message> { return std::nullopt; };
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntil([&] { return master_->All<ipc::Acquire>().size() == 1; }));
  client.Close();
  ASSERT_TRUE(RunUntil([&] { return master_->All<ipc::Cancel>().size() == 1; }));
  uint64_t req = master_->All<ipc::Acquire>()[0].req;
  EXPECT_EQ(master_->All<ipc::Cancel>()[0].req, req);

  master_->Send(ipc::Grant{req, kChildId, child_->path()});  // crossed the CANCEL
  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 1; }));
  EXPECT_EQ(Releases()[0].req, req);
  EXPECT_EQ(Releases()[0].outcome, ipc::Outcome::kOk);
  EXPECT_EQ(child_->connections, 0u);
}

TEST_F(WorkerProxyTest, ClientLeavingWhileTheChildWorksKeepsTheLeaseUntilItIsDone) {
  ChildIsSilent();
  StartWorker();
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntil([&] { return child_->requests.size() == 1; }));
  client.Reset();
  ASSERT_TRUE(RunUntil([&] { return worker_->orphans() == 1 && worker_->connections() == 0; }));
  EXPECT_TRUE(Releases().empty());

  child_->RespondToHeld("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc");
  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 1; }));
  EXPECT_EQ(Releases()[0].outcome, ipc::Outcome::kOk);
  EXPECT_EQ(worker_->orphans(), 0u);
}

// A FIN while the request waits for a lease counts as the client leaving (it
// is what a client that gives up sends); once the child has the request, the
// client may still be reading, so it gets the response.
TEST_F(WorkerProxyTest, HalfCloseAfterTheChildHasTheRequestStillGetsTheResponse) {
  ChildIsSilent();
  StartWorker();
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntil([&] { return child_->requests.size() == 1; }));
  client.HalfClose();
  for (int i = 0; i < 5; ++i) event_base_loop(base_.get(), EVLOOP_NONBLOCK);  // let the FIN in
  child_->RespondToHeld("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello");
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  ASSERT_EQ(client.Responses().size(), 1u);
  EXPECT_EQ(client.Responses()[0].body, "hello");
  EXPECT_EQ(client.Responses()[0].Field("Connection"), "close");
  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 1; }));
}

TEST_F(WorkerProxyTest, ChunkedUploadIsRechunkedForTheChild) {
  config_.request_buffering = false;
  StartWorker();
  TestClient& client = Connect();
  client.Send(
      "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  ASSERT_TRUE(RunUntilResponses(client, 1));
  ASSERT_EQ(child_->requests.size(), 1u);
  const std::string& sent = child_->requests[0];
  EXPECT_NE(sent.find("\r\nTransfer-Encoding: chunked\r\n"), std::string::npos);
  std::string body = sent.substr(sent.find("\r\n\r\n") + 4);
  EXPECT_EQ(body, "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
}

TEST_F(WorkerProxyTest, LargeBodiesStreamBothWays) {
  const std::string big(3 * 1024 * 1024 + 17, 'x');
  child_->respond = [&](const std::string& request) -> std::optional<std::string> {
    size_t body = request.find("\r\n\r\n") + 4;
    EXPECT_EQ(request.size() - body, big.size());
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big.size()) + "\r\n\r\n" + big;
  };
  StartWorker();
  TestClient& client = Connect();
  client.Send("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(big.size()) +
              "\r\n\r\n");
  // The rest of the body goes in pieces as the loop runs, like a real upload.
  size_t sent = 0;
  ASSERT_TRUE(RunUntil([&] {
    if (sent < big.size()) {
      size_t n = std::min<size_t>(256 * 1024, big.size() - sent);
      client.Send(std::string_view(big).substr(sent, n));
      sent += n;
    }
    return client.Responses().size() == 1;
  }));
  EXPECT_EQ(client.Responses()[0].body.size(), big.size());
  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 1; }));
}

TEST_F(WorkerProxyTest, CloseDelimitedResponseIsChunkedForHttp11) {
  ChildAnswers("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nabc");
  StartWorker();
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntilResponses(client, 1));
  TestResponse r = client.Responses()[0];
  EXPECT_EQ(r.Field("Transfer-Encoding"), "chunked");
  EXPECT_EQ(r.body, "abc");
  EXPECT_FALSE(client.eof);
  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 1; }));
  EXPECT_EQ(Releases()[0].outcome, ipc::Outcome::kOk);
}

TEST_F(WorkerProxyTest, CloseDelimitedResponseEndsWithTheCloseForHttp10) {
  ChildAnswers("HTTP/1.1 200 OK\r\n\r\nabc");
  StartWorker();
  TestClient& client = Connect();
  client.Send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  ASSERT_EQ(client.Responses().size(), 1u);
  EXPECT_EQ(client.Responses()[0].body, "abc");
  EXPECT_EQ(client.Responses()[0].Field("Connection"), "close");
  EXPECT_EQ(client.Responses()[0].Field("Transfer-Encoding"), "");
}

TEST_F(WorkerProxyTest, HeadResponseHasNoBodyAndKeepsTheConnection) {
  ChildAnswers("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n");
  StartWorker();
  TestClient& client = Connect();
  client.Send("HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(RunUntilResponses(client, 1, true));
  EXPECT_EQ(client.Responses(true)[0].Field("Content-Length"), "5");
  client.Send("HEAD /hello HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(RunUntilResponses(client, 2, true));
  EXPECT_EQ(client.received.find("hello"), std::string::npos);
}

TEST_F(WorkerProxyTest, BufferedChunkedUploadReachesTheChildWithALength) {
  StartWorker();
  TestClient& client = Connect();
  client.Send(
      "POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
  ASSERT_TRUE(RunUntilResponses(client, 1));
  ASSERT_EQ(child_->requests.size(), 1u);
  const std::string& sent = child_->requests[0];
  EXPECT_EQ(sent.find("Transfer-Encoding"), std::string::npos) << sent;
  EXPECT_NE(sent.find("\r\nContent-Length: 11\r\n"), std::string::npos) << sent;
  EXPECT_EQ(sent.substr(sent.find("\r\n\r\n") + 4), "hello world");
}

TEST_F(WorkerProxyTest, SlowUploadIsReadWholeBeforeAChildIsLeased) {
  StartWorker();
  TestClient& client = Connect();
  client.Send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
  RunFor(200ms);
  EXPECT_TRUE(master_->All<ipc::Acquire>().empty()) << "a lease asked for before the body";
  client.Send("defghij");
  ASSERT_TRUE(RunUntilResponses(client, 1));
  ASSERT_EQ(child_->requests.size(), 1u);
  EXPECT_EQ(child_->requests[0].substr(child_->requests[0].find("\r\n\r\n") + 4), "abcdefghij");
}

TEST_F(WorkerProxyTest, BufferedBodyStoppingGives408WithoutALease) {
  config_.timeout = 200ms;
  StartWorker();
  TestClient& client = Connect();
  client.Send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc");
  ASSERT_TRUE(RunUntilResponses(client, 1));
  EXPECT_EQ(client.Responses()[0].head.status, 408);
  EXPECT_TRUE(master_->All<ipc::Acquire>().empty());
}

TEST_F(WorkerProxyTest, ValvedAnswers100ContinueAndRNeverSeesExpect) {
  StartWorker();
  TestClient& client = Connect();
  client.Send("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n");
  ASSERT_TRUE(RunUntilResponses(client, 1));
  EXPECT_EQ(client.Responses()[0].head.status, 100);
  EXPECT_TRUE(master_->All<ipc::Acquire>().empty());
  client.Send("body");
  ASSERT_TRUE(RunUntilResponses(client, 2));
  EXPECT_EQ(client.Responses()[1].head.status, 200);
  ASSERT_EQ(child_->requests.size(), 1u);
  EXPECT_EQ(child_->requests[0].find("Expect"), std::string::npos) << child_->requests[0];
}

TEST_F(WorkerProxyTest, BodyBeyondTheMemoryLimitGoesThroughATempFileIntact) {
  config_.request_buffer_size = 1024;
  StartWorker();
  TestClient& client = Connect();
  std::string body;
  for (int i = 0; i < 300000; ++i) body += static_cast<char>('a' + i % 26);
  client.Send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: " + std::to_string(body.size()) +
              "\r\n\r\n" + body);
  ASSERT_TRUE(RunUntilResponses(client, 1));
  ASSERT_EQ(child_->requests.size(), 1u);
  EXPECT_TRUE(child_->requests[0].substr(child_->requests[0].find("\r\n\r\n") + 4) == body);
  // Unlinked from the start: nothing is left in the directory.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_),
                          std::filesystem::directory_iterator()),
            1);  // child.sock
}

TEST_F(WorkerProxyTest, MissingTempDirGives507WithoutALease) {
  config_.request_buffer_size = 16;
  config_.temp_dir = dir_ + "/missing";
  StartWorker();
  TestClient& client = Connect();
  client.Send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" +
              std::string(100, 'x'));
  ASSERT_TRUE(RunUntilResponses(client, 1));
  EXPECT_EQ(client.Responses()[0].head.status, 507);
  EXPECT_NE(client.Responses()[0].body.find("temporary file"), std::string::npos)
      << client.Responses()[0].body;
  EXPECT_TRUE(master_->All<ipc::Acquire>().empty());
}

TEST_F(WorkerProxyTest, TempFileLimitGives507) {
  config_.request_buffer_size = 16;
  config_.temp_file_limit = 50;
  StartWorker();
  TestClient& client = Connect();
  client.Send("POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\n" +
              std::string(100, 'x'));
  ASSERT_TRUE(RunUntilResponses(client, 1));
  EXPECT_EQ(client.Responses()[0].head.status, 507);
}

// The child's answer is taken whole while the client reads nothing: the
// lease ends at once, and the client can still read every byte afterwards.
TEST_F(WorkerProxyTest, SlowReaderDoesNotHoldTheChild) {
  config_.response_buffer_size = 64 * 1024;
  std::string big(16 << 20, 'x');  // more than the kernel's socket buffers hold
  for (size_t i = 0; i < big.size(); i += 4096) big[i] = static_cast<char>('a' + (i / 4096) % 26);
  child_->respond = [&](const std::string&) -> std::optional<std::string> {
    return "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(big.size()) + "\r\n\r\n" + big;
  };
  StartWorker();
  TestClient& client = Connect();
  client.PauseReading();
  client.Send(kGet);
  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 1; }));
  EXPECT_EQ(Releases()[0].outcome, ipc::Outcome::kOk);
  EXPECT_LT(client.received.size(), big.size());
  EXPECT_GT(worker_->temp_file_bytes(), 0u) << "the rest waits in the temporary file";
  client.ResumeReading();
  ASSERT_TRUE(RunUntil([&] { return client.received.size() >= big.size(); }))
      << client.received.size() << " bytes received";
  ASSERT_TRUE(RunUntilResponses(client, 1));
  EXPECT_TRUE(client.Responses()[0].body == big);
  EXPECT_EQ(worker_->temp_file_bytes(), 0u);
}

TEST_F(WorkerProxyTest, InterimResponsesReachHttp11Clients) {
  ChildAnswers("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  StartWorker();
  TestClient& client = Connect();
  client.Send("POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(RunUntilResponses(client, 2));
  EXPECT_EQ(client.Responses()[0].head.status, 100);
  EXPECT_EQ(client.Responses()[1].body, "ok");
}

TEST_F(WorkerProxyTest, BadRequestIsRefusedWithoutALease) {
  StartWorker();
  TestClient& client = Connect();
  client.Send("GET / HTTP/1.1\r\nAccept: */*\r\n\r\n");
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  ASSERT_EQ(client.Responses().size(), 1u);
  EXPECT_EQ(client.Responses()[0].head.status, 400);
  EXPECT_NE(client.Responses()[0].body.find("Host"), std::string::npos);
  EXPECT_TRUE(master_->All<ipc::Acquire>().empty());
}

TEST_F(WorkerProxyTest, OversizedBodyIs413BeforeALease) {
  config_.max_body_size = 10;
  StartWorker();
  TestClient& client = Connect();
  client.Send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n01234567890");
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  ASSERT_EQ(client.Responses().size(), 1u);
  EXPECT_EQ(client.Responses()[0].head.status, 413);
  EXPECT_TRUE(master_->All<ipc::Acquire>().empty());
}

TEST_F(WorkerProxyTest, BufferedChunkedBodyOverTheLimitIs413WithoutALease) {
  config_.max_body_size = 10;
  StartWorker();
  TestClient& client = Connect();
  client.Send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n");
  client.Send("8\r\n01234567\r\n0\r\n\r\n");
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  ASSERT_EQ(client.Responses().size(), 1u);
  EXPECT_EQ(client.Responses()[0].head.status, 413);
  EXPECT_TRUE(master_->All<ipc::Acquire>().empty());
}

TEST_F(WorkerProxyTest, ChunkedBodyOverTheLimitIsAbortedAndTheChildReleasedOk) {
  config_.request_buffering = false;
  config_.max_body_size = 10;
  ChildIsSilent();
  StartWorker();
  TestClient& client = Connect();
  client.Send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n01234567\r\n");
  ASSERT_TRUE(RunUntil([&] { return child_->connections == 1; }));
  client.Send("8\r\n01234567\r\n0\r\n\r\n");
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  ASSERT_EQ(client.Responses().size(), 1u);
  EXPECT_EQ(client.Responses()[0].head.status, 413);
  ASSERT_TRUE(RunUntil([&] { return Releases().size() == 1; }));
  EXPECT_EQ(Releases()[0].outcome, ipc::Outcome::kOk);  // the child never saw a whole request
}

TEST_F(WorkerProxyTest, SlowHeadGives408) {
  config_.header_timeout = 100ms;
  StartWorker();
  TestClient& client = Connect();
  client.Send("GET / HTTP/1.1\r\nHost: a\r\n");
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  ASSERT_EQ(client.Responses().size(), 1u);
  EXPECT_EQ(client.Responses()[0].head.status, 408);
  EXPECT_TRUE(master_->All<ipc::Acquire>().empty());
}

TEST_F(WorkerProxyTest, IdleKeepAliveConnectionIsClosedSilently) {
  config_.keepalive_timeout = 100ms;
  StartWorker();
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntilResponses(client, 1));
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  EXPECT_EQ(client.Responses().size(), 1u);
  EXPECT_EQ(worker_->connections(), 0u);
}

TEST_F(WorkerProxyTest, QuitFinishesInFlightRequestsThenExits) {
  HoldRequestsFor("/slow");
  StartWorker();
  TestClient& idle = Connect();
  idle.Send(kGet);
  ASSERT_TRUE(RunUntilResponses(idle, 1));  // served, now idle between requests
  TestClient& busy = Connect();
  busy.Send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(
      RunUntil([&] { return child_->requests.size() == 2 && worker_->connections() == 2; }));

  master_->Send(ipc::Quit{});
  ASSERT_TRUE(RunUntil([&] { return idle.eof; }));  // idle keep-alive: closed at once
  EXPECT_FALSE(worker_->exit_code());

  child_->RespondToHeld("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  ASSERT_TRUE(RunUntil([&] { return worker_->exit_code().has_value(); }));
  EXPECT_EQ(*worker_->exit_code(), 0);
  ASSERT_EQ(busy.Responses().size(), 1u);
  EXPECT_EQ(busy.Responses()[0].Field("Connection"), "close");
  ASSERT_EQ(Releases().size(), 2u);  // sent before the worker exits
  EXPECT_EQ(Releases()[1].outcome, ipc::Outcome::kOk);
}

// A connection accepted but not yet heard from was opened to send a request:
// closing it would reset a request that may already be on its way.
TEST_F(WorkerProxyTest, QuitServesAConnectionThatHasNotSentItsRequestYet) {
  StartWorker();
  TestClient& client = Connect();
  ASSERT_TRUE(RunUntil([&] { return worker_->connections() == 1; }));
  master_->Send(ipc::Quit{});
  RunFor(50ms);
  EXPECT_FALSE(client.eof);
  client.Send(kGet);
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  ASSERT_EQ(client.Responses().size(), 1u);
  EXPECT_EQ(client.Responses()[0].head.status, 200);
  EXPECT_EQ(client.Responses()[0].Field("Connection"), "close");
  ASSERT_TRUE(RunUntil([&] { return worker_->exit_code().has_value(); }));
}

// The QUIT is in the worker's channel before the client's bytes reach its
// socket, so the worker hears of the QUIT before libevent reads them.
TEST_F(WorkerProxyTest, QuitServesARequestAlreadyInTheSocketOfAnIdleConnection) {
  StartWorker();
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntilResponses(client, 1));
  master_->Send(ipc::Quit{});  // written at once (common/write_now.h)
  client.Send("GET /again HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  ASSERT_EQ(client.Responses().size(), 2u) << client.received;
  EXPECT_EQ(client.Responses()[1].head.status, 200);
  EXPECT_EQ(client.Responses()[1].Field("Connection"), "close");
  ASSERT_TRUE(RunUntil([&] { return worker_->exit_code().has_value(); }));
}

// The worker holds the only copy of this listening socket, as after TTOU:
// connections the kernel completed before the QUIT must not die with it.
TEST_F(WorkerProxyTest, QuitServesConnectionsQueuedOnTheListeningSocket) {
  StartWorker();
  master_->Send(ipc::Quit{});      // written at once (common/write_now.h)
  TestClient& client = Connect();  // queued, not accepted yet
  client.Send(kGet);
  ASSERT_TRUE(RunUntil([&] { return client.eof; }));
  ASSERT_EQ(client.Responses().size(), 1u) << client.received;
  EXPECT_EQ(client.Responses()[0].head.status, 200);
  ASSERT_TRUE(RunUntil([&] { return worker_->exit_code().has_value(); }));
  // Accepting has stopped: a new connection is refused.
  UniqueFd late(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port_));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_NE(::connect(late.get(), reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
}

TEST_F(WorkerProxyTest, QuitWaitsNoLongerThanHeaderTimeoutForASilentConnection) {
  config_.header_timeout = 200ms;
  StartWorker();
  TestClient& client = Connect();
  ASSERT_TRUE(RunUntil([&] { return worker_->connections() == 1; }));
  master_->Send(ipc::Quit{});
  ASSERT_TRUE(RunUntil([&] { return worker_->exit_code().has_value(); }));
  EXPECT_EQ(*worker_->exit_code(), 0);
  EXPECT_TRUE(master_->All<ipc::Acquire>().empty());
  (void)client;
}

TEST_F(WorkerProxyTest, TerminateExitsAtOnce) {
  ChildIsSilent();
  StartWorker();
  TestClient& client = Connect();
  client.Send(kGet);
  ASSERT_TRUE(RunUntil([&] { return child_->requests.size() == 1; }));
  master_->Send(ipc::Terminate{});
  ASSERT_TRUE(RunUntil([&] { return worker_->exit_code().has_value(); }));
  EXPECT_EQ(*worker_->exit_code(), 0);
}

TEST_F(WorkerProxyTest, MasterGoneExitsWithOne) {
  StartWorker();
  master_->Close();
  ASSERT_TRUE(RunUntil([&] { return worker_->exit_code().has_value(); }));
  EXPECT_EQ(*worker_->exit_code(), 1);
}

}  // namespace
}  // namespace valved::worker
