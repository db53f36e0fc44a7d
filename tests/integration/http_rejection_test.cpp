// Issue 3, strict parsing against real R: every malformed, ambiguous or
// over-limit request is refused by the worker with the right status and a
// closed connection, before an R child is leased (the worker logs "waiting
// for a child" at debug level when it asks for one), and the R child sees
// nothing of it: tests/fixtures/http.R's /seen lists what the pool's only R
// process received.
#include <cstdio>
#include <regex>
#include <string>
#include <vector>

#include "tests/integration/http_test_util.h"
#include "tests/integration/valved_harness.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;

struct Rejection {
  const char* name;
  std::string request;
  int status;
  bool leases = false;  ///< a chunked body is only judged as it arrives, after the lease
};

std::string Fields(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) out += "X-F" + std::to_string(i) + ": v\r\n";
  return out;
}

std::string Chunk(size_t size) {
  char hex[32];
  std::snprintf(hex, sizeof hex, "%zx", size);
  return std::string(hex) + "\r\n" + std::string(size, 'b') + "\r\n";
}

const std::vector<Rejection>& Rejections() {
  static const std::vector<Rejection> rows = {
      {"RequestLineOverLimit", "GET /" + std::string(300, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n",
       414},
      {"TooManyFields", "GET /ping HTTP/1.1\r\nHost: a\r\n" + Fields(25) + "\r\n", 431},
      {"HeaderSectionOverLimit",
       "GET /ping HTTP/1.1\r\nHost: a\r\nX-Big: " + std::string(3000, 'x') + "\r\n\r\n", 431},
      {"ContentLengthOverMaxBodySize",
       "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1001\r\n\r\n", 413},
      {"ChunkedBodyOverMaxBodySize",
       "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n" + Chunk(600) +
           Chunk(600) + "0\r\n\r\n",
       413, true},
      {"ContentLengthWithTransferEncoding",  // the body hides a second request
       "POST /ping HTTP/1.1\r\nHost: a\r\nContent-Length: 37\r\nTransfer-Encoding: chunked\r\n\r\n"
       "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
       400},
      {"TransferEncodingWithContentLength",
       "POST /ping HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 37\r\n\r\n"
       "0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: a\r\n\r\n",
       400},
      {"DifferingContentLengths",
       "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy", 400},
      {"RepeatedContentLength",
       "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400},
      {"ContentLengthWithSpace", "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n",
       400},
      {"OverflowingContentLength",
       "POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 184467440737095516160\r\n\r\n", 400},
      {"UnknownTransferCoding",
       "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 501},
      {"GzipThenChunked",
       "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
      {"ChunkedNotLast",
       "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n", 501},
      {"ChunkedTwice",
       "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
       "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       400},
      {"TransferEncodingInHttp10",
       "POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
      {"InvalidChunkSize",
       "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nb\r\n0\r\n\r\n",
       400, true},
      {"OverflowingChunkSize",
       "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
       "10000000000000001\r\nb\r\n0\r\n\r\n",
       400, true},
      {"BareLfInChunkExtension",
       "POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
       "1;x\nGET /smuggled HTTP/1.1\r\nb\r\n0\r\n\r\n",
       400, true},
      {"ObsFold", "GET /ping HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n", 400},
      {"BareCr", "GET /ping HTTP/1.1\r\nHost: a\r\nX-A: one\rX-B: two\r\n\r\n", 400},
      {"BareLf", "GET /ping HTTP/1.1\nHost: a\n\n", 400},
      {"NulInHeader", "GET /ping HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n"s, 400},
      {"ControlCharInHeader",
       "GET /ping HTTP/1.1\r\nHost: a\r\nX-A: a\x0b"
       "b\r\n\r\n",
       400},
      {"SpaceBeforeColon", "GET /ping HTTP/1.1\r\nHost: a\r\nContent-Length : 0\r\n\r\n", 400},
      {"NoHost", "GET /ping HTTP/1.1\r\nAccept: */*\r\n\r\n", 400},
      {"TwoHosts", "GET /ping HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"InvalidHost", "GET /ping HTTP/1.1\r\nHost: a/b@c\r\n\r\n", 400},
      {"OtherScheme", "GET ftp://a/ping HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"Http2", "GET /ping HTTP/2.0\r\nHost: a\r\n\r\n", 505},
      {"Http12", "GET /ping HTTP/1.2\r\nHost: a\r\n\r\n", 505},
      {"Http09", "GET /ping\r\n\r\n", 505},
      {"Connect", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501},
      {"WebSocket",
       "GET /ping HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
       501},
      {"UnknownExpectation", "GET /ping HTTP/1.1\r\nHost: a\r\nExpect: cake\r\n\r\n", 417},
      {"UnknownMethod", "BREW /ping HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"TlsHello", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"s, 400},
  };
  return rows;
}

class HttpRejectionTest : public ValvedTest {
 protected:
  size_t LeaseRequests(const Valved& valved) const {
    return valved.LogLines(std::regex("waiting for a child")).size();
  }
};

TEST_F(HttpRejectionTest, EveryRuleAnswersItsStatusClosesAndReachesNoChild) {
  Valved* valved =
      StartServing({"-f", Fixture("http.R"), "-n", "1", "--n-min", "1", "-w", "1", "--log-level",
                    "debug", "--limit-request-line", "200", "--limit-request-fields", "20",
                    "--limit-request-headers-size", "2000", "--max-body-size", "1000"});
  ASSERT_NE(valved, nullptr);
  ASSERT_EQ(Seen(valved->port()), std::vector<std::string>{});
  std::vector<pid_t> children = valved->RChildPids();

  for (const Rejection& row : Rejections()) {
    SCOPED_TRACE(row.name);
    size_t leases_before = LeaseRequests(*valved);
    RawSocket client(valved->port());
    ASSERT_TRUE(client.connected());
    client.Send(row.request);
    EXPECT_TRUE(client.ReceiveUntilClosed(10s)) << "still open after: " << client.received();
    EXPECT_EQ(client.FirstStatus(), row.status) << client.received();
    EXPECT_EQ(HeaderOf(client.received(), "Connection"), "close");
    // The body is one short line saying what was wrong.
    std::string body = client.received().substr(client.received().find("\r\n\r\n") + 4);
    EXPECT_EQ(body.rfind(std::to_string(row.status) + " ", 0), 0u) << body;
    if (!row.leases) {
      EXPECT_EQ(LeaseRequests(*valved), leases_before) << "a child was leased";
    }
  }

  // Only GET /seen itself ever reached R, and the same R process is serving.
  EXPECT_EQ(Seen(valved->port()), std::vector<std::string>{});
  EXPECT_EQ(valved->RChildPids(), children);
}

TEST_F(HttpRejectionTest, PipelinedRequestsAfterARejectionAreNeverForwarded) {
  Valved* valved = StartServing({"-f", Fixture("http.R"), "-n", "1", "-w", "1"});
  ASSERT_NE(valved, nullptr);
  RawSocket client(valved->port());
  client.Send(
      "GET /ping HTTP/1.1\r\nHost: a\r\n\r\n"
      "GET /ping HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n"
      "GET /after HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(client.ReceiveUntilClosed(10s));
  EXPECT_EQ(client.FirstStatus(), 200);
  ASSERT_NE(client.received().find("HTTP/1.1", 10), std::string::npos) << client.received();
  std::string second = client.received().substr(client.received().find("HTTP/1.1", 10));
  EXPECT_EQ(StatusOf(second), 400) << client.received();
  EXPECT_EQ(second.find("HTTP/1.1", 10), std::string::npos) << "a third response";
  EXPECT_EQ(Seen(valved->port()), std::vector<std::string>{"GET /ping"});
}

}  // namespace
}  // namespace valved::itest
