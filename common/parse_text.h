// Small pieces of text both processes read: whole numbers (settings, ids in
// IPC messages, pid files, uids, worker arguments) and KEY=VALUE pairs
// (--set on the command line and on a worker's).
#pragma once

#include <charconv>
#include <optional>
#include <string_view>
#include <utility>

namespace valved {

/// All of `text` as a decimal T: nullopt when it is empty, holds anything but
/// digits (and a leading '-' for a signed T; never '+' or spaces), or does
/// not fit in T.
template <typename T>
std::optional<T> ParseNumber(std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

/// "key=value" as (key, value); the value may be empty or hold '='.
/// nullopt when there is no '=' or the key is empty.
inline std::optional<std::pair<std::string_view, std::string_view>> SplitKeyValue(
    std::string_view text) {
  size_t equals = text.find('=');
  if (equals == std::string_view::npos || equals == 0) return std::nullopt;
  return std::pair{text.substr(0, equals), text.substr(equals + 1)};
}

}  // namespace valved
