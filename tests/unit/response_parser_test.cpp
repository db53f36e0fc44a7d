#include "worker/response_parser.h"

#include <gtest/gtest.h>

#include <vector>

namespace valved::worker {
namespace {

struct Parsed {
  std::vector<ResponseHead> heads;
  std::string body;
  bool complete = false;
  std::string error;
};

Parsed Parse(const std::string& text, bool head_request = false, bool eof = false,
             size_t step = 1 << 20) {
  ResponseParser parser(head_request);
  Parsed out;
  parser.SetBodyHandler([&](std::string_view data) { out.body.append(data); });
  auto handle = [&](ResponseParser::Result result) {
    switch (result) {
      case ResponseParser::Result::kHeadComplete:
        out.heads.push_back(parser.head());
        parser.Resume();
        return true;
      case ResponseParser::Result::kMessageComplete:
        if (parser.head().is_interim()) {
          parser.Resume();
          return true;
        }
        out.complete = true;
        return false;
      case ResponseParser::Result::kError:
        out.error = parser.error();
        return false;
      default:
        return true;
    }
  };
  size_t pos = 0;
  while (pos < text.size()) {
    size_t used = 0;
    auto result = parser.Feed(std::string_view(text).substr(pos, step), &used);
    pos += used;
    if (!handle(result)) return out;
  }
  if (eof) handle(parser.FeedEof());
  return out;
}

TEST(ResponseParser, ContentLengthResponse) {
  Parsed p = Parse(
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nSet-Cookie: a=1\r\n"
      "Set-Cookie: b=2\r\n\r\nhello",
      false, false, 2);
  ASSERT_TRUE(p.complete) << p.error;
  ASSERT_EQ(p.heads.size(), 1u);
  EXPECT_EQ(p.heads[0].status, 200);
  EXPECT_EQ(p.heads[0].reason, "OK");
  EXPECT_EQ(p.heads[0].content_length, 5u);
  EXPECT_EQ(p.heads[0].headers.size(), 3u);
  EXPECT_EQ(p.body, "hello");
}

TEST(ResponseParser, ChunkedResponseIsDechunked) {
  Parsed p = Parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
  ASSERT_TRUE(p.complete) << p.error;
  EXPECT_TRUE(p.heads[0].chunked);
  EXPECT_EQ(p.body, "abc");
}

TEST(ResponseParser, ResponseToHeadHasNoBody) {
  Parsed p = Parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n", true);
  ASSERT_TRUE(p.complete) << p.error;
  EXPECT_TRUE(p.heads[0].bodyless);
  EXPECT_EQ(p.heads[0].content_length, 100u);
}

TEST(ResponseParser, CloseDelimitedBodyEndsAtEof) {
  Parsed open = Parse("HTTP/1.1 200 OK\r\n\r\nsome body");
  EXPECT_FALSE(open.complete);
  Parsed p = Parse("HTTP/1.1 200 OK\r\n\r\nsome body", false, true);
  ASSERT_TRUE(p.complete) << p.error;
  EXPECT_EQ(p.body, "some body");
}

TEST(ResponseParser, EofMidBodyIsAnError) {
  Parsed p = Parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", false, true);
  EXPECT_FALSE(p.complete);
  EXPECT_NE(p.error.find("before the response was complete"), std::string::npos) << p.error;
  Parsed none = Parse("", false, true);
  EXPECT_NE(none.error.find("without a response"), std::string::npos) << none.error;
}

TEST(ResponseParser, InterimResponseIsFollowedByTheFinalOne) {
  Parsed p = Parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n");
  ASSERT_TRUE(p.complete) << p.error;
  ASSERT_EQ(p.heads.size(), 2u);
  EXPECT_TRUE(p.heads[0].is_interim());
  EXPECT_EQ(p.heads[1].status, 204);
  EXPECT_TRUE(p.heads[1].bodyless);
}

TEST(ResponseParser, NotModifiedAndNoContentNeverWaitForTheLengthTheyAnnounce) {
  for (const char* text : {"HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
                           "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n"}) {
    Parsed p = Parse(text);
    ASSERT_TRUE(p.complete) << text << p.error;
    EXPECT_TRUE(p.heads[0].bodyless);
    EXPECT_EQ(p.heads[0].content_length, text[9] == '3' ? 10u : 3u);
    EXPECT_EQ(p.body, "");
  }
}

TEST(ResponseParser, AmbiguousHeadsAreErrors) {
  EXPECT_FALSE(Parse("HTTP/1.1 200 OK\r\nContent-Length : 1\r\n\r\nx").error.empty());
  EXPECT_FALSE(Parse("HTTP/1.1 29 Odd\r\nContent-Length: 0\r\n\r\n").error.empty());
  EXPECT_FALSE(Parse("HTTP/1.1 600 Odd\r\nContent-Length: 0\r\n\r\n").error.empty());
}

TEST(ResponseParser, GarbageAndSwitchingProtocolsAreErrors) {
  EXPECT_FALSE(Parse("SSH-2.0-OpenSSH\r\n").error.empty());
  EXPECT_FALSE(
      Parse("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n")
          .error.empty());
}

}  // namespace
}  // namespace valved::worker
