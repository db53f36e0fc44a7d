#include "worker/response_parser.h"

#include <algorithm>
#include <utility>

namespace valved::worker {
namespace {

ResponseParser* Self(http_parser* p) { return ParserOf<ResponseParser>(p); }

// Statuses that never have a body (RFC 7230 §3.3.3).
bool IsBodylessStatus(int status) {
  return (status >= 100 && status < 200) || status == 204 || status == 304;
}

// http_parser takes "Content-Length :" for Content-Length, while the relay
// would copy it as some other field next to the real one.
bool HasWhitespaceInName(const Headers& headers) {
  return std::any_of(headers.begin(), headers.end(), [](const Header& h) {
    return h.name.find_first_of(" \t") != std::string::npos;
  });
}

}  // namespace

ResponseParser::ResponseParser(bool head_request) : head_request_(head_request) {
  http_parser_init(&parser_, HTTP_RESPONSE);
  parser_.data = this;
}

ResponseParser::Result ResponseParser::Feed(std::string_view data, size_t* consumed) {
  *consumed = http_parser_execute(&parser_, &Settings(), data.data(), data.size());
  if (*consumed > 0 && paused_at_ != Result::kHeadComplete) head_end_pending_ = false;
  return Stopped();
}

ResponseParser::Result ResponseParser::FeedEof() {
  http_parser_execute(&parser_, &Settings(), nullptr, 0);
  if (Stopped() == Result::kMessageComplete) return Result::kMessageComplete;
  error_ = started_ ? "the connection closed before the response was complete"
                    : "the connection closed without a response";
  return Result::kError;
}

void ResponseParser::Resume() { http_parser_pause(&parser_, 0); }

// The parser itself never sees these bytes; it stays where the head ended.
// What OnMessageComplete() would learn is known from the head already: a
// body framed by a Content-Length never needs the close.
ResponseParser::Result ResponseParser::SkipBody(uint64_t n) {
  body_left_ -= std::min(n, body_left_);
  if (body_left_ > 0) return Result::kNeedMore;
  keeps_connection_ = http_should_keep_alive(&parser_) != 0;
  return Result::kMessageComplete;
}

ResponseParser::Result ResponseParser::Stopped() {
  if (auto result = StoppedAt(&parser_, &paused_at_)) return *result;
  if (error_.empty())
    error_ =
        std::string("malformed response: ") + http_errno_description(HTTP_PARSER_ERRNO(&parser_));
  return Result::kError;
}

int ResponseParser::OnMessageBegin(http_parser* p) {
  ResponseParser* self = Self(p);
  self->head_ = ResponseHead{};
  self->started_ = true;
  self->value_last_ = false;
  return 0;
}

int ResponseParser::OnStatus(http_parser* p, const char* at, size_t len) {
  Self(p)->head_.reason.append(at, len);
  return 0;
}

int ResponseParser::OnHeaderField(http_parser* p, const char* at, size_t len) {
  ResponseParser* self = Self(p);
  if (self->head_.headers.empty() || self->value_last_) self->head_.headers.emplace_back();
  self->value_last_ = false;
  self->head_.headers.back().name.append(at, len);
  return 0;
}

int ResponseParser::OnHeaderValue(http_parser* p, const char* at, size_t len) {
  ResponseParser* self = Self(p);
  self->value_last_ = true;
  self->head_.headers.back().value.append(at, len);
  return 0;
}

// Returns 1 ("no body follows") for a bodyless response, as http_parser asks:
// it would otherwise wait for the body a 204 or 304 announces with a
// Content-Length, which RFC 9110 says never comes.
int ResponseParser::OnHeadersComplete(http_parser* p) {
  ResponseParser* self = Self(p);
  ResponseHead& head = self->head_;
  head.status = static_cast<int>(p->status_code);
  if (head.status < 100 || head.status > 599) {
    self->error_ = "invalid status code " + std::to_string(head.status);
    return -1;
  }
  if (HasWhitespaceInName(head.headers)) {
    self->error_ = "whitespace in a header name";
    return -1;
  }
  if (head.status == 101) {
    // The worker never forwards Upgrade, so a switch of protocols is a bug in the child.
    self->error_ = "unexpected 101 Switching Protocols";
    return -1;
  }
  head.chunked = (p->flags & F_CHUNKED) != 0;
  if (p->flags & F_CONTENTLENGTH) head.content_length = p->content_length;
  head.bodyless = self->head_request_ || IsBodylessStatus(head.status);
  if (!head.bodyless && !head.chunked && head.content_length) {
    self->body_left_ = p->content_length;
    self->head_end_pending_ = true;
  }
  PauseAt(p, &self->paused_at_, Result::kHeadComplete);
  return head.bodyless ? 1 : 0;
}

int ResponseParser::OnBody(http_parser* p, const char* at, size_t len) {
  ResponseParser* self = Self(p);
  if (!self->on_body_) return 0;
  try {
    self->on_body_(std::string_view(at, len));
  } catch (const std::exception& e) {  // must not unwind through http_parser
    self->error_ = std::string("internal error: ") + e.what();
    return -1;
  }
  return 0;
}

int ResponseParser::OnMessageComplete(http_parser* p) {
  ResponseParser* self = Self(p);
  self->keeps_connection_ = http_should_keep_alive(p) != 0;
  if (self->head_.is_interim()) self->saw_interim_ = true;
  return PauseAt(p, &self->paused_at_, Result::kMessageComplete);
}

const http_parser_settings& ResponseParser::Settings() {
  static const http_parser_settings settings =
      SettingsFor<ResponseParser>(&http_parser_settings::on_status, OnStatus);
  return settings;
}

}  // namespace valved::worker
