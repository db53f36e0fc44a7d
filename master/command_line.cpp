// Principle: the command line only records what was asked (a mode, a file,
// and (key, text) overrides in argv order); BuildConfig (master/build_config.h)
// turns that into a Config in one fixed order (defaults, file, flags), so
// flags win over the file wherever they appear on the line. The flags for
// settings are generated from the settings table; only the mode flags are
// listed here.
#include "master/command_line.h"

#include <Poco/Util/Option.h>
#include <Poco/Util/OptionException.h>
#include <Poco/Util/OptionProcessor.h>
#include <Poco/Util/OptionSet.h>

#include <algorithm>

#include "common/parse_text.h"
#include "common/settings.h"
#include "master/signal_command.h"

namespace valved::master {
namespace {

using Mode = CommandLine::Mode;

const MetaFlag kMetaFlags[] = {
    {"config", "c", "FILE", "read settings from FILE (YAML); without -c no file is read"},
    {"check-config", "t", "", "check the configuration, load the API once in R, then exit"},
    {"no-load", "", "", "with -t: do not load the API in R (check the files only)"},
    {"signal", "s", "COMMAND", "reload, stop, quit, reopen (via pid_file) or status"},
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
  if (command != "status" && !SignalOfCommand(command))
    throw UsageError("option -s expects reload, stop, quit, reopen or status, got \"" + command +
                     "\"");
  SetMode(cl, Mode::kSignal);
  cl.signal_command = command;
}

void AddSet(CommandLine& cl, const std::string& value) {
  auto key_value = SplitKeyValue(value);
  if (!key_value) throw UsageError("option --set expects KEY=VALUE, got \"" + value + "\"");
  std::string key(key_value->first);
  if (!FindSetting(key)) {
    std::string closest = ClosestSettingKey(key);
    throw UsageError("option --set: unknown setting \"" + key + "\"" +
                     (closest.empty() ? "" : "; did you mean \"" + closest + "\"?"));
  }
  cl.overrides.emplace_back(key, key_value->second);
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
  if (name == "no-load") {
    cl.load_api = false;
  } else if (name == "config") {
    if (value.empty()) throw UsageError("option --config needs a file name");
    cl.config_path = value;
  } else if (name == "set") {
    AddSet(cl, value);
  } else {
    AddSettingFlag(cl, name, value);
  }
}

}  // namespace

std::span<const MetaFlag> MetaFlags() { return kMetaFlags; }

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
  if (!cl.load_api && cl.mode != Mode::kCheckConfig) {
    throw UsageError("option --no-load goes with -t/--check-config");
  }
  return cl;
}

}  // namespace valved::master
