// The single table of settings: key, type, default, validator and doc. It
// drives YAML parsing, command-line overrides, --print-defaults, the options
// passed to workers, and the test that keeps etc/valve.yaml and
// man/valve.yaml.5 complete.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/config.h"

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

}  // namespace valved
