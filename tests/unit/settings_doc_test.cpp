// Keeps the documentation complete: every setting of the table appears in
// man/valve.yaml.5 (with its type and default), in etc/valve.yaml (with its
// default, when shown commented out), and as a flag in man/valved.8.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "common/config_file.h"
#include "common/settings.h"

namespace valved {
namespace {

constexpr size_t npos = std::string::npos;

std::string ReadSource(const std::string& relative) {
  std::ifstream in(std::string(VALVED_SOURCE_DIR) + "/" + relative);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Text as roff prints it literally: "-" is "\-" (a minus, so that it can be
/// searched for and copied), "\" is "\e".
std::string Roff(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '-') {
      out += "\\-";
    } else if (c == '\\') {
      out += "\\e";
    } else {
      out += c;
    }
  }
  return out;
}

/// The man page's entry for `key`: from its ".B key" tag to the next tag or
/// section, or "" when there is none.
std::string ManEntry(const std::string& man, std::string_view key) {
  std::string tag = "\n.TP\n.B " + std::string(key) + "\n";
  size_t start = man.find(tag);
  if (start == std::string::npos) return "";
  size_t end = man.find("\n.TP\n", start + tag.size());
  size_t section = man.find("\n.SH", start + tag.size());
  return man.substr(start, std::min(end, section) - start);
}

TEST(SettingsDoc, EverySettingIsInValveYaml5WithTypeAndDefault) {
  std::string man = ReadSource("man/valve.yaml.5");
  ASSERT_FALSE(man.empty()) << "man/valve.yaml.5 is missing";
  const Config defaults;
  for (const SettingInfo& s : AllSettings()) {
    std::string entry = ManEntry(man, s.key);
    ASSERT_FALSE(entry.empty()) << s.key << " has no \".TP\\n.B " << s.key << "\" entry";
    std::string value = SettingText(defaults, s.key);
    std::string shown = value.empty() ? "empty" : "\\fB" + Roff(value) + "\\fR";
    EXPECT_NE(entry.find("(" + std::string(TypeName(s.type)) + "; default " + shown), npos)
        << s.key << ": type or default missing or out of date in\n"
        << entry;
    EXPECT_NE(entry.find("\\fB" + Roff(LongFlagOf(s.key)) + "\\fR"), npos)
        << s.key << ": flag missing in\n"
        << entry;
  }
}

TEST(SettingsDoc, EverySettingIsInEtcValveYamlWithItsDefault) {
  std::string yaml = ReadSource("etc/valve.yaml");
  ASSERT_FALSE(yaml.empty()) << "etc/valve.yaml is missing";
  const Config defaults;
  for (const SettingInfo& s : AllSettings()) {
    std::string key(s.key);
    bool set = yaml.find("\n" + key + ":") != npos;
    size_t commented = yaml.find("\n#" + key + ":");
    EXPECT_TRUE(set || commented != npos) << key << " is missing from etc/valve.yaml";
    if (set || commented == npos) continue;  // a set value is checked by parsing the file
    // A commented-out line shows the default; it must still be the default.
    std::string line = yaml.substr(commented + 2, yaml.find('\n', commented + 1) - commented - 2);
    Config shown;
    ASSERT_NO_THROW(LoadConfigText(line, "etc/valve.yaml", shown)) << line;
    EXPECT_EQ(SettingText(shown, key), SettingText(defaults, key)) << "etc/valve.yaml: " << line;
  }
}

TEST(SettingsDoc, EveryFlagIsInValved8) {
  std::string man = ReadSource("man/valved.8");
  ASSERT_FALSE(man.empty()) << "man/valved.8 is missing";
  for (const SettingInfo& s : AllSettings()) {
    EXPECT_NE(man.find("\\fB" + Roff(LongFlagOf(s.key)) + "\\fR"), npos) << LongFlagOf(s.key);
  }
  for (const char* flag : {"--config", "--check-config", "--signal", "--print-defaults", "--set",
                           "--help", "--version"}) {
    EXPECT_NE(man.find("\\fB" + Roff(flag) + "\\fR"), npos) << flag;
  }
  for (const char* code : {"1", "64", "70", "71", "78"}) {
    EXPECT_NE(man.find(".B " + std::string(code) + "\n"), npos) << "exit code " << code;
  }
}

}  // namespace
}  // namespace valved
