#include "master/build_config.h"

#include "common/config_file.h"
#include "common/cpu_count.h"
#include "common/settings.h"

namespace valved::master {
namespace {

void ApplyOverrides(const CommandLine& cl, Config& config, SettingOrigins& origins) {
  for (size_t i = 0; i < cl.overrides.size(); ++i) {
    const auto& [key, value] = cl.overrides[i];
    std::string flag = i < cl.override_flags.size() ? cl.override_flags[i] : LongFlagOf(key);
    try {
      ApplySetting(config, key, value);
    } catch (const SettingError& e) {
      throw ConfigError(flag + ": " + e.problem());
    }
    origins[key] = "by " + flag;
  }
}

/// Cross-field rules, with where each involved value came from: with a file
/// and flags mixed, "n_min > n_max" alone would leave the user searching.
void CheckRules(const Config& config, const SettingOrigins& origins) {
  auto violation = FindRuleViolation(config);
  if (!violation) return;
  std::string sources;
  for (const std::string& key : violation->keys) {
    auto origin = origins.find(key);
    sources += sources.empty() ? " (" : ", ";
    sources += key + (origin == origins.end() ? " is the default" : " set " + origin->second);
  }
  throw ConfigError(violation->message + sources + ")");
}

}  // namespace

Config BuildConfig(const CommandLine& cl) {
  Config config;
  SettingOrigins origins;
  if (!cl.config_path.empty()) LoadConfigFile(cl.config_path, config, &origins);
  for (auto& [key, where] : origins) where = "at " + where;
  ApplyOverrides(cl, config, origins);
  CheckRules(config, origins);
  if (config.workers == 0) config.workers = UsableCpuCount();
  // max_spawning 0 stays: the pool resolves it by spawn method (ChildPool::MaxSpawning).
  return config;
}

}  // namespace valved::master
