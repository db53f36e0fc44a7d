// libFuzzer target: the request side of the worker's HTTP handling
// (worker/request_parser.*, worker/http_util.*), as a client byte stream
// reaches it. Beyond "no crash, no sanitizer report" it checks two properties
// that keep an ambiguous request from ever reaching an R child:
//
//  1. Where the stream is split into reads does not matter: parsing it whole
//     and in pieces gives the same requests, bodies and rejection point.
//  2. Every accepted request, rewritten for the child as the worker does
//     (ChildRequestHead and re-chunking), parses back strictly as exactly one
//     request with the same method, target, framing and body.
//
// Input: the first byte chooses the read size; the rest is the stream.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "worker/http_util.h"
#include "worker/request_parser.h"

namespace valved::worker {
namespace {
// Small limits, so that short inputs reach the 413/414/431 paths.
RequestLimits FuzzLimits() {
  RequestLimits limits;
  limits.request_line = 200;
  limits.fields = 12;
  limits.headers_size = 600;
  limits.max_body = 2000;
  return limits;
}

struct Message {
  RequestHead head;
  std::string body;
};

struct Outcome {
  std::vector<Message> messages;  // complete, accepted requests in order
  bool head_pending = false;      // a head was accepted, its body not complete
  bool rejected = false;
  int status = 0;
};

[[noreturn]] void Die(const char* what) {
  std::fprintf(stderr, "property violated: %s\n", what);
  std::abort();
}

// Feeds `stream` in reads of `step` bytes, as ClientConnection does.
Outcome Parse(std::string_view stream, size_t step, RequestLimits limits) {
  Outcome out;
  RequestParser parser(limits);
  RequestHead head;
  std::string body;
  parser.SetBodyHandler([&](std::string_view data) { body.append(data); });
  size_t pos = 0;
  while (pos < stream.size()) {
    size_t used = 0;
    auto result = parser.Feed(stream.substr(pos, step), &used);
    pos += used;
    switch (result) {
      case RequestParser::Result::kError:
        out.rejected = true;
        out.status = parser.error().status;
        return out;
      case RequestParser::Result::kHeadComplete:
        // The worker writes the child's head now, before any body byte.
        out.head_pending = true;
        head = parser.head();
        parser.Resume();
        break;
      case RequestParser::Result::kMessageComplete:
        out.head_pending = false;
        out.messages.push_back({std::move(head), std::move(body)});
        body.clear();
        // The worker closes after a request that does not keep the connection.
        if (!out.messages.back().head.keep_alive) return out;
        parser.Resume();
        break;
      case RequestParser::Result::kNeedMore:
        if (used == 0) Die("the parser neither consumed input nor stopped");
        break;
    }
  }
  return out;
}

bool SameHead(const RequestHead& a, const RequestHead& b) {
  if (a.method != b.method || a.target != b.target || a.http_minor != b.http_minor ||
      a.content_length != b.content_length || a.chunked != b.chunked ||
      a.keep_alive != b.keep_alive || a.headers.size() != b.headers.size())
    return false;
  for (size_t i = 0; i < a.headers.size(); ++i) {
    if (a.headers[i].name != b.headers[i].name || a.headers[i].value != b.headers[i].value)
      return false;
  }
  return true;
}

void CheckSplitInvariance(const Outcome& whole, const Outcome& split) {
  if (whole.messages.size() != split.messages.size()) Die("split changed the request count");
  for (size_t i = 0; i < whole.messages.size(); ++i) {
    if (!SameHead(whole.messages[i].head, split.messages[i].head))
      Die("split changed a request head");
    if (whole.messages[i].body != split.messages[i].body) Die("split changed a body");
  }
  // Several faults in one request may be found in a different order, so
  // only the fact of the rejection must agree, not its status.
  if (whole.rejected != split.rejected) Die("split changed whether the stream is rejected");
}

// What the child receives for `message`: Upstream writes each body piece as
// one chunk when the client's body was chunked.
std::string ChildRequest(const Message& message) {
  ClientPeer peer;
  peer.address = "192.0.2.1";
  std::string out = ChildRequestHead(message.head, peer);
  if (!message.head.chunked) return out + message.body;
  if (!message.body.empty()) {
    out += ChunkHeader(message.body.size());
    out += message.body;
    out += kChunkEnd;
  }
  return out += kLastChunk;
}

void CheckChildRequest(const Message& message) {
  RequestLimits generous;
  generous.request_line = 1 << 16;
  generous.fields = 1000;
  generous.headers_size = 1 << 20;
  std::string bytes = ChildRequest(message);
  Outcome child = Parse(bytes, bytes.size(), generous);
  if (child.rejected) Die("the child's request is rejected by the strict parser");
  if (child.messages.size() != 1) Die("the child's request is not exactly one request");
  const RequestHead& head = child.messages[0].head;
  if (head.method != message.head.method) Die("the child sees another method");
  if (head.target != OriginForm(message.head.target)) Die("the child sees another target");
  if (head.chunked != message.head.chunked) Die("the child sees other framing");
  if (!head.chunked && head.content_length.value_or(0) != message.body.size())
    Die("the child sees another Content-Length");
  if (child.messages[0].body != message.body) Die("the child sees another body");
  if (head.keep_alive) Die("the child's connection is not closed after one request");
}

}  // namespace
}  // namespace valved::worker

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace valved::worker;
  if (size < 1) return 0;
  size_t step = 1 + data[0] % 17;
  std::string_view stream(reinterpret_cast<const char*>(data + 1), size - 1);
  Outcome whole = Parse(stream, stream.size() + 1, FuzzLimits());
  Outcome split = Parse(stream, step, FuzzLimits());
  CheckSplitInvariance(whole, split);
  for (const Message& message : whole.messages) CheckChildRequest(message);
  return 0;
}
