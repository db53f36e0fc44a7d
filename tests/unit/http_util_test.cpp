#include "worker/http_util.h"

#include <gtest/gtest.h>

namespace valved::worker {
namespace {

// A client at `address` (and the rest of what the worker knows of it).
ClientPeer Peer(std::string address, std::string port = "0", std::string server_name = "",
                std::string server_port = "0", bool trusted = false) {
  ClientPeer peer;
  peer.address = std::move(address);
  peer.port = std::move(port);
  peer.server_name = std::move(server_name);
  peer.server_port = std::move(server_port);
  peer.trusted = trusted;
  return peer;
}

RequestHead Get(std::string target, Headers headers) {
  RequestHead head;
  head.method = "GET";
  head.target = std::move(target);
  head.headers = std::move(headers);
  return head;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(HttpUtil, HopByHopFieldsAreKnownInAnyCase) {
  for (const char* name : {"Connection", "keep-alive", "PROXY-CONNECTION", "TE", "Trailer",
                           "Upgrade", "transfer-encoding"})
    EXPECT_TRUE(IsHopByHop(name)) << name;
  for (const char* name : {"Host", "Content-Length", "Set-Cookie", "X-Forwarded-For"})
    EXPECT_FALSE(IsHopByHop(name)) << name;
}

TEST(HttpUtil, WithoutHopByHopDropsFieldsNamedInConnection) {
  Headers in = {{"Host", "a"},       {"Connection", "keep-alive, X-Secret"},
                {"X-Secret", "1"},   {"x-secret", "2"},
                {"Keep-Alive", "5"}, {"Accept", "*/*"},
                {"TE", "trailers"},  {"Upgrade", "h2c"}};
  Headers out = WithoutHopByHop(in);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].name, "Host");
  EXPECT_EQ(out[1].name, "Accept");
}

TEST(HttpUtil, ConnectionCannotRemoveHost) {
  Headers out = WithoutHopByHop({{"Host", "a"}, {"Connection", "host"}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].name, "Host");
}

TEST(HttpUtil, SplitListTrimsAndDropsEmptyItems) {
  auto items = SplitList(" a ,, b\t,c ");
  ASSERT_EQ(items.size(), 3u);
  EXPECT_EQ(items[0], "a");
  EXPECT_EQ(items[1], "b");
  EXPECT_EQ(items[2], "c");
}

TEST(HttpUtil, OriginFormRewritesAbsoluteTargets) {
  EXPECT_EQ(OriginForm("/a?b=1"), "/a?b=1");
  EXPECT_EQ(OriginForm("*"), "*");
  EXPECT_EQ(OriginForm("http://example.com/echo?x=1"), "/echo?x=1");
  EXPECT_EQ(OriginForm("http://example.com:8000"), "/");
  EXPECT_EQ(OriginForm("https://u@example.com?q"), "/?q");
  EXPECT_EQ(OriginForm("http://example.com#frag"), "/");
}

TEST(HttpUtil, ChildRequestHeadRewritesForTheChild) {
  RequestHead request = Get("http://example.com/hello?x=1", {{"Host", "example.com"},
                                                             {"Connection", "keep-alive, X-Hop"},
                                                             {"X-Hop", "1"},
                                                             {"X-Forwarded-Proto", "https"},
                                                             {"X-Forwarded-Host", "evil"},
                                                             {"Accept", "text/plain"}});
  std::string head = ChildRequestHead(request, Peer("192.0.2.7"));
  EXPECT_EQ(head.substr(0, head.find("\r\n")), "GET /hello?x=1 HTTP/1.1");
  EXPECT_TRUE(Contains(head, "\r\nHost: example.com\r\n"));
  EXPECT_TRUE(Contains(head, "\r\nAccept: text/plain\r\n"));
  EXPECT_TRUE(Contains(head, "\r\nX-Forwarded-For: 192.0.2.7\r\n"));
  EXPECT_TRUE(Contains(head, "\r\nX-Forwarded-Proto: http\r\n"));
  EXPECT_TRUE(Contains(head, "\r\nX-Forwarded-Host: example.com\r\n"));
  EXPECT_TRUE(Contains(head, "\r\nConnection: close\r\n"));
  EXPECT_FALSE(Contains(head, "X-Hop"));
  EXPECT_FALSE(Contains(head, "keep-alive"));
  EXPECT_FALSE(Contains(head, "evil"));
  EXPECT_FALSE(Contains(head, "https"));
  EXPECT_EQ(head.substr(head.size() - 4), "\r\n\r\n");
}

TEST(HttpUtil, PeerFieldCarriesTheClientAndCannotBeForged) {
  RequestHead request = Get("/", {{"Host", "api.example"},
                                  {"X-Valved-Peer", "remote_addr=6.6.6.6; scheme=https"},
                                  {"X-Forwarded-For", "203.0.113.9"},
                                  {"X-Forwarded-Proto", "https"}});
  ClientPeer peer = Peer("192.0.2.7", "5512", "0.0.0.0", "3000", false);
  std::string head = ChildRequestHead(request, peer);
  EXPECT_TRUE(Contains(head,
                       "\r\nX-Valved-Peer: remote_addr=192.0.2.7; remote_port=5512; "
                       "server_name=0.0.0.0; server_port=3000; scheme=http\r\n"))
      << head;
  EXPECT_FALSE(Contains(head, "6.6.6.6"));
  EXPECT_TRUE(Contains(head, "\r\nX-Forwarded-For: 203.0.113.9, 192.0.2.7\r\n"));
  EXPECT_TRUE(Contains(head, "\r\nX-Forwarded-Proto: http\r\n"));
}

TEST(HttpUtil, TrustedPeersForwardedFieldsAreBelieved) {
  RequestHead request = Get("/", {{"Host", "127.0.0.1:3000"},
                                  {"X-Forwarded-For", "198.51.100.1, 203.0.113.9"},
                                  {"X-Forwarded-Proto", "https"},
                                  {"X-Forwarded-Host", "api.example"}});
  ClientPeer peer = Peer("127.0.0.1", "4000", "127.0.0.1", "3000", true);
  std::string head = ChildRequestHead(request, peer);
  EXPECT_TRUE(Contains(head,
                       "\r\nX-Valved-Peer: remote_addr=203.0.113.9; remote_port=0; "
                       "server_name=127.0.0.1; server_port=3000; scheme=https\r\n"))
      << head;
  EXPECT_TRUE(Contains(head, "\r\nX-Forwarded-For: 198.51.100.1, 203.0.113.9, 127.0.0.1\r\n"));
  EXPECT_TRUE(Contains(head, "\r\nX-Forwarded-Proto: https\r\n"));
  EXPECT_TRUE(Contains(head, "\r\nX-Forwarded-Host: api.example\r\n"));
  // Not an address: the peer stays the client.
  request = Get("/", {{"Host", "h"}, {"X-Forwarded-For", "unknown; remote_addr=1.2.3.4"}});
  EXPECT_TRUE(Contains(ChildRequestHead(request, peer),
                       "X-Valved-Peer: remote_addr=127.0.0.1; "
                       "remote_port=4000;"));
}

TEST(HttpUtil, TargetAuthorityOnlyForAbsoluteForm) {
  EXPECT_EQ(TargetAuthority("http://h:1/a?b"), "h:1");
  EXPECT_EQ(TargetAuthority("HTTPS://h?x"), "h");
  EXPECT_EQ(TargetAuthority("http://h"), "h");
  EXPECT_EQ(TargetAuthority("/a://b"), "");
  EXPECT_EQ(TargetAuthority("*"), "");
}

TEST(HttpUtil, AbsoluteFormAuthorityReplacesTheHostField) {
  RequestHead request = Get("http://api.example:8080/x", {{"Host", "other"}});
  std::string head = ChildRequestHead(request, Peer("192.0.2.7"));
  EXPECT_EQ(head.substr(0, head.find("\r\n")), "GET /x HTTP/1.1");
  EXPECT_TRUE(Contains(head, "\r\nHost: api.example:8080\r\n"));
  EXPECT_TRUE(Contains(head, "\r\nX-Forwarded-Host: api.example:8080\r\n"));
  EXPECT_FALSE(Contains(head, "other"));
}

TEST(HttpUtil, Http10WithoutHostGetsAnEmptyHost) {
  RequestHead request = Get("/", {});
  request.http_minor = 0;
  std::string head = ChildRequestHead(request, Peer("192.0.2.7"));
  EXPECT_TRUE(Contains(head, "\r\nHost: \r\n"));
  EXPECT_FALSE(Contains(head, "X-Forwarded-Host"));
  EXPECT_TRUE(Contains(head, "\r\nX-Forwarded-For: 192.0.2.7\r\n"));
}

TEST(HttpUtil, ExpectIsKeptForHttp11AndDroppedForHttp10) {
  RequestHead request = Get("/", {{"Host", "a"}, {"Expect", "100-continue"}});
  EXPECT_TRUE(Contains(ChildRequestHead(request, Peer("::1")), "\r\nExpect: 100-continue\r\n"));
  request.http_minor = 0;
  EXPECT_FALSE(Contains(ChildRequestHead(request, Peer("::1")), "Expect"));
}

TEST(HttpUtil, ForwardedForIsAppendedToEarlierHops) {
  RequestHead request = Get(
      "/", {{"Host", "a"}, {"X-Forwarded-For", "198.51.100.1"}, {"x-forwarded-for", "10.0.0.1"}});
  std::string head = ChildRequestHead(request, Peer("192.0.2.7"));
  EXPECT_TRUE(Contains(head, "\r\nX-Forwarded-For: 198.51.100.1, 10.0.0.1, 192.0.2.7\r\n"));
  EXPECT_EQ(head.find("x-forwarded-for"), std::string::npos);
}

TEST(HttpUtil, ChildRequestHeadFramesTheBodyFromTheParsedRequest) {
  RequestHead chunked = Get("/", {{"Host", "a"}, {"Transfer-Encoding", "chunked"}});
  chunked.method = "POST";
  chunked.chunked = true;
  std::string head = ChildRequestHead(chunked, Peer("::1"));
  EXPECT_TRUE(Contains(head, "\r\nTransfer-Encoding: chunked\r\n"));
  EXPECT_FALSE(Contains(head, "Content-Length"));

  RequestHead sized = Get("/", {{"Host", "a"}, {"Content-Length", "5"}});
  sized.content_length = 5;
  head = ChildRequestHead(sized, Peer("::1"));
  EXPECT_TRUE(Contains(head, "\r\nContent-Length: 5\r\n"));
  EXPECT_FALSE(Contains(head, "Transfer-Encoding"));
}

ResponseHead Response(int status, Headers headers) {
  ResponseHead head;
  head.status = status;
  head.reason = "Custom Reason";
  head.headers = std::move(headers);
  return head;
}

TEST(HttpUtil, ChooseFramingFollowsLengthVersionAndBodylessness) {
  ResponseHead r = Response(200, {});
  EXPECT_EQ(ChooseFraming(r, 1), BodyFraming::kChunked);
  EXPECT_EQ(ChooseFraming(r, 0), BodyFraming::kUntilClose);
  r.content_length = 3;
  EXPECT_EQ(ChooseFraming(r, 0), BodyFraming::kLength);
  r.bodyless = true;
  EXPECT_EQ(ChooseFraming(r, 1), BodyFraming::kNone);
}

TEST(HttpUtil, ClientResponseHeadKeepsStatusReasonAndCookies) {
  ResponseHead r = Response(201, {{"Set-Cookie", "a=1"},
                                  {"Set-Cookie", "b=2"},
                                  {"Transfer-Encoding", "chunked"},
                                  {"Connection", "keep-alive"},
                                  {"Content-Type", "text/plain"}});
  r.chunked = true;
  std::string head = ClientResponseHead(r, BodyFraming::kChunked, true, 1);
  EXPECT_EQ(head.substr(0, head.find("\r\n")), "HTTP/1.1 201 Custom Reason");
  EXPECT_TRUE(Contains(head, "\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n"));
  EXPECT_TRUE(Contains(head, "\r\nTransfer-Encoding: chunked\r\n"));
  EXPECT_FALSE(Contains(head, "Connection"));
  EXPECT_FALSE(Contains(head, "keep-alive"));
}

TEST(HttpUtil, XAccelBufferingChoosesBufferingForOneResponseAndStaysHere) {
  EXPECT_TRUE(BuffersResponse(Response(200, {}), true));
  EXPECT_FALSE(BuffersResponse(Response(200, {}), false));
  EXPECT_FALSE(BuffersResponse(Response(200, {{"x-accel-buffering", "No"}}), true));
  EXPECT_TRUE(BuffersResponse(Response(200, {{"X-Accel-Buffering", "yes"}}), false));
  EXPECT_TRUE(BuffersResponse(Response(200, {{"X-Accel-Buffering", "maybe"}}), true));
  ResponseHead r = Response(200, {{"X-Accel-Buffering", "no"}, {"Content-Length", "0"}});
  r.content_length = 0;
  EXPECT_FALSE(Contains(ClientResponseHead(r, BodyFraming::kLength, true, 1), "Accel"));
}

TEST(HttpUtil, ClientResponseHeadSaysCloseOrKeepAliveForHttp10) {
  ResponseHead r = Response(200, {{"Content-Length", "3"}});
  r.content_length = 3;
  EXPECT_TRUE(Contains(ClientResponseHead(r, BodyFraming::kLength, false, 1),
                       "\r\nContent-Length: 3\r\nConnection: close\r\n\r\n"));
  EXPECT_TRUE(Contains(ClientResponseHead(r, BodyFraming::kLength, true, 0),
                       "\r\nConnection: keep-alive\r\n\r\n"));
}

TEST(HttpUtil, HeadResponseKeepsTheLengthOfTheFullResponse) {
  ResponseHead r = Response(200, {{"Content-Length", "42"}});
  r.content_length = 42;
  r.bodyless = true;
  EXPECT_TRUE(Contains(ClientResponseHead(r, BodyFraming::kNone, true, 1), "Content-Length: 42"));
}

TEST(HttpUtil, ErrorResponseIsShortTextWithClose) {
  std::string r = ErrorResponse(502, "the R process died", false);
  EXPECT_EQ(r.substr(0, r.find("\r\n")), "HTTP/1.1 502 Bad Gateway");
  EXPECT_TRUE(Contains(r, "\r\nConnection: close\r\n"));
  std::string body = "502 Bad Gateway: the R process died\n";
  EXPECT_TRUE(Contains(r, "\r\nContent-Length: " + std::to_string(body.size()) + "\r\n"));
  EXPECT_EQ(r.substr(r.size() - body.size()), body);
  EXPECT_FALSE(Contains(r, "Retry-After"));
}

TEST(HttpUtil, ErrorResponseForHeadHasNoBodyAndRetryAfterWhenAsked) {
  std::string r = ErrorResponse(503, "busy", true, 5);
  EXPECT_TRUE(Contains(r, "\r\nRetry-After: 5\r\n"));
  EXPECT_EQ(r.substr(r.size() - 4), "\r\n\r\n");
}

TEST(HttpUtil, EveryDenyReasonHasRetryAfterAndDetail) {
  for (auto reason : {ipc::DenyReason::kQueueFull, ipc::DenyReason::kQueueTimeout,
                      ipc::DenyReason::kShuttingDown, ipc::DenyReason::kNoChildren}) {
    EXPECT_GT(RetryAfterSeconds(reason), 0);
    EXPECT_FALSE(DenyDetail(reason).empty());
  }
}

TEST(HttpUtil, ReasonPhrases) {
  EXPECT_STREQ(ReasonPhrase(504), "Gateway Timeout");
  EXPECT_STREQ(ReasonPhrase(431), "Request Header Fields Too Large");
  EXPECT_STREQ(ReasonPhrase(599), "Unknown");
}

TEST(HttpUtil, ChunkHeaderIsHex) { EXPECT_EQ(ChunkHeader(255), "ff\r\n"); }

}  // namespace
}  // namespace valved::worker
