// What RequestParser and ResponseParser do alike around Node's http_parser:
// the callbacks table, the parser object behind a callback, and pausing after
// a head or a whole message, so that the caller acts on it before the next
// byte is parsed (Feed() then reports where it paused).
#pragma once

#include <http_parser.h>

#include <optional>
#include <utility>

namespace valved::worker {

/// One parser class's callbacks; those left out stay null.
struct ParserCallbacks {
  http_cb on_message_begin = nullptr;
  http_data_cb on_url = nullptr;     ///< requests only
  http_data_cb on_status = nullptr;  ///< responses only
  http_data_cb on_header_field = nullptr;
  http_data_cb on_header_value = nullptr;
  http_cb on_headers_complete = nullptr;
  http_data_cb on_body = nullptr;
  http_cb on_message_complete = nullptr;
};

inline http_parser_settings ParserSettings(const ParserCallbacks& callbacks) {
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_message_begin = callbacks.on_message_begin;
  settings.on_url = callbacks.on_url;
  settings.on_status = callbacks.on_status;
  settings.on_header_field = callbacks.on_header_field;
  settings.on_header_value = callbacks.on_header_value;
  settings.on_headers_complete = callbacks.on_headers_complete;
  settings.on_body = callbacks.on_body;
  settings.on_message_complete = callbacks.on_message_complete;
  return settings;
}

/// The object a callback belongs to (set as p->data at construction).
template <typename Parser>
Parser* ParserOf(http_parser* p) {
  return static_cast<Parser*>(p->data);
}

/// Pauses http_parser_execute() after the current callback and records why.
/// Returns 0, for the callback to return.
template <typename Result>
int PauseAt(http_parser* p, Result* paused_at, Result why) {
  *paused_at = why;
  http_parser_pause(p, 1);
  return 0;
}

/// Once http_parser_execute() returned: where it paused (reset for the next
/// call), Result::kNeedMore when it used all its input, nullopt on an error.
template <typename Result>
std::optional<Result> StoppedAt(http_parser* p, Result* paused_at) {
  http_errno err = HTTP_PARSER_ERRNO(p);
  if (err == HPE_PAUSED) return std::exchange(*paused_at, Result::kNeedMore);
  if (err == HPE_OK) return Result::kNeedMore;
  return std::nullopt;
}

}  // namespace valved::worker
