// Incremental parser for a child's response: Node's http_parser
// (HTTP_RESPONSE). Feed() stops after each head and after each complete
// message, like RequestParser, so the caller writes the head to the client
// before any body byte. Body bytes go to the body handler, de-chunked.
//
// A 1xx interim response (100 Continue) is a complete message of its own;
// the final response follows it on the same connection.
#pragma once

#include <http_parser.h>

#include <functional>
#include <string>
#include <string_view>

#include "worker/http_message.h"
#include "worker/http_parser_glue.h"

namespace valved::worker {

class ResponseParser {
 public:
  enum class Result {
    kNeedMore,         ///< everything consumed; the response is not complete
    kHeadComplete,     ///< head() is ready; paused until Resume()
    kMessageComplete,  ///< the response ended; paused until Resume()
    kError,            ///< error() says what
  };
  using BodyHandler = std::function<void(std::string_view data)>;

  /// `head_request`: the request was HEAD, so no body follows whatever the
  /// headers announce.
  explicit ResponseParser(bool head_request);
  ResponseParser(const ResponseParser&) = delete;
  ResponseParser& operator=(const ResponseParser&) = delete;

  void SetBodyHandler(BodyHandler handler) { on_body_ = std::move(handler); }
  Result Feed(std::string_view data, size_t* consumed);
  /// The child closed its end: completes a body delimited by the close,
  /// otherwise the response was cut short (kError).
  Result FeedEof();
  void Resume();

  /// After kHeadComplete of a response framed by a Content-Length: the body
  /// bytes still to come. The caller may take them from its buffer itself
  /// (moving them on instead of copying) and report them with SkipBody()
  /// instead of Feed(). 0 otherwise.
  uint64_t body_left() const { return head_end_pending_ ? 0 : body_left_; }
  /// After kHeadComplete: http_parser, paused in its headers-complete
  /// callback, has left the head's final LF unconsumed. Feeding just that one
  /// byte ends the head without touching the body (then body_left() counts).
  bool head_end_pending() const { return head_end_pending_; }
  /// `n` (at most body_left()) body bytes taken without Feed():
  /// kMessageComplete once the body is complete, else kNeedMore.
  Result SkipBody(uint64_t n);

  bool started() const { return started_; }
  /// After kMessageComplete: the child lets the connection carry another
  /// request (HTTP/1.1 without Connection: close, a body not ended by the
  /// close) and sent no interim response before this one.
  bool keeps_connection() const { return keeps_connection_ && !saw_interim_; }
  const ResponseHead& head() const { return head_; }
  const std::string& error() const { return error_; }

 private:
  template <typename Parser>
  friend http_parser_settings SettingsFor(http_data_cb http_parser_settings::*, http_data_cb);
  static const http_parser_settings& Settings();
  static int OnMessageBegin(http_parser* p);
  static int OnStatus(http_parser* p, const char* at, size_t len);
  static int OnHeaderField(http_parser* p, const char* at, size_t len);
  static int OnHeaderValue(http_parser* p, const char* at, size_t len);
  static int OnHeadersComplete(http_parser* p);
  static int OnBody(http_parser* p, const char* at, size_t len);
  static int OnMessageComplete(http_parser* p);

  Result Stopped();

  bool head_request_;
  http_parser parser_;
  BodyHandler on_body_;
  ResponseHead head_;
  std::string error_;
  bool started_ = false;  // some byte of a response was parsed
  bool keeps_connection_ = false;
  uint64_t body_left_ = 0;         // see body_left()
  bool head_end_pending_ = false;  // see head_end_pending()
  bool saw_interim_ = false;       // a 1xx came before the final response
  bool value_last_ = false;
  Result paused_at_ = Result::kNeedMore;
};

}  // namespace valved::worker
