#include "master/help_text.h"

#include "common/config.h"
#include "common/settings.h"
#include "master/command_line.h"

namespace valved::master {
namespace {

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

}  // namespace

std::string HelpText() {
  std::string text =
      "Usage: valved [OPTION]...\n"
      "       valved -s reload|stop|quit|reopen [-c FILE] [--pid-file FILE]\n"
      "       valved -s status [-c FILE] [--status-listen ADDRESS]\n"
      "Serve an R plumber API from a pool of R processes behind one port.\n\nOptions:\n";
  for (const MetaFlag& flag : MetaFlags()) {
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

}  // namespace valved::master
