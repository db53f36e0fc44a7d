// What RequestParser and ResponseParser do alike around Node's http_parser:
// the callbacks table, the parser object behind a callback, and pausing after
// a head or a whole message, so that the caller acts on it before the next
// byte is parsed (Feed() then reports where it paused).
#pragma once

#include <http_parser.h>

#include <optional>
#include <utility>

namespace valved::worker {

/// The callbacks table of `Parser` (a friend): its static OnMessageBegin,
/// OnHeaderField, OnHeaderValue, OnHeadersComplete, OnBody and
/// OnMessageComplete, plus `on_first_line` in `slot` (on_url for requests,
/// on_status for responses).
template <typename Parser>
http_parser_settings SettingsFor(http_data_cb http_parser_settings::*slot,
                                 http_data_cb on_first_line) {
  http_parser_settings settings;
  http_parser_settings_init(&settings);
  settings.on_message_begin = Parser::OnMessageBegin;
  settings.*slot = on_first_line;
  settings.on_header_field = Parser::OnHeaderField;
  settings.on_header_value = Parser::OnHeaderValue;
  settings.on_headers_complete = Parser::OnHeadersComplete;
  settings.on_body = Parser::OnBody;
  settings.on_message_complete = Parser::OnMessageComplete;
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
