#include "worker/request_parser.h"

#include <cstring>
#include <utility>

#include "worker/http_util.h"

namespace valved::worker {
namespace {

RequestParser* Self(http_parser* p) { return ParserOf<RequestParser>(p); }

// Per header line: the name, ": ", the value and CRLF.
constexpr size_t kFieldOverhead = 4;
// " HTTP/1.1" and the CRLF around the method and target in the request line.
constexpr size_t kRequestLineOverhead = 11;

bool HasWhitespace(std::string_view name) {
  return name.find_first_of(" \t") != std::string_view::npos;
}

// Control characters other than HTAB, CR and LF (which the scan checks on its own).
bool IsForbiddenControl(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t' && c != '\r' && c != '\n') || u == 0x7f;
}

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && EqualsIgnoreCase(text.substr(0, prefix.size()), prefix);
}

// RFC 3986 host (reg-name, IPv4 or IP-literal) with an optional port: the
// characters only, which is what keeps X-Forwarded-Host and a rebuilt URL
// in R from carrying a path, a user or whitespace.
bool IsValidHost(std::string_view host) {
  static constexpr std::string_view kAllowed =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=%:[]";
  return host.find_first_not_of(kAllowed) == std::string_view::npos;
}

}  // namespace

RequestLimits RequestLimits::FromConfig(const Config& config) {
  RequestLimits limits;
  limits.request_line = static_cast<size_t>(config.limit_request_line);
  limits.fields = static_cast<size_t>(config.limit_request_fields);
  limits.headers_size = static_cast<size_t>(config.limit_request_headers_size);
  limits.max_body = static_cast<uint64_t>(config.max_body_size);
  return limits;
}

RequestParser::RequestParser(RequestLimits limits) : limits_(limits) {
  http_parser_init(&parser_, HTTP_REQUEST);
  parser_.data = this;
}

RequestParser::Result RequestParser::Feed(std::string_view data, size_t* consumed) {
  feed_ = data;
  scanned_ = 0;
  *consumed = http_parser_execute(&parser_, &Settings(), data.data(), data.size());
  bool clean = failed_ || ScanUpTo(data.data() + *consumed);
  feed_ = {};
  if (!clean) return Result::kError;
  if (auto result = StoppedAt(&parser_, &paused_at_)) return *result;
  return ParserError();
}

void RequestParser::Resume() { http_parser_pause(&parser_, 0); }

RequestParser::Result RequestParser::ParserError() {
  if (failed_) return Result::kError;
  http_errno err = HTTP_PARSER_ERRNO(&parser_);
  if (err == HPE_HEADER_OVERFLOW) {
    Fail(431, "the request head is too large");
  } else if (err == HPE_UNEXPECTED_CONTENT_LENGTH) {
    Fail(400, "conflicting Content-Length or Transfer-Encoding headers");
  } else if (head_complete_ &&
             (err == HPE_INVALID_CONTENT_LENGTH || err == HPE_INVALID_CHUNK_SIZE)) {
    // http_parser reports an overflowing chunk size as a bad Content-Length.
    Fail(400, "invalid or too large chunk size");
  } else if (err == HPE_INVALID_CONTENT_LENGTH) {
    Fail(400, "invalid Content-Length");
  } else {
    Fail(400, std::string("malformed request: ") + http_errno_description(err));
  }
  return Result::kError;
}

int RequestParser::Fail(int status, std::string detail) {
  if (!failed_) error_ = {status, std::move(detail)};
  failed_ = true;
  return -1;  // any non-zero return stops http_parser with an error
}

bool RequestParser::Refuse(int status, std::string detail) {
  Fail(status, std::move(detail));
  return false;
}

bool RequestParser::CountHeaderBytes(size_t len) {
  header_bytes_ += len;
  return header_bytes_ <= limits_.headers_size;
}

// Scans the framing bytes of the current Feed() up to `at` (exclusive).
bool RequestParser::ScanUpTo(const char* at) {
  size_t offset = static_cast<size_t>(at - feed_.data());
  bool clean = ScanFraming(feed_.substr(scanned_, offset - scanned_));
  scanned_ = offset;
  return clean;
}

bool RequestParser::ScanFraming(std::string_view bytes) {
  for (char c : bytes) {
    if (previous_ == '\r' && c != '\n') return Refuse(400, "bare CR in the request");
    if (c == '\n' && previous_ != '\r')
      return Refuse(400, "bare LF in the request (lines must end with CRLF)");
    if (previous_ == '\n' && (c == ' ' || c == '\t'))
      return Refuse(400, "obsolete line folding in the request");
    if (IsForbiddenControl(c)) return Refuse(400, "control character in the request head");
    previous_ = c;
  }
  return true;
}

int RequestParser::OnMessageBegin(http_parser* p) {
  RequestParser* self = Self(p);
  self->head_ = RequestHead{};
  self->in_message_ = true;
  self->value_last_ = false;
  self->fields_ = 0;
  self->header_bytes_ = 0;
  self->body_bytes_ = 0;
  return 0;
}

// The data callbacks scan what they are given, so that CheckHead() only
// ever sees a head whose bytes passed the framing scan.
int RequestParser::OnUrl(http_parser* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (!self->ScanUpTo(at + len)) return -1;
  self->head_.target.append(at, len);
  if (self->head_.target.size() > self->limits_.request_line)
    return self->Fail(414, "the request line is longer than " +
                               std::to_string(self->limits_.request_line) + " bytes");
  return 0;
}

// Trailer fields (after a chunked body) count against the same limits but
// are dropped: the head has been sent to the child by then.
int RequestParser::OnHeaderField(http_parser* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (!self->ScanUpTo(at + len)) return -1;
  if (self->fields_ == 0 || self->value_last_) {
    if (self->fields_ == self->limits_.fields)
      return self->Fail(431,
                        "more than " + std::to_string(self->limits_.fields) + " header fields");
    ++self->fields_;
    self->header_bytes_ += kFieldOverhead;
    if (!self->head_complete_) self->head_.headers.emplace_back();
  }
  self->value_last_ = false;
  if (!self->head_complete_) self->head_.headers.back().name.append(at, len);
  if (!self->CountHeaderBytes(len))
    return self->Fail(431, "the header section is larger than " +
                               std::to_string(self->limits_.headers_size) + " bytes");
  return 0;
}

int RequestParser::OnHeaderValue(http_parser* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (!self->ScanUpTo(at + len)) return -1;
  self->value_last_ = true;
  if (!self->head_complete_) self->head_.headers.back().value.append(at, len);
  if (!self->CountHeaderBytes(len))
    return self->Fail(431, "the header section is larger than " +
                               std::to_string(self->limits_.headers_size) + " bytes");
  return 0;
}

int RequestParser::OnHeadersComplete(http_parser* p) {
  RequestParser* self = Self(p);
  self->FinishHead();
  if (!self->CheckHead()) return -1;
  self->head_complete_ = true;
  return PauseAt(p, &self->paused_at_, Result::kHeadComplete);
}

void RequestParser::FinishHead() {
  head_.method = http_method_str(static_cast<http_method>(parser_.method));
  head_.http_minor = parser_.http_minor;
  head_.keep_alive = http_should_keep_alive(&parser_) != 0;
  head_.chunked = (parser_.flags & F_CHUNKED) != 0;
  if (parser_.flags & F_CONTENTLENGTH) head_.content_length = parser_.content_length;
}

// The checks that need the whole head. Each failure names what is wrong.
bool RequestParser::CheckHead() {
  if (parser_.http_major != 1 || parser_.http_minor > 1)
    return Refuse(505, "HTTP/" + std::to_string(parser_.http_major) + "." +
                           std::to_string(parser_.http_minor) + " is not supported");
  if (head_.method.size() + head_.target.size() + kRequestLineOverhead > limits_.request_line)
    return Refuse(
        414, "the request line is longer than " + std::to_string(limits_.request_line) + " bytes");
  if (parser_.method == HTTP_CONNECT) return Refuse(501, "CONNECT is not supported");
  return CheckTarget() && CheckFields() && CheckFraming();
}

// Origin-form ("/path"), asterisk-form for OPTIONS, or an http(s) absolute
// form, which the worker rewrites; the authority of the latter becomes the Host.
bool RequestParser::CheckTarget() {
  std::string_view target = head_.target;
  if (target.front() == '/') return true;
  if (target == "*")
    return parser_.method == HTTP_OPTIONS || Refuse(400, "\"*\" is only for OPTIONS");
  if (!StartsWithIgnoreCase(target, "http://") && !StartsWithIgnoreCase(target, "https://"))
    return Refuse(400, "unsupported request target");
  std::string_view authority = TargetAuthority(target);
  if (authority.empty() || authority.find('@') != std::string_view::npos || !IsValidHost(authority))
    return Refuse(400, "invalid authority in the request target");
  return true;
}

bool RequestParser::CheckFields() {
  for (const Header& h : head_.headers) {
    if (HasWhitespace(h.name))
      return Refuse(400, "whitespace in the header name \"" + h.name + "\"");
  }
  size_t hosts = CountHeaders(head_.headers, "Host");
  if (hosts > 1) return Refuse(400, "more than one Host header");
  if (hosts == 0 && head_.http_minor == 1) return Refuse(400, "missing Host header");
  if (hosts == 1 && !IsValidHost(FindHeader(head_.headers, "Host")->value))
    return Refuse(400, "invalid Host header");
  if (const Header* upgrade = FindHeader(head_.headers, "Upgrade")) {
    for (std::string_view protocol : SplitList(upgrade->value)) {
      // Other upgrades (h2c) are optional for the client and simply ignored.
      if (EqualsIgnoreCase(protocol, "websocket"))
        return Refuse(501, "WebSocket upgrades are not supported");
    }
  }
  return CheckExpect();
}

// HTTP/1.1 defines one expectation; the child's 100 Continue is relayed.
// HTTP/1.0 clients' Expect fields are ignored, as RFC 9110 §10.1.1 requires.
bool RequestParser::CheckExpect() {
  if (head_.http_minor == 0) return true;
  for (const Header& h : head_.headers) {
    if (!EqualsIgnoreCase(h.name, "Expect")) continue;
    if (!EqualsIgnoreCase(h.value, "100-continue"))
      return Refuse(417, "the only supported expectation is 100-continue");
  }
  return true;
}

// Only "chunked", once and last, is a transfer coding the worker can
// re-frame; a Content-Length next to it would let the child pick either.
bool RequestParser::CheckFraming() {
  size_t chunked = 0;
  bool chunked_last = false;
  for (const Header& h : head_.headers) {
    if (!EqualsIgnoreCase(h.name, "Transfer-Encoding")) continue;
    for (std::string_view coding : SplitList(h.value)) {
      chunked_last = EqualsIgnoreCase(coding, "chunked");
      if (!chunked_last)
        return Refuse(501, "transfer coding \"" + std::string(coding) + "\" is not supported");
      ++chunked;
    }
  }
  if (parser_.uses_transfer_encoding) {
    // RFC 9112 §6.1: HTTP/1.0 has no transfer codings, so its framing is faulty.
    if (head_.http_minor == 0) return Refuse(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (head_.content_length) return Refuse(400, "both Content-Length and Transfer-Encoding");
    if (chunked != 1 || !chunked_last || !head_.chunked)
      return Refuse(400, "malformed Transfer-Encoding");
  }
  if (limits_.max_body > 0 && head_.content_length.value_or(0) > limits_.max_body)
    return Refuse(413,
                  "the request body is larger than " + std::to_string(limits_.max_body) + " bytes");
  return true;
}

int RequestParser::OnBody(http_parser* p, const char* at, size_t len) {
  RequestParser* self = Self(p);
  if (!self->ScanUpTo(at)) return -1;  // the chunk-size line before this data
  self->scanned_ += len;
  self->body_bytes_ += len;
  if (self->limits_.max_body > 0 && self->body_bytes_ > self->limits_.max_body)
    return self->Fail(413, "the request body is larger than " +
                               std::to_string(self->limits_.max_body) + " bytes");
  if (!self->on_body_) return 0;
  try {
    self->on_body_(std::string_view(at, len));
  } catch (const std::exception& e) {  // must not unwind through http_parser
    return self->Fail(500, std::string("internal error: ") + e.what());
  }
  return 0;
}

int RequestParser::OnMessageComplete(http_parser* p) {
  RequestParser* self = Self(p);
  self->in_message_ = false;
  self->head_complete_ = false;
  return PauseAt(p, &self->paused_at_, Result::kMessageComplete);
}

const http_parser_settings& RequestParser::Settings() {
  static const http_parser_settings settings =
      SettingsFor<RequestParser>(&http_parser_settings::on_url, OnUrl);
  return settings;
}

}  // namespace valved::worker
