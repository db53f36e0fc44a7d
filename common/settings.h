// The single table of settings: key, type, default, validator and doc. It
// drives YAML parsing, command-line overrides, --print-defaults, the options
// passed to workers, and the test that keeps etc/valve.yaml and
// man/valve.yaml.5 complete.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/log.h"

namespace valved {

/// Applies one setting given as text (a YAML scalar, a flag's argument or a
/// worker's --set). Throws ConfigError("<key>: <what is wrong>") on an
/// unknown key or a bad value; callers prefix file:line:col.
void ApplySetting(Config& config, std::string_view key, std::string_view value);

/// Every setting of `config` as (key, text) such that ApplySetting on a
/// default Config reproduces `config` exactly.
std::vector<std::pair<std::string, std::string>> SettingsOf(const Config& config);

/// Cross-field rules (n_min <= n_max, ...). Throws ConfigError naming the key.
void Validate(const Config& config);

/// config.log_level as a LogLevel (Validate accepts only names that parse;
/// notice otherwise). The one reader of that string.
LogLevel LogLevelOf(const Config& config);

/// How a setting's text is read.
enum class SettingType {
  kString,    ///< any text without control characters (some settings: non-empty)
  kInt,       ///< a decimal integer within the setting's range
  kBool,      ///< true or false
  kDuration,  ///< seconds, or a whole number with ms, s, m, h or d ("250ms", "5m")
  kSize,      ///< bytes, or a whole number with k, m or g (binary multiples: "512k")
  kLogLevel,  ///< error, warn, notice, info or debug
};

/// A setting as users see it, in the order of the table (grouped by section).
struct SettingInfo {
  std::string_view key;         ///< YAML key, equal to the Config field name ("n_max")
  SettingType type;             ///< how the value is parsed
  std::string_view short_flag;  ///< "n" for -n; "" when the setting has no short flag
  std::string_view arg_name;    ///< placeholder in --help ("N", "HOST", "DURATION")
  std::string_view section;     ///< heading the setting is listed under ("Listening")
  std::string_view summary;     ///< one short line for --help
  std::string_view doc;         ///< one paragraph for etc/valve.yaml and man/valve.yaml.5
};

/// The whole table, in documentation order.
const std::vector<SettingInfo>& AllSettings();

/// The setting named `key`, or nullptr.
const SettingInfo* FindSetting(std::string_view key);

/// The long command-line flag of a setting: "n_max" -> "--n-max".
std::string LongFlagOf(std::string_view key);

/// A word for the type, for docs: "integer", "duration", "size", ...
std::string_view TypeName(SettingType type);

/// The known key nearest to a misspelt one (edit distance), or "" when
/// nothing is close enough to be a useful suggestion. Dashes count as
/// underscores, so "n-max" finds "n_max".
std::string ClosestSettingKey(std::string_view unknown);

/// The candidate nearest to `word` within two edits (a swap of neighbours
/// counts as one), or "" when none is close enough to suggest.
std::string ClosestWord(std::string_view word, const std::vector<std::string>& candidates);

/// `config`'s value of one setting as text (as in SettingsOf); "" for an
/// unknown key.
std::string SettingText(const Config& config, std::string_view key);

/// A bad value for a known setting, or an unknown key. what() is
/// "<key>: <problem>"; problem() lets callers name a flag instead of the key.
class SettingError : public ConfigError {
 public:
  SettingError(std::string key, std::string problem)
      : ConfigError(key + ": " + problem), key_(std::move(key)), problem_(std::move(problem)) {}
  const std::string& key() const { return key_; }
  const std::string& problem() const { return problem_; }

 private:
  std::string key_;
  std::string problem_;
};

/// One broken cross-field rule: the keys involved (so that callers can say
/// where each was set) and the message, which names them.
struct RuleViolation {
  std::vector<std::string> keys;  ///< settings the rule relates, e.g. {"n_min", "n_max"}
  std::string message;            ///< "n_min (5) must not be greater than n_max (3)"
};

/// The first cross-field rule `config` breaks, if any. Validate() throws it.
std::optional<RuleViolation> FindRuleViolation(const Config& config);

/// Durations and sizes as text, as SettingsOf writes them: "5m", "250ms",
/// "0s"; "512k", "0". Parse* return nullopt on bad text (no unit means seconds
/// or bytes) and never overflow.
std::string FormatDuration(Duration d);
std::string FormatSize(int64_t bytes);
std::optional<Duration> ParseDuration(std::string_view text);
std::optional<int64_t> ParseSize(std::string_view text);

}  // namespace valved
