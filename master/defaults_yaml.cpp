#include "master/defaults_yaml.h"

#include <sstream>

#include "common/config.h"
#include "common/settings.h"

namespace valved::master {
namespace {

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

}  // namespace

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

}  // namespace valved::master
