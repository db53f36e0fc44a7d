#include "worker/request_parser.h"

#include <gtest/gtest.h>

namespace valved::worker {
namespace {

using namespace std::string_literals;

struct Parsed {
  bool head = false;      // the head was accepted
  bool complete = false;  // the message ended
  int status = 0;         // error status, 0 when none
  std::string detail;
  RequestHead request;
  std::string body;
  size_t leftover = 0;  // bytes not consumed after the message ended
};

// Feeds `text` in pieces of `step` bytes, resuming after the head, and stops
// at the end of the first message or at an error.
Parsed Parse(const std::string& text, RequestLimits limits = {}, size_t step = 1 << 20) {
  RequestParser parser(limits);
  Parsed out;
  parser.SetBodyHandler([&](std::string_view data) { out.body.append(data); });
  size_t pos = 0;
  while (pos < text.size()) {
    size_t used = 0;
    auto result = parser.Feed(std::string_view(text).substr(pos, step), &used);
    pos += used;
    if (result == RequestParser::Result::kError) {
      out.status = parser.error().status;
      out.detail = parser.error().detail;
      return out;
    }
    if (result == RequestParser::Result::kHeadComplete) {
      out.head = true;
      out.request = parser.head();
      parser.Resume();
    }
    if (result == RequestParser::Result::kMessageComplete) {
      out.complete = true;
      out.leftover = text.size() - pos;
      return out;
    }
  }
  return out;
}

TEST(RequestParser, SimpleGet) {
  Parsed p = Parse("GET /hello?x=1 HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n");
  ASSERT_TRUE(p.complete) << p.detail;
  EXPECT_EQ(p.request.method, "GET");
  EXPECT_EQ(p.request.target, "/hello?x=1");
  EXPECT_EQ(p.request.http_minor, 1);
  EXPECT_TRUE(p.request.keep_alive);
  ASSERT_EQ(p.request.headers.size(), 2u);
  EXPECT_EQ(p.request.headers[1].name, "Accept");
  EXPECT_EQ(p.request.headers[1].value, "*/*");
}

TEST(RequestParser, ByteByByteGivesTheSameResult) {
  Parsed p = Parse("POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello", {}, 1);
  ASSERT_TRUE(p.complete) << p.detail;
  EXPECT_EQ(p.body, "hello");
  EXPECT_EQ(p.request.content_length, 5u);
}

TEST(RequestParser, StopsAfterTheHeadUntilResumed) {
  RequestParser parser({});
  std::string text = "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
  size_t used = 0;
  EXPECT_EQ(parser.Feed(text, &used), RequestParser::Result::kHeadComplete);
  EXPECT_LT(used, text.size() - 3 + 1);  // no body byte consumed before Resume()
  parser.Resume();
  size_t more = 0;
  EXPECT_EQ(parser.Feed(std::string_view(text).substr(used), &more),
            RequestParser::Result::kMessageComplete);
  EXPECT_EQ(used + more, text.size());
}

TEST(RequestParser, PipelinedRequestIsLeftForLater) {
  Parsed p = Parse("GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n");
  ASSERT_TRUE(p.complete);
  EXPECT_EQ(p.request.target, "/a");
  EXPECT_EQ(p.leftover, std::string("GET /b HTTP/1.1\r\nHost: a\r\n\r\n").size());
}

TEST(RequestParser, ChunkedBodyIsDechunked) {
  Parsed p = Parse(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n",
      {}, 3);
  ASSERT_TRUE(p.complete) << p.detail;
  EXPECT_TRUE(p.request.chunked);
  EXPECT_EQ(p.body, "hello world");
}

TEST(RequestParser, AbsoluteFormTargetIsKeptForTheRewrite) {
  Parsed p = Parse("GET http://example.com/path HTTP/1.1\r\nHost: example.com\r\n\r\n");
  ASSERT_TRUE(p.complete) << p.detail;
  EXPECT_EQ(p.request.target, "http://example.com/path");
}

TEST(RequestParser, Http10DefaultsToClose) {
  Parsed p = Parse("GET / HTTP/1.0\r\n\r\n");
  ASSERT_TRUE(p.complete) << p.detail;
  EXPECT_FALSE(p.request.keep_alive);
  Parsed k = Parse("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_TRUE(k.request.keep_alive);
  Parsed c = Parse("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  EXPECT_FALSE(c.request.keep_alive);
}

struct Rejection {
  const char* name;
  std::string request;
  int status;
};

class RequestParserRejects : public ::testing::TestWithParam<Rejection> {};

TEST_P(RequestParserRejects, WithTheRightStatus) {
  RequestLimits limits;
  limits.request_line = 64;
  limits.fields = 3;
  limits.headers_size = 100;
  limits.max_body = 10;
  for (size_t step : {size_t{1} << 20, size_t{1}}) {
    Parsed p = Parse(GetParam().request, limits, step);
    EXPECT_EQ(p.status, GetParam().status) << "step " << step << ": " << p.detail;
    EXPECT_FALSE(p.head && p.status == 0);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Table, RequestParserRejects,
    ::testing::Values(
        Rejection{"LongTarget", "GET /" + std::string(100, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n",
                  414},
        Rejection{"LongRequestLine",
                  "OPTIONS /" + std::string(48, 'a') + " HTTP/1.1\r\nHost: a\r\n\r\n", 414},
        Rejection{"TooManyFields", "GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n",
                  431},
        Rejection{"HeadersTooLarge",
                  "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(120, 'x') + "\r\n\r\n", 431},
        Rejection{"BodyTooLarge", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n", 413},
        Rejection{"ChunkedBodyTooLarge",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "8\r\n12345678\r\n8\r\n12345678\r\n0\r\n\r\n",
                  413},
        Rejection{"ContentLengthAndChunked",
                  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n",
                  400},
        Rejection{"ChunkedAndContentLength",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                  "Content-Length: 3\r\n\r\n",
                  400},
        Rejection{"DuplicateContentLength",
                  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
                  400},
        Rejection{"SpaceInContentLength",
                  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 0\r\n\r\n", 400},
        Rejection{"UnknownTransferCoding",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n", 501},
        Rejection{"GzipThenChunked",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
        Rejection{"ChunkedTwice",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400},
        Rejection{"BadChunkSize",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400},
        Rejection{"ObsFold", "GET / HTTP/1.1\r\nHost: a\r\nX-A: one\r\n two\r\n\r\n", 400},
        Rejection{"SpaceBeforeColon", "GET / HTTP/1.1\r\nHost: a\r\nX-A : b\r\n\r\n", 400},
        Rejection{"NoHost", "GET / HTTP/1.1\r\nAccept: */*\r\n\r\n", 400},
        Rejection{"TwoHosts", "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
        Rejection{"Http2", "GET / HTTP/2.0\r\nHost: a\r\n\r\n", 505},
        Rejection{"Http09", "GET /\r\n\r\n", 505},
        Rejection{"Garbage", "\x16\x03\x01\x02\x00\x01\x00", 400},
        Rejection{"Connect", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com\r\n\r\n", 501},
        Rejection{
            "WebSocket",
            "GET /ws HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
            501},
        // Line endings: other parsers split bare CR and bare LF differently.
        Rejection{"BareCrInValue", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},
        Rejection{"BareCrEndsALine", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400},
        Rejection{"BareLfEndsTheHead", "GET / HTTP/1.1\nHost: a\n\n", 400},
        Rejection{"BareLfAfterAField", "GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", 400},
        Rejection{"BareLfInChunkExtension",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "1;a\nb\r\nx\r\n0\r\n\r\n",
                  400},
        Rejection{"ObsFoldInTrailer",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "0\r\nX: a\r\n b\r\n\r\n",
                  400},
        // Control characters.
        Rejection{"NulInValue", "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n"s, 400},
        Rejection{"NulInName", "GET / HTTP/1.1\r\nHost: a\r\nX\0Y: b\r\n\r\n"s, 400},
        Rejection{"NulInTarget", "GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n"s, 400},
        Rejection{"ControlCharInValue", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x01z\r\n\r\n", 400},
        Rejection{"DelInValue", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fz\r\n\r\n", 400},
        Rejection{"VerticalTabBeforeChunked",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \x0b"
                  "chunked\r\n\r\n",
                  400},
        // Lengths and chunk sizes.
        Rejection{"DifferingContentLengths",
                  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxy",
                  400},
        Rejection{"ContentLengthList",
                  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\nx", 400},
        Rejection{"NegativeContentLength",
                  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", 400},
        Rejection{"PlusContentLength", "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\nx",
                  400},
        Rejection{"OverflowingContentLength",
                  "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999999\r\n\r\n",
                  400},
        Rejection{"OverflowingChunkSize",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "10000000000000000\r\n",
                  400},
        Rejection{"MaximalChunkSize",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
                  "ffffffffffffffff\r\n",
                  400},
        Rejection{"NegativeChunkSize",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\nx\r\n",
                  400},
        Rejection{"HexPrefixChunkSize",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x1\r\nx\r\n",
                  400},
        Rejection{"ChunkLongerThanItsSize",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n",
                  400},
        // Transfer codings.
        Rejection{"TransferEncodingInHttp10",
                  "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
        Rejection{"IdentityCoding",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: identity\r\n\r\n", 501},
        Rejection{"ChunkedNotLast",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 501},
        Rejection{"ChunkedInTwoFields",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n"
                  "Transfer-Encoding: chunked\r\n\r\n",
                  400},
        Rejection{"EmptyTransferEncoding",
                  "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: \r\n\r\n", 400},
        // Targets, Host, versions, expectations.
        Rejection{"OtherScheme", "GET ftp://a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        Rejection{"UserinfoInTarget", "GET http://u@a/b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        Rejection{"AsteriskForGet", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        Rejection{"HostWithSpace", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
        Rejection{"HostWithPath", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
        Rejection{"HostWithUser", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
        Rejection{"Http12", "GET / HTTP/1.2\r\nHost: a\r\n\r\n", 505},
        Rejection{"Http3", "GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505},
        Rejection{"BadVersion", "GET / HTTP/10.1\r\nHost: a\r\n\r\n", 400},
        Rejection{"LowerCaseVersion", "GET / http/1.1\r\nHost: a\r\n\r\n", 400},
        Rejection{"UnknownMethod", "BREW / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
        Rejection{"UnknownExpectation", "GET / HTTP/1.1\r\nHost: a\r\nExpect: cake\r\n\r\n", 417}),
    [](const ::testing::TestParamInfo<Rejection>& info) { return info.param.name; });

TEST(RequestParser, AcceptsWhatTheRfcAllows) {
  for (const char* text : {
           "GET / HTTP/1.1\r\nHost: a\r\nX: tab\there\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: a\r\nX: caf\xc3\xa9\r\n\r\n",  // obs-text
           "GET / HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n",
           "GET / HTTP/1.1\r\nHost: \r\n\r\n",
           "\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",  // RFC 9112 §2.2: a CRLF before the line
           "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
           "GET HTTPS://Example.COM:8443/x HTTP/1.1\r\nHost: a\r\n\r\n",
           "POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\nx",
           "GET / HTTP/1.0\r\nExpect: cake\r\n\r\n",  // HTTP/1.0 expectations are ignored
           "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n",
       }) {
    Parsed p = Parse(text, {}, 1);
    EXPECT_TRUE(p.complete) << text << ": " << p.status << " " << p.detail;
  }
}

TEST(RequestParser, TrailersAreReadAndTheBodyIsIntact) {
  Parsed p = Parse(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3;name=value\r\nabc\r\n0\r\nX-Checksum: 1\r\n\r\n",
      {}, 1);
  ASSERT_TRUE(p.complete) << p.detail;
  EXPECT_EQ(p.body, "abc");
  EXPECT_EQ(p.request.headers.size(), 2u);  // the trailer is not part of the head
}

TEST(RequestParser, TrailersCountAgainstTheFieldLimits) {
  RequestLimits limits;
  limits.fields = 3;
  Parsed p = Parse(
      "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
      "0\r\nA: 1\r\nB: 2\r\n\r\n",
      limits);
  EXPECT_EQ(p.status, 431) << p.detail;
}

TEST(RequestParser, BodyBytesAreNotScannedAsFraming) {
  std::string body("a\rb\nc\0d\x01\r\n e", 12);
  Parsed p = Parse("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 12\r\n\r\n" + body, {}, 1);
  ASSERT_TRUE(p.complete) << p.detail;
  EXPECT_EQ(p.body, body);
  Parsed c = Parse("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nc\r\n" + body +
                       "\r\n0\r\n\r\n",
                   {}, 5);
  ASSERT_TRUE(c.complete) << c.detail;
  EXPECT_EQ(c.body, body);
}

TEST(RequestParser, H2cUpgradeIsIgnoredNotRefused) {
  Parsed p = Parse("GET / HTTP/1.1\r\nHost: a\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n");
  EXPECT_EQ(p.status, 0) << p.detail;
  EXPECT_TRUE(p.complete);
}

TEST(RequestParser, HeaderBytesAreCountedAcrossRequests) {
  RequestLimits limits;
  limits.headers_size = 60;
  RequestParser parser(limits);
  std::string one = "GET / HTTP/1.1\r\nHost: a\r\nX: " + std::string(30, 'x') + "\r\n\r\n";
  for (int i = 0; i < 3; ++i) {  // the budget is per request, not per connection
    size_t used = 0;
    ASSERT_EQ(parser.Feed(one, &used), RequestParser::Result::kHeadComplete) << i;
    parser.Resume();
    size_t more = 0;
    ASSERT_EQ(parser.Feed(std::string_view(one).substr(used), &more),
              RequestParser::Result::kMessageComplete);
    parser.Resume();
  }
}

}  // namespace
}  // namespace valved::worker
