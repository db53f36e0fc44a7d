// libFuzzer target: the response side of the worker's HTTP handling
// (worker/response_parser.*, the framing helpers of worker/http_util.*), as a
// child's byte stream reaches it. Beyond "no crash, no sanitizer report" it
// checks that what the worker writes to the client (ClientResponseHead and
// the framed body) parses back as the same status, reason, end-to-end fields
// and body, whatever framing the client's HTTP version calls for.
//
// Input: the first byte chooses the read size, HEAD or not and the client's
// HTTP version; the rest is the child's response stream.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "worker/http_util.h"
#include "worker/response_parser.h"

namespace valved::worker {
namespace {

struct Response {
  ResponseHead head;
  std::string body;
};

struct Outcome {
  std::vector<Response> responses;  // interim ones first, the final one last
  bool complete = false;
  bool failed = false;
};

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "property violated: %s\n", what);
  std::abort();
}

// Reads one final response (after any interim ones), as Upstream does; `eof`
// feeds the end of the stream when it ran out.
Outcome Parse(std::string_view stream, size_t step, bool head_request, bool eof) {
  Outcome out;
  ResponseParser parser(head_request);
  std::string body;
  parser.SetBodyHandler([&](std::string_view data) { body.append(data); });
  size_t pos = 0;
  while (!out.complete && !out.failed) {
    size_t used = 0;
    ResponseParser::Result result;
    if (pos < stream.size()) {
      result = parser.Feed(stream.substr(pos, step), &used);
    } else if (eof) {
      result = parser.FeedEof();
      eof = false;
    } else {
      break;
    }
    pos += used;
    switch (result) {
      case ResponseParser::Result::kError:
        out.failed = true;
        break;
      case ResponseParser::Result::kHeadComplete:
        out.responses.push_back({parser.head(), ""});
        parser.Resume();
        break;
      case ResponseParser::Result::kMessageComplete:
        out.responses.back().body = std::move(body);
        body.clear();
        out.complete = !out.responses.back().head.is_interim();
        parser.Resume();
        break;
      case ResponseParser::Result::kNeedMore:
        if (used == 0 && pos < stream.size()) Die("the parser neither consumed input nor stopped");
        break;
    }
  }
  return out;
}

// The bytes ClientConnection writes for `response`.
std::string ClientBytes(const Response& response, int client_minor) {
  BodyFraming framing = ChooseFraming(response.head, client_minor);
  std::string out = ClientResponseHead(response.head, framing, true, client_minor);
  if (framing == BodyFraming::kNone) return out;
  if (framing == BodyFraming::kChunked) {
    if (!response.body.empty())
      out += ChunkHeader(response.body.size()) + response.body + std::string(kChunkEnd);
    return out += kLastChunk;
  }
  return out + response.body;
}

void CheckRelay(const Response& response, bool head_request, int client_minor) {
  std::string bytes = ClientBytes(response, client_minor);
  Outcome relayed = Parse(bytes, bytes.size(), head_request, true);
  if (relayed.failed || relayed.responses.empty()) Die("the client cannot parse the relayed head");
  const Response& got = relayed.responses.back();
  if (got.head.status != response.head.status) Die("the client sees another status");
  if (got.head.reason != response.head.reason) Die("the client sees another reason phrase");
  if (got.body != response.body && !response.head.bodyless) Die("the client sees another body");
  size_t kept = 0;
  for (const Header& h : WithoutHopByHop(response.head.headers)) {
    if (!EqualsIgnoreCase(h.name, "Content-Length")) ++kept;
  }
  size_t seen = 0;
  for (const Header& h : got.head.headers) {
    if (!IsHopByHop(h.name) && !EqualsIgnoreCase(h.name, "Content-Length")) ++seen;
  }
  if (seen != kept) Die("the client sees other end-to-end fields");
}

}  // namespace
}  // namespace valved::worker

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace valved::worker;
  if (size < 1) return 0;
  size_t step = 1 + data[0] % 13;
  bool head_request = (data[0] & 0x40) != 0;
  int client_minor = (data[0] & 0x80) ? 0 : 1;
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  Outcome whole = Parse(stream, stream.size() + 1, head_request, true);
  Outcome split = Parse(stream, step, head_request, true);
  if (whole.complete != split.complete || whole.failed != split.failed)
    Die("split changed the outcome");
  if (!whole.complete) return 0;
  for (const Response& response : whole.responses) {
    if (response.body != split.responses.at(&response - whole.responses.data()).body)
      Die("split changed a body");
  }
  CheckRelay(whole.responses.back(), head_request, client_minor);
  return 0;
}
