#include "common/ipc_protocol.h"

#include <algorithm>
#include <optional>
#include <vector>

#include "common/parse_text.h"

namespace valved::ipc {
namespace {

constexpr const char* kDenyReasons[] = {"queue_full", "queue_timeout", "shutting_down",
                                        "no_children"};
constexpr const char* kOutcomes[] = {"ok", "broken", "timed_out"};

std::vector<std::string_view> Split(std::string_view line, size_t max_tokens) {
  std::vector<std::string_view> tokens;
  while (!line.empty() && tokens.size() + 1 < max_tokens) {
    size_t space = line.find(' ');
    tokens.push_back(line.substr(0, space));
    if (space == std::string_view::npos) return tokens;
    line.remove_prefix(space + 1);
  }
  if (!line.empty()) tokens.push_back(line);  // the rest of the line, spaces included
  return tokens;
}

bool ParseId(std::string_view s, uint64_t* out) {
  std::optional<uint64_t> id = ParseNumber<uint64_t>(s);
  if (id) *out = *id;
  return id.has_value();
}

template <typename Enum, size_t N>
bool ParseEnum(std::string_view s, const char* const (&names)[N], Enum* out) {
  for (size_t i = 0; i < N; ++i) {
    if (s == names[i]) {
      *out = static_cast<Enum>(i);
      return true;
    }
  }
  return false;
}

struct Formatter {
  std::string operator()(const Hello& m) const {
    return "HELLO " + std::to_string(m.version) + " " + std::to_string(m.worker_id) + " " +
           std::to_string(m.pid);
  }
  std::string operator()(const Welcome& m) const { return "WELCOME " + std::to_string(m.version); }
  std::string operator()(const Acquire& m) const {
    std::string line = "ACQUIRE " + std::to_string(m.req);
    if (m.waited_us > 0) line += " " + std::to_string(m.waited_us);
    return line;
  }
  std::string operator()(const Grant& m) const {
    return "GRANT " + std::to_string(m.req) + " " + std::to_string(m.child_id) + " " +
           m.socket_path;
  }
  std::string operator()(const Deny& m) const {
    return "DENY " + std::to_string(m.req) + " " + ToString(m.reason);
  }
  std::string operator()(const Release& m) const {
    return "RELEASE " + std::to_string(m.req) + " " + std::to_string(m.child_id) + " " +
           ToString(m.outcome);
  }
  std::string operator()(const Cancel& m) const { return "CANCEL " + std::to_string(m.req); }
  std::string operator()(const Transfer& m) const {
    return "TRANSFER " + std::to_string(m.from_req) + " " + std::to_string(m.to_req) + " " +
           std::to_string(m.child_id);
  }
  std::string operator()(const Handed& m) const {
    return "HANDED " + std::to_string(m.child_id) + " " + std::to_string(m.count) + " " +
           std::to_string(m.waited);
  }
  std::string operator()(const Flush&) const { return "FLUSH"; }
  std::string operator()(const Quit&) const { return "QUIT"; }
  std::string operator()(const Terminate&) const { return "TERMINATE"; }
  std::string operator()(const Reopen&) const { return "REOPEN"; }
  std::string operator()(const Stats& m) const {
    std::string line = "STATS " + m.family;
    for (uint64_t v : m.values) line += " " + std::to_string(v);
    return line;
  }
};

std::optional<Message> Fail(std::string* error, std::string what) {
  if (error) *error = std::move(what);
  return std::nullopt;
}

// Parses the tokens after the verb; `t` holds the verb at t[0].
std::optional<Message> ParseTokens(const std::vector<std::string_view>& t, std::string* error) {
  std::string_view verb = t[0];
  auto arity = [&](size_t n) { return t.size() == n + 1; };
  uint64_t a = 0, b = 0, c = 0;
  if (verb == "HELLO" && arity(3) && ParseId(t[1], &a) && ParseId(t[2], &b) && ParseId(t[3], &c))
    return Hello{static_cast<int>(a), b, c};
  if (verb == "WELCOME" && arity(1) && ParseId(t[1], &a)) return Welcome{static_cast<int>(a)};
  if (verb == "ACQUIRE" && arity(1) && ParseId(t[1], &a)) return Acquire{a};
  if (verb == "ACQUIRE" && arity(2) && ParseId(t[1], &a) && ParseId(t[2], &b)) return Acquire{a, b};
  if (verb == "HANDED" && arity(3) && ParseId(t[1], &a) && ParseId(t[2], &b) && ParseId(t[3], &c))
    return Handed{a, b, c};
  if (verb == "FLUSH" && arity(0)) return Flush{};
  if (verb == "GRANT" && arity(3) && ParseId(t[1], &a) && ParseId(t[2], &b))
    return Grant{a, b, std::string(t[3])};
  DenyReason reason;
  if (verb == "DENY" && arity(2) && ParseId(t[1], &a) && ParseEnum(t[2], kDenyReasons, &reason))
    return Deny{a, reason};
  Outcome outcome;
  if (verb == "RELEASE" && arity(3) && ParseId(t[1], &a) && ParseId(t[2], &b) &&
      ParseEnum(t[3], kOutcomes, &outcome))
    return Release{a, b, outcome};
  if (verb == "CANCEL" && arity(1) && ParseId(t[1], &a)) return Cancel{a};
  if (verb == "TRANSFER" && arity(3) && ParseId(t[1], &a) && ParseId(t[2], &b) && ParseId(t[3], &c))
    return Transfer{a, b, c};
  if (verb == "QUIT" && arity(0)) return Quit{};
  if (verb == "TERMINATE" && arity(0)) return Terminate{};
  if (verb == "REOPEN" && arity(0)) return Reopen{};
  return Fail(error, "malformed message: " + std::string(verb));
}

bool IsWord(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
  });
}

// STATS has any number of tokens: the family, then numbers.
std::optional<Message> ParseStats(std::string_view rest, std::string* error) {
  auto tokens = Split(rest, kMaxLineLength);
  Stats stats;
  if (tokens.empty() || !IsWord(tokens[0])) return Fail(error, "malformed message: STATS");
  stats.family = std::string(tokens[0]);
  for (size_t i = 1; i < tokens.size(); ++i) {
    uint64_t value = 0;
    if (!ParseId(tokens[i], &value)) return Fail(error, "malformed message: STATS");
    stats.values.push_back(value);
  }
  return stats;
}

}  // namespace

const char* ToString(DenyReason reason) { return kDenyReasons[static_cast<int>(reason)]; }
const char* ToString(Outcome outcome) { return kOutcomes[static_cast<int>(outcome)]; }

std::string FormatMessage(const Message& message) { return std::visit(Formatter{}, message); }

std::optional<Message> ParseMessage(std::string_view line, std::string* error) {
  if (line.size() > kMaxLineLength) return Fail(error, "line too long");
  if (line.empty()) return Fail(error, "empty line");
  if (line.substr(0, 6) == "STATS ") return ParseStats(line.substr(6), error);
  // GRANT's last token is a path and may hold spaces; every other verb has
  // only space-free tokens, so splitting into at most 4 tokens is exact.
  auto tokens = Split(line, 4);
  if (tokens[0] != "GRANT" && tokens.size() == 4 && tokens[3].find(' ') != std::string_view::npos)
    return Fail(error, "malformed message: too many tokens");
  return ParseTokens(tokens, error);
}

}  // namespace valved::ipc
