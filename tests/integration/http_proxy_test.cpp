// Issue 3, HTTP/1.1 towards clients against real R children: keep-alive,
// pipelining in order, HEAD, Expect: 100-continue, chunked uploads,
// Connection: close, what R sees of the request (hop-by-hop fields gone,
// X-Forwarded-*, absolute-form targets rewritten) and what passes back
// unchanged (Set-Cookie twice, status codes and reason phrases, large
// headers, binary bodies). The API is tests/fixtures/http.R.
#include <signal.h>

#include <regex>
#include <string>
#include <vector>

#include "tests/integration/http_test_util.h"
#include "tests/integration/valved_harness.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

class HttpProxyTest : public HttpTest {
 protected:
};

TEST_F(HttpProxyTest, KeepAliveServesManyRequestsOnOneConnection) {
  Valved* valved = StartHttp();
  ASSERT_NE(valved, nullptr);
  HttpConnection connection(valved->port(), 30s);
  for (int i = 0; i < 5; ++i) {
    HttpRequest ping;
    ping.target = "/ping";
    ping.keep_alive = true;
    HttpResponse response = connection.Send(ping);
    ASSERT_EQ(response.status, 200) << response.Describe();
    EXPECT_EQ(response.body, "pong");
    EXPECT_TRUE(connection.connected()) << "closed after request " << i;
  }
}

// Seen from the R side: the child's end of the worker's connection stays the
// same socket across requests from different clients, and a HEAD gets a
// connection of its own that is closed after it (httpuv may still send a body).
TEST_F(HttpProxyTest, ConnectionToTheChildIsReusedButNeverAfterHead) {
  Valved* valved = StartHttp();
  ASSERT_NE(valved, nullptr);
  HttpRequest ping;
  ping.target = "/ping";
  auto get_ping = [&] {
    HttpConnection client(valved->port(), 30s);  // a new client each time
    HttpResponse response = client.Send(ping);
    EXPECT_EQ(response.body, "pong") << response.Describe();
  };
  get_ping();
  std::set<std::string> first = ChildConnectionInodes(dir());
  ASSERT_EQ(first.size(), 1u) << "one kept connection to the child";
  for (int i = 0; i < 3; ++i) get_ping();
  EXPECT_EQ(ChildConnectionInodes(dir()), first) << "the same connection carried every request";

  HttpRequest head = ping;
  head.method = "HEAD";
  HttpConnection client(valved->port(), 30s);
  EXPECT_EQ(client.Send(head).status, 200);
  ASSERT_TRUE(Eventually(
      10s, [&] { return ChildConnectionInodes(dir()).empty(); },
      "no connection to the child left after HEAD"));
  get_ping();
  std::set<std::string> after = ChildConnectionInodes(dir());
  EXPECT_EQ(after.size(), 1u);
  EXPECT_NE(after, first);
}

// A kept connection whose child died is closed by the worker when the EOF
// arrives, never used: a request with a body (which could not be sent
// to another child once sent on a dead connection) still succeeds.
TEST_F(HttpProxyTest, KeptConnectionToADeadChildIsClosedAndNeverUsed) {
  Valved* valved = StartHttp(1, {"--log-level", "debug"});
  ASSERT_NE(valved, nullptr);
  HttpResponse first = HttpGet(valved->port(), "/ping", 30s);
  ASSERT_EQ(first.body, "pong") << first.Describe();
  ASSERT_EQ(ChildConnectionInodes(dir()).size(), 1u) << "one kept connection to the child";
  std::vector<pid_t> children = valved->ReadyRChildPids();
  ASSERT_EQ(children.size(), 1u);
  ExpectLogErrors("killed by signal 9");
  ASSERT_EQ(kill(children[0], SIGKILL), 0);
  ASSERT_TRUE(Eventually(
      30s,
      [&] { return !valved->LogLines(std::regex("idle connection closed by the child")).empty(); },
      "the worker closing its idle connection to the killed child"));
  ASSERT_TRUE(Eventually(
      60s,
      [&] {
        std::vector<pid_t> ready = valved->ReadyRChildPids();
        return ready.size() == 1 && ready[0] != children[0];
      },
      "a replacement child ready"));
  HttpResponse echo = HttpPost(valved->port(), "/echo", "after the death", "text/plain", 30s);
  EXPECT_EQ(echo.status, 200) << echo.Describe();
  EXPECT_EQ(echo.body, "after the death");
}

TEST_F(HttpProxyTest, PipelinedRequestsAreAnsweredInOrder) {
  Valved* valved = StartHttp(2);
  ASSERT_NE(valved, nullptr);
  HttpConnection connection(valved->port(), 30s);
  // The slow one first: its answer must still come first.
  ASSERT_TRUE(connection.SendRaw(
      "GET /sleep?s=0.5 HTTP/1.1\r\nHost: a\r\n\r\n"
      "HEAD /ping HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /ping HTTP/1.1\r\nHost: a\r\n\r\n"
      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/octet-stream\r\n"
      "Content-Length: 5\r\n\r\nfifth"
      "GET /seen HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  HttpResponse sleep = connection.ReadResponse();
  EXPECT_EQ(sleep.status, 200) << sleep.Describe();
  EXPECT_NE(sleep.body.find("\"slept\""), std::string::npos) << sleep.body;
  HttpResponse head = connection.ReadResponse("HEAD");
  EXPECT_EQ(head.status, 200) << head.Describe();
  EXPECT_EQ(head.body, "");
  HttpResponse ping = connection.ReadResponse();
  EXPECT_EQ(ping.body, "pong") << ping.Describe();
  HttpResponse echo = connection.ReadResponse();
  EXPECT_EQ(echo.body, "fifth") << echo.Describe();
  HttpResponse seen = connection.ReadResponse();
  EXPECT_EQ(seen.status, 200) << seen.Describe();
  EXPECT_EQ(seen.Header("connection"), "close");
  EXPECT_TRUE(connection.PeerClosed() || connection.ReadUntilClose().empty());
}

// plumber (httpuv) may send a body after a HEAD response; none of it may
// reach the client, and the connection must stay usable.
TEST_F(HttpProxyTest, HeadGetsNoBodyAndTheConnectionStaysUsable) {
  Valved* valved = StartHttp();
  ASSERT_NE(valved, nullptr);
  RawSocket client(valved->port());
  client.Send("HEAD /ping HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(client.ReceiveUntil("\r\n\r\n", 30s));
  EXPECT_EQ(client.FirstStatus(), 200);
  std::string head = client.received();
  EXPECT_EQ(head.substr(head.find("\r\n\r\n") + 4), "") << "a body after HEAD";
  client.Send("GET /ping HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(client.ReceiveUntilClosed(30s));
  std::string second = client.received().substr(head.size());
  EXPECT_EQ(StatusOf(second), 200) << client.received();
  EXPECT_EQ(second.substr(second.find("\r\n\r\n") + 4), "pong");
}

TEST_F(HttpProxyTest, ExpectContinueGetsA100BeforeTheBodyIsSent) {
  Valved* valved = StartHttp(1, {"--max-body-size", "1000"});
  ASSERT_NE(valved, nullptr);
  RawSocket client(valved->port());
  client.Send(
      "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n"
      "Content-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\n");
  ASSERT_TRUE(client.ReceiveUntil("\r\n\r\n", 30s)) << client.received();
  EXPECT_EQ(client.received().rfind("HTTP/1.1 100 Continue\r\n", 0), 0u) << client.received();
  client.Send("hello");
  ASSERT_TRUE(client.ReceiveUntil("hello", 30s)) << client.received();
  std::string final = client.received().substr(client.received().find("\r\n\r\n") + 4);
  EXPECT_EQ(StatusOf(final), 200) << client.received();

  // Over the limit: refused at once, without a 100, before any child is leased.
  RawSocket big(valved->port());
  big.Send(
      "POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5000\r\n\r\n");
  ASSERT_TRUE(big.ReceiveUntilClosed(30s));
  EXPECT_EQ(big.FirstStatus(), 413) << big.received();
  EXPECT_EQ(Seen(valved->port()), std::vector<std::string>{"POST /echo"});
}

TEST_F(HttpProxyTest, ChunkedUploadReachesRWhole) {
  Valved* valved = StartHttp();
  ASSERT_NE(valved, nullptr);
  RawSocket client(valved->port());
  client.Send(
      "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/octet-stream\r\n"
      "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
      "5;ext=1\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: dropped\r\n\r\n");
  ASSERT_TRUE(client.ReceiveUntilClosed(30s));
  EXPECT_EQ(client.FirstStatus(), 200) << client.received();
  std::string body = client.received().substr(client.received().find("\r\n\r\n") + 4);
  EXPECT_EQ(body, "hello world");
}

TEST_F(HttpProxyTest, ConnectionCloseAndHttp10KeepAliveAreHonoured) {
  Valved* valved = StartHttp();
  ASSERT_NE(valved, nullptr);
  RawSocket close(valved->port());
  close.Send("GET /ping HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  ASSERT_TRUE(close.ReceiveUntilClosed(30s));
  EXPECT_EQ(HeaderOf(close.received(), "Connection"), "close");

  RawSocket old(valved->port());
  old.Send("GET /ping HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  ASSERT_TRUE(old.ReceiveUntil("pong", 30s));
  EXPECT_EQ(HeaderOf(old.received(), "Connection"), "keep-alive");
  old.Send("GET /ping HTTP/1.0\r\n\r\n");  // no keep-alive: the last one
  ASSERT_TRUE(old.ReceiveUntilClosed(30s));
  EXPECT_EQ(old.received().rfind("pong"), old.received().size() - 4);
}

TEST_F(HttpProxyTest, RSeesForwardedFieldsAndNoHopByHopOnes) {
  // This client (127.0.0.1) is not a trusted proxy here, so its
  // X-Forwarded-Proto and -Host are replaced (client_address_test.cpp has
  // the trusted case).
  Valved* valved = StartHttp(1, {"--forwarded-allow-ips", "192.0.2.1"});
  ASSERT_NE(valved, nullptr);
  HttpConnection connection(valved->port(), 30s);
  HttpRequest request;
  request.target = "/headers";
  request.headers = {{"Connection", "close, X-Secret"},
                     {"X-Secret", "hop"},
                     {"Keep-Alive", "timeout=5"},
                     {"TE", "trailers"},
                     {"Proxy-Connection", "keep-alive"},
                     {"Upgrade", "h2c"},
                     {"X-Forwarded-For", "198.51.100.7"},
                     {"X-Forwarded-Proto", "https"},
                     {"X-Forwarded-Host", "spoofed.example"},
                     {"X-End-To-End", "kept"}};
  HttpResponse response = connection.Send(request);
  ASSERT_EQ(response.status, 200) << response.Describe();
  const std::string& seen = response.body;
  for (const char* hop :
       {"HTTP_X_SECRET", "HTTP_KEEP_ALIVE", "HTTP_TE", "HTTP_PROXY_CONNECTION", "HTTP_UPGRADE"})
    EXPECT_EQ(seen.find(hop), std::string::npos) << hop << " reached R: " << seen;
  EXPECT_EQ(JsonString(seen, "HTTP_X_END_TO_END"), "kept");
  EXPECT_EQ(JsonString(seen, "HTTP_X_FORWARDED_FOR"), "198.51.100.7, 127.0.0.1");
  EXPECT_EQ(JsonString(seen, "HTTP_X_FORWARDED_PROTO"), "http");
  std::string host = "127.0.0.1:" + std::to_string(valved->port());
  EXPECT_EQ(JsonString(seen, "HTTP_HOST"), host);
  EXPECT_EQ(JsonString(seen, "HTTP_X_FORWARDED_HOST"), host);
  // None: valved's connection to R stays open for the next request (HTTP/1.1's default).
  EXPECT_EQ(seen.find("HTTP_CONNECTION"), std::string::npos) << seen;

  HttpResponse hop = HttpGet(valved->port(), "/hop");
  ASSERT_EQ(hop.status, 200) << hop.Describe();
  for (const char* field : {"keep-alive", "proxy-connection", "trailer", "upgrade"})
    EXPECT_FALSE(hop.HasHeader(field)) << field << " reached the client";
}

TEST_F(HttpProxyTest, AbsoluteFormTargetIsRewrittenToOriginForm) {
  Valved* valved = StartHttp();
  ASSERT_NE(valved, nullptr);
  RawSocket client(valved->port());
  client.Send(
      "GET http://api.example:8080/headers?x=1 HTTP/1.1\r\nHost: other.example\r\n"
      "Connection: close\r\n\r\n");
  ASSERT_TRUE(client.ReceiveUntilClosed(30s));
  ASSERT_EQ(client.FirstStatus(), 200) << client.received();
  const std::string& seen = client.received();
  EXPECT_EQ(JsonString(seen, "PATH_INFO"), "/headers");
  EXPECT_EQ(JsonString(seen, "QUERY_STRING"), "?x=1");
  EXPECT_EQ(JsonString(seen, "HTTP_HOST"), "api.example:8080");
}

TEST_F(HttpProxyTest, ResponsesPassThroughUnchanged) {
  Valved* valved = StartHttp();
  ASSERT_NE(valved, nullptr);
  HttpResponse cookies = HttpGet(valved->port(), "/cookies");
  ASSERT_EQ(cookies.status, 200) << cookies.Describe();
  std::vector<std::string> set_cookie;
  for (const auto& [name, value] : cookies.headers)
    if (name == "set-cookie") set_cookie.push_back(value);
  EXPECT_EQ(set_cookie, (std::vector<std::string>{"first=1", "second=2"}));

  // httpuv's own reason phrases: valved would say "I'm a teapot" and "Unknown".
  HttpResponse teapot = HttpGet(valved->port(), "/status?code=418");
  EXPECT_EQ(teapot.status, 418);
  EXPECT_EQ(teapot.reason, "Dunno");
  HttpResponse odd = HttpGet(valved->port(), "/status?code=299");
  EXPECT_EQ(odd.status, 299);
  EXPECT_EQ(odd.reason, "Dunno");
  HttpResponse created = HttpGet(valved->port(), "/status?code=201");
  EXPECT_EQ(created.status, 201);
  EXPECT_EQ(created.reason, "Created");

  HttpResponse big = HttpGet(valved->port(), "/bigheader?n=60000");
  ASSERT_EQ(big.status, 200) << big.Describe();
  EXPECT_EQ(big.Header("x-big"), std::string(60000, 'x'));

  std::string binary;
  for (int i = 0; i < 64 * 256; ++i) binary.push_back(static_cast<char>((i * 7 + i / 256) % 256));
  HttpResponse echo = HttpPost(valved->port(), "/echo", binary, "application/octet-stream");
  ASSERT_EQ(echo.status, 200) << echo.Describe();
  EXPECT_TRUE(echo.body == binary) << "binary body changed";
}

}  // namespace
}  // namespace valved::itest
