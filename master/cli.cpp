// Principle: the command line only records what was asked (a mode, a file,
// and (key, text) overrides in argv order); BuildConfig turns that into a
// Config in one fixed order (defaults, file, flags), so flags win over the
// file wherever they appear on the line. The flags for settings are generated
// from the settings table; only the mode flags are listed here.
#include "master/cli.h"

#include <Poco/Util/Application.h>
#include <Poco/Util/Option.h>
#include <Poco/Util/OptionException.h>
#include <Poco/Util/OptionProcessor.h>
#include <Poco/Util/OptionSet.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <set>
#include <sstream>
#include <thread>

#include "common/config_file.h"
#include "common/privileges.h"
#include "common/settings.h"
#include "master/signal_command.h"

namespace valved {
namespace {

using Mode = CommandLine::Mode;
using Poco::Util::Application;

/// A flag that is not a setting.
struct MetaFlag {
  const char* long_name;
  const char* short_name;
  const char* arg_name;  ///< "" when the flag takes no value
  const char* summary;
};

const MetaFlag kMetaFlags[] = {
    {"config", "c", "FILE", "read settings from FILE (YAML); without -c no file is read"},
    {"check-config", "t", "", "check the configuration and the API, then exit"},
    {"signal", "s", "COMMAND",
     "signal the running master (see pid_file): reload, stop, quit, reopen"},
    {"print-defaults", "", "", "print every setting with its default as YAML, then exit"},
    {"set", "", "KEY=VALUE", "set any setting by its YAML key (repeatable)"},
    {"help", "", "", "print this help, then exit"},
    {"version", "", "", "print the version, then exit"},
};

const std::pair<Mode, const char*> kModeFlags[] = {
    {Mode::kHelp, "help"},
    {Mode::kVersion, "version"},
    {Mode::kCheckConfig, "check-config"},
    {Mode::kPrintDefaults, "print-defaults"},
    {Mode::kSignal, "signal"},
};

Poco::Util::OptionSet MakeOptionSet() {
  Poco::Util::OptionSet options;
  for (const MetaFlag& flag : kMetaFlags) {
    Poco::Util::Option option(flag.long_name, flag.short_name);
    if (*flag.arg_name) option.argument(flag.arg_name);
    // -c or -s twice is almost certainly a mistake; the others are harmless.
    std::string name = flag.long_name;
    options.addOption(option.repeatable(name != "config" && name != "signal"));
  }
  for (const SettingInfo& setting : AllSettings()) {
    Poco::Util::Option option(LongFlagOf(setting.key).substr(2), std::string(setting.short_flag));
    // "--access-log" alone means true; other settings need a value.
    option.argument(std::string(setting.arg_name), setting.type != SettingType::kBool);
    options.addOption(option.repeatable(true));
  }
  return options;
}

std::vector<std::string> LongNames(const Poco::Util::OptionSet& options) {
  std::vector<std::string> names;
  for (const auto& option : options) names.push_back(option.fullName());
  return names;
}

std::string Suggestion(const std::string& name, const std::vector<std::string>& long_names) {
  std::string closest = ClosestWord(name, long_names);
  if (closest.empty()) {
    // An abbreviation (which Poco would have accepted): name the flag it
    // stands for, when there is only one.
    for (const std::string& candidate : long_names) {
      if (candidate.rfind(name, 0) != 0) continue;
      if (!closest.empty()) return "";
      closest = candidate;
    }
  }
  return closest.empty() ? "" : "; did you mean --" + closest + "?";
}

/// The flag part of an argument: "--n-max=3" -> "--n-max", "-n3" -> "-n".
std::string FlagWord(const std::string& arg) {
  if (arg.rfind("--", 0) == 0) return arg.substr(0, arg.find_first_of("=:"));
  return arg.substr(0, 2);
}

/// Poco matches long names by unique prefix and ignores case; valved wants
/// exact names, so that a flag added later cannot change what an existing
/// script means. Poco also reads "-help" as -h with value "elp"; catch that.
void RejectInexactName(const std::string& arg, const std::vector<std::string>& long_names) {
  bool is_long = arg.rfind("--", 0) == 0 && arg.size() > 2;
  bool is_short = !is_long && arg.size() > 2 && arg[0] == '-' && arg[1] != '-';
  if (!is_long && !is_short) return;
  std::string name = arg.substr(is_long ? 2 : 1);
  name = name.substr(0, name.find_first_of("=:"));
  bool known = std::find(long_names.begin(), long_names.end(), name) != long_names.end();
  if (is_long && !known) {
    throw UsageError("unknown option --" + name + Suggestion(name, long_names));
  }
  if (is_short && known)
    throw UsageError("unknown option " + arg + "; did you mean --" + name + "?");
}

UsageError Describe(const Poco::Util::OptionException& e, const std::string& arg,
                    const std::vector<std::string>& long_names) {
  if (dynamic_cast<const Poco::Util::UnknownOptionException*>(&e)) {
    std::string word = FlagWord(arg);
    return UsageError("unknown option " + word +
                      (word.size() > 2 ? Suggestion(word.substr(2), long_names) : ""));
  }
  if (dynamic_cast<const Poco::Util::MissingArgumentException*>(&e)) {
    // Poco's message is "<long name> requires <ARG>".
    std::string name = e.message().substr(0, e.message().find(' '));
    // "valved -h" alone is usually a request for help, but -h is Valve's --host.
    return UsageError("option --" + name + " needs a value" +
                      (name == "host" ? " (help is --help)" : ""));
  }
  if (dynamic_cast<const Poco::Util::UnexpectedArgumentException*>(&e)) {
    return UsageError("option " + FlagWord(arg) + " takes no value");
  }
  if (dynamic_cast<const Poco::Util::DuplicateOptionException*>(&e)) {
    return UsageError("option --" + e.message() + " may be given only once");
  }
  return UsageError(arg + ": " + e.displayText());
}

void SetMode(CommandLine& cl, Mode mode) {
  auto flag_of = [](Mode m) {
    for (const auto& [each, name] : kModeFlags) {
      if (each == m) return std::string("--") + name;
    }
    return std::string();
  };
  if (cl.mode != Mode::kRun && cl.mode != mode) {
    throw UsageError(flag_of(cl.mode) + " and " + flag_of(mode) + " cannot be combined");
  }
  cl.mode = mode;
}

void SetSignal(CommandLine& cl, const std::string& command) {
  if (!master::SignalOfCommand(command)) {
    throw UsageError("option -s expects " + master::SignalCommandNames() + ", got \"" + command +
                     "\"");
  }
  SetMode(cl, Mode::kSignal);
  cl.signal_command = command;
}

void AddSet(CommandLine& cl, const std::string& value) {
  size_t equals = value.find('=');
  if (equals == std::string::npos || equals == 0) {
    throw UsageError("option --set expects KEY=VALUE, got \"" + value + "\"");
  }
  std::string key = value.substr(0, equals);
  if (!FindSetting(key)) {
    std::string closest = ClosestSettingKey(key);
    throw UsageError("option --set: unknown setting \"" + key + "\"" +
                     (closest.empty() ? "" : "; did you mean \"" + closest + "\"?"));
  }
  cl.overrides.emplace_back(key, value.substr(equals + 1));
  cl.override_flags.push_back("--set " + key);
}

void AddSettingFlag(CommandLine& cl, const std::string& name, std::string value) {
  std::string key = name;
  std::replace(key.begin(), key.end(), '-', '_');
  const SettingInfo* setting = FindSetting(key);
  if (setting && setting->type == SettingType::kBool && value.empty()) value = "true";
  cl.overrides.emplace_back(key, std::move(value));
  cl.override_flags.push_back("--" + name);
}

/// Records one recognised option; `name` is Poco's full name.
void Record(CommandLine& cl, const std::string& name, const std::string& value) {
  if (name == "signal") return SetSignal(cl, value);
  for (const auto& [mode, flag] : kModeFlags) {
    if (name == flag) return SetMode(cl, mode);
  }
  if (name == "config") {
    if (value.empty()) throw UsageError("option --config needs a file name");
    cl.config_path = value;
  } else if (name == "set") {
    AddSet(cl, value);
  } else {
    AddSettingFlag(cl, name, value);
  }
}

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

bool IsExecutableFile(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

void CheckRscript(const std::string& rscript) {
  if (rscript.find('/') != std::string::npos) {
    if (!IsExecutableFile(rscript)) {
      throw ConfigError("rscript: " + rscript + " is not an executable file");
    }
    return;
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path ? path : "/usr/bin:/bin";
  std::istringstream in(dirs);
  for (std::string dir; std::getline(in, dir, ':');) {
    if (IsExecutableFile((dir.empty() ? "." : dir) + "/" + rscript)) return;
  }
  throw ConfigError("rscript: cannot find \"" + rscript + "\" in PATH (" + dirs + ")");
}

bool HasApiEntryFile(const std::filesystem::path& dir) {
  // plumber::plumb(dir=) looks for entrypoint.R, then plumber.R, ignoring case.
  std::error_code ec;
  for (const auto& item : std::filesystem::directory_iterator(dir, ec)) {
    std::string name = item.path().filename().string();
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (name == "entrypoint.r" || name == "plumber.r") return true;
  }
  return false;
}

void CheckApiFile(const std::string& file) {
  std::error_code ec;
  auto status = std::filesystem::status(file, ec);
  if (ec) throw ConfigError("file: cannot use the API " + file + ": " + ec.message());
  if (std::filesystem::is_directory(status)) {
    if (!HasApiEntryFile(file)) {
      throw ConfigError("file: " + file + " is a directory without entrypoint.R or plumber.R");
    }
    return;
  }
  if (::access(file.c_str(), R_OK) != 0) {
    throw ConfigError("file: cannot read the API " + file + ": " + std::strerror(errno));
  }
}

std::string Wrap(std::string_view text, size_t width, const std::string& prefix) {
  std::string out;
  std::string line;
  std::istringstream words{std::string(text)};
  for (std::string word; words >> word;) {
    if (!line.empty() && prefix.size() + line.size() + 1 + word.size() > width) {
      out += prefix + line + "\n";
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) out += prefix + line + "\n";
  return out;
}

/// One help line: flags padded to a column, then the summary; a flag part
/// too long for the column gets the summary on the next line (as GNU does).
std::string HelpLine(const std::string& short_flag, const std::string& long_flag,
                     const std::string& summary) {
  constexpr size_t kColumn = 32;
  std::string flags = "  " + (short_flag.empty() ? "    " : "-" + short_flag + ", ") + long_flag;
  if (flags.size() + 2 > kColumn) return flags + "\n" + std::string(kColumn, ' ') + summary + "\n";
  return flags + std::string(kColumn - flags.size(), ' ') + summary + "\n";
}

std::string SettingHelpLine(const SettingInfo& setting, const Config& defaults) {
  std::string long_flag = LongFlagOf(setting.key);
  long_flag += setting.type == SettingType::kBool ? "[=" + std::string(setting.arg_name) + "]"
                                                  : " " + std::string(setting.arg_name);
  std::string summary(setting.summary);
  std::string value = SettingText(defaults, setting.key);
  if (!value.empty()) summary += " [" + value + "]";
  return HelpLine(std::string(setting.short_flag), long_flag, summary);
}

std::string YamlQuoted(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

std::string YamlValue(const SettingInfo& setting, const std::string& text) {
  return setting.type == SettingType::kString ? YamlQuoted(text) : text;
}

int CheckConfiguration(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  try {
    Config config = BuildConfig(cl);
    CheckPaths(config);
    CheckRunAs(config);
  } catch (const ConfigError& e) {
    err << "valved: " << e.what() << "\n";
    return Application::EXIT_CONFIG;
  }
  if (cl.config_path.empty()) {
    out << "configuration (defaults and command line) is ok\n";
  } else {
    out << "configuration file " << cl.config_path << " is ok\n";
  }
  return Application::EXIT_OK;
}

int SignalMaster(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  Config config;
  try {
    config = BuildConfig(cl);
  } catch (const ConfigError& e) {
    err << "valved: " << e.what() << "\n";
    return Application::EXIT_CONFIG;
  }
  return master::SendSignalCommand(cl.signal_command, config.pid_file, out, err);
}

}  // namespace

CommandLine ParseCommandLine(int argc, char** argv) {
  Poco::Util::OptionSet options = MakeOptionSet();
  std::vector<std::string> long_names = LongNames(options);
  Poco::Util::OptionProcessor processor(options);
  processor.setUnixStyle(true);
  CommandLine cl;
  // After "-n" or "--n-max" without a value, Poco takes the next argument
  // as the value (name comes back empty); it must not be read as a flag.
  bool value_pending = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (!value_pending) RejectInexactName(arg, long_names);
    std::string name;
    std::string value;
    try {
      if (!processor.process(arg, name, value)) {
        throw UsageError("unexpected argument \"" + arg + "\" (valved takes no operands)");
      }
    } catch (const Poco::Util::OptionException& e) {
      throw Describe(e, arg, long_names);
    }
    value_pending = name.empty();
    if (!name.empty()) Record(cl, name, value);
  }
  try {
    processor.checkRequired();  // reports a trailing "-n" that never got its value
  } catch (const Poco::Util::OptionException& e) {
    throw Describe(e, argc > 1 ? argv[argc - 1] : "", long_names);
  }
  return cl;
}

Config BuildConfig(const CommandLine& cl) {
  Config config;
  SettingOrigins origins;
  if (!cl.config_path.empty()) LoadConfigFile(cl.config_path, config, &origins);
  for (auto& [key, where] : origins) where = "at " + where;
  ApplyOverrides(cl, config, origins);
  CheckRules(config, origins);
  if (config.workers == 0) config.workers = CpuCount();
  // Measured on 2 cores (bench/demo.sh): R's start-up is CPU-bound, so more
  // simultaneous starts than cores only slow each other down.
  if (config.max_spawning == 0) config.max_spawning = CpuCount();
  return config;
}

void CheckPaths(const Config& config) {
  CheckApiFile(config.file);
  CheckRscript(config.rscript);
}

std::optional<Identity> CheckRunAs(const Config& config) {
  std::optional<Identity> identity = ChildIdentity(config, geteuid());
  if (!identity) return identity;
  std::error_code ec;
  std::string api = std::filesystem::absolute(config.file, ec).string();
  // R fails late and obscurely on an API it cannot read; say so at start.
  std::string blocker = FindAccessBlocker(api, *identity, true);
  if (!blocker.empty()) {
    throw ConfigError("file: user " + identity->user + " (setting user) cannot read " + api + ": " +
                      blocker + " is in the way");
  }
  // As master/runtime_dir.cpp decides at start, so that -t sees it too.
  if (!config.runtime_dir.empty()) {
    blocker = FindAccessBlocker(config.runtime_dir, *identity, false);
    if (!blocker.empty()) {
      throw ConfigError("runtime_dir: user " + identity->user + " cannot reach " +
                        config.runtime_dir + ": " + blocker + " is in the way");
    }
  }
  return identity;
}

std::string HelpText() {
  std::string text =
      "Usage: valved [OPTION]...\n"
      "       valved -s reload|stop|quit|reopen [-c FILE] [--pid-file FILE]\n"
      "Serve an R plumber API from a pool of R processes behind one port.\n\nOptions:\n";
  for (const MetaFlag& flag : kMetaFlags) {
    std::string long_flag = std::string("--") + flag.long_name;
    if (*flag.arg_name) long_flag += std::string(" ") + flag.arg_name;
    text += HelpLine(flag.short_name, long_flag, flag.summary);
  }
  text += "\nSettings (flags override the -c file wherever they appear; defaults in []):\n";
  const Config defaults;
  for (const SettingInfo& setting : AllSettings()) text += SettingHelpLine(setting, defaults);
  text +=
      "\nDurations are seconds, or a whole number with ms, s, m, h or d (250ms, 30s, 5m).\n"
      "Sizes are bytes, or a whole number with k, m or g (512k, 10m, 1g).\n"
      "\nSignals: TERM stops gracefully (in-flight requests finish); INT and QUIT stop\n"
      "at once; HUP reloads the configuration; USR1 reopens the log file. With pid_file\n"
      "set, -s sends them: stop (TERM), quit (QUIT), reload (HUP), reopen (USR1).\n"
      "\nExit status: 0 success; 1 -s could not signal the master; 64 bad command line;\n"
      "78 bad configuration, unusable listen address, API not found or valved already\n"
      "running; 70 internal error; 71 operating system error.\n"
      "\nSee valved(8) and valve.yaml(5).\n";
  return text;
}

std::string VersionText() { return std::string("valved ") + VALVED_VERSION; }

std::string DefaultsYaml() {
  std::string text =
      "# valved configuration: every setting with its default value\n"
      "# (written by valved --print-defaults; see valve.yaml(5)).\n"
      "# Durations are seconds, or a whole number with ms, s, m, h or d (30s, 5m).\n"
      "# Sizes are bytes, or a whole number with k, m or g (512k, 10m, 1g).\n";
  const Config defaults;
  std::string_view section;
  for (const SettingInfo& setting : AllSettings()) {
    if (setting.section != section) {
      section = setting.section;
      text += "\n# ---- " + std::string(section) + "\n";
    }
    text += "\n" + Wrap(setting.doc, 78, "# ");
    text += std::string(setting.key) + ": " +
            YamlValue(setting, SettingText(defaults, setting.key)) + "\n";
  }
  return text;
}

int RunInfoMode(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  switch (cl.mode) {
    case Mode::kHelp:
      out << HelpText();
      return Application::EXIT_OK;
    case Mode::kVersion:
      out << VersionText() << "\n";
      return Application::EXIT_OK;
    case Mode::kPrintDefaults:
      out << DefaultsYaml();
      return Application::EXIT_OK;
    case Mode::kCheckConfig:
      return CheckConfiguration(cl, out, err);
    case Mode::kSignal:
      return SignalMaster(cl, out, err);
    case Mode::kRun:
      break;
  }
  err << "valved: internal error: RunInfoMode called to run the server\n";
  return Application::EXIT_SOFTWARE;
}

}  // namespace valved
