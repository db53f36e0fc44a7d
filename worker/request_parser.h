// Incremental parser for client requests: Node's http_parser (HTTP_REQUEST)
// plus the checks the worker makes before it leases a child. plumber/httpuv
// accepts malformed framing, huge heads and odd versions, so everything that
// could be read differently by the child is refused here.
//
// Principle: http_parser decides the structure; this class is stricter than
// it wherever the library is lenient. Every byte the library reads as framing
// (the head, chunk-size lines, trailers) is also scanned here: lines must end
// in CRLF (no bare CR or LF, which other parsers split differently), no line
// may start with whitespace (obsolete folding) and no control character may
// appear. Body bytes are never scanned; the worker re-frames them anyway.
//
// Feed() stops (pauses the parser) after a complete head and after a
// complete message, so the caller decides when the body may flow (only once a
// child is leased) and when the next pipelined request may be read (only once
// the current response is done). Body bytes go to the body handler as they
// are parsed, already de-chunked.
#pragma once

#include <http_parser.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/config.h"
#include "worker/http_message.h"
#include "worker/http_parser_glue.h"

namespace valved::worker {

struct RequestLimits {
  size_t request_line = 8190;   ///< method, target and version -> 414
  size_t fields = 100;          ///< header fields -> 431
  size_t headers_size = 32768;  ///< header section bytes -> 431
  uint64_t max_body = 0;        ///< body bytes, 0 = unlimited -> 413

  static RequestLimits FromConfig(const Config& config);
};

/// Why a request is refused: the status to answer and a short explanation.
struct RequestError {
  int status = 400;
  std::string detail;
};

class RequestParser {
 public:
  enum class Result {
    kNeedMore,         ///< everything consumed; the current message is not complete
    kHeadComplete,     ///< head() is complete and accepted; paused until Resume()
    kMessageComplete,  ///< the body ended; paused until Resume()
    kError,            ///< error() says what; the connection cannot be reused
  };
  using BodyHandler = std::function<void(std::string_view data)>;

  explicit RequestParser(RequestLimits limits);
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  void SetBodyHandler(BodyHandler handler) { on_body_ = std::move(handler); }

  /// Parses from `data`; *consumed is how many bytes were used. The rest
  /// belongs to a later call (after Resume() when paused).
  Result Feed(std::string_view data, size_t* consumed);
  /// Continues after kHeadComplete or kMessageComplete.
  void Resume();

  /// True between the first byte of a request and the end of its body.
  bool in_message() const { return in_message_; }
  bool head_complete() const { return head_complete_; }
  const RequestHead& head() const { return head_; }
  const RequestError& error() const { return error_; }
  uint64_t body_bytes() const { return body_bytes_; }

 private:
  template <typename Parser>
  friend http_parser_settings SettingsFor(http_data_cb http_parser_settings::*, http_data_cb);
  static int OnMessageBegin(http_parser* p);
  static int OnUrl(http_parser* p, const char* at, size_t len);
  static int OnHeaderField(http_parser* p, const char* at, size_t len);
  static int OnHeaderValue(http_parser* p, const char* at, size_t len);
  static int OnHeadersComplete(http_parser* p);
  static int OnBody(http_parser* p, const char* at, size_t len);
  static int OnMessageComplete(http_parser* p);

  static const http_parser_settings& Settings();
  int Fail(int status, std::string detail);
  bool Refuse(int status, std::string detail);
  bool CountHeaderBytes(size_t len);
  bool ScanFraming(std::string_view bytes);
  bool ScanUpTo(const char* at);
  void FinishHead();
  bool CheckHead();
  bool CheckTarget();
  bool CheckFields();
  bool CheckExpect();
  bool CheckFraming();
  Result ParserError();

  RequestLimits limits_;
  http_parser parser_;
  BodyHandler on_body_;
  RequestHead head_;
  RequestError error_;
  bool failed_ = false;
  bool in_message_ = false;
  bool head_complete_ = false;
  bool value_last_ = false;  // the previous callback was a header value
  // The framing scan (ScanFraming): the data of the Feed() in progress, how
  // much of it has been scanned or passed on as body, and the last framing
  // byte seen, which carries a CR or LF across reads.
  std::string_view feed_;
  size_t scanned_ = 0;
  char previous_ = '\0';
  size_t fields_ = 0;  // of the head, then of the trailers
  size_t header_bytes_ = 0;
  uint64_t body_bytes_ = 0;
  Result paused_at_ = Result::kNeedMore;
};

}  // namespace valved::worker
