#include "master/build_config.h"

#include <sched.h>

#include <algorithm>
#include <thread>

#include "common/config_file.h"
#include "common/settings.h"

namespace valved::master {
namespace {

int CpuCount() {
  // The affinity mask, not the machine's core count: under taskset or a
  // container's cpuset, more workers than usable CPUs only add contention.
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

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

int DefaultWorkers(int cpus) { return std::max(1, cpus / kCpusPerWorker); }

Config BuildConfig(const CommandLine& cl) {
  Config config;
  SettingOrigins origins;
  if (!cl.config_path.empty()) LoadConfigFile(cl.config_path, config, &origins);
  for (auto& [key, where] : origins) where = "at " + where;
  ApplyOverrides(cl, config, origins);
  CheckRules(config, origins);
  if (config.workers == 0) config.workers = DefaultWorkers(CpuCount());
  // Measured on 2 cores (bench/demo.sh): R's start-up is CPU-bound, so more
  // simultaneous starts than cores only slow each other down.
  if (config.max_spawning == 0) config.max_spawning = CpuCount();
  return config;
}

}  // namespace valved::master
