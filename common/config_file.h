// Loading a YAML configuration file (/etc/valve.yaml) into a Config. The file
// is a flat mapping of setting keys (common/settings.h) to scalar values.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "common/config.h"

namespace valved {

/// Where each setting of a loaded file was set: key -> "path:line:col".
using SettingOrigins = std::map<std::string, std::string>;

/// Reads `path` and applies each of its keys to `config` through
/// ApplySetting; keys the file does not mention keep their value. An empty
/// file (or one holding only comments) is a valid empty configuration.
/// Cross-field rules are not checked here (see Validate), because flags may
/// still change the values.
///
/// Throws ConfigError, whose message always names the file and, when the
/// problem is inside it, the 1-based line and column and the key:
///   "cannot read /etc/valve.yaml: No such file or directory"
///   "/etc/valve.yaml:4:1: unknown setting \"n_maxx\"; did you mean \"n_max\"?"
///   "/etc/valve.yaml:12:8: n_max: expected a positive integer, got \"four\""
/// `config` may be partly updated when it throws. When `origins` is given,
/// it receives the location of every key applied.
void LoadConfigFile(const std::string& path, Config& config, SettingOrigins* origins = nullptr);

/// LoadConfigFile on text already in memory; `name` stands for the file
/// name in messages and origins.
void LoadConfigText(std::string_view text, const std::string& name, Config& config,
                    SettingOrigins* origins = nullptr);

}  // namespace valved
