#include "common/config_file.h"

#include <fcntl.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "common/settings.h"
#include "common/unique_fd.h"

namespace valved {
namespace {

/// "path:line:col: " with yaml-cpp's 0-based mark made 1-based, as editors
/// and compilers print positions; just "path: " when the mark is unknown.
std::string Where(const std::string& name, const YAML::Mark& mark) {
  if (mark.is_null()) return name + ": ";
  return name + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1) + ": ";
}

std::string KindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Sequence:
      return "a sequence";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Undefined:
      break;
  }
  return "an undefined node";
}

std::string ReadWholeFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw ConfigError("cannot read " + path + ": " + std::strerror(errno));
  std::string text;
  char buffer[8192];
  for (;;) {
    ssize_t n = ::read(fd.get(), buffer, sizeof buffer);
    if (n == 0) return text;
    if (n == -1) {
      if (errno == EINTR) continue;
      throw ConfigError("cannot read " + path + ": " + std::strerror(errno));
    }
    text.append(buffer, static_cast<size_t>(n));
  }
}

/// The file's one document, or a Null node for an empty file.
YAML::Node ParseDocument(std::string_view text, const std::string& name) {
  std::vector<YAML::Node> documents;
  try {
    documents = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    throw ConfigError(Where(name, e.mark) + "invalid YAML: " + e.msg);
  }
  if (documents.empty()) return YAML::Node();
  if (documents.size() > 1) {
    throw ConfigError(Where(name, documents[1].Mark()) +
                      "a second YAML document (after ---); put every setting in one mapping");
  }
  return documents.front();
}

std::string KeyOf(const std::string& name, const YAML::Node& key) {
  if (!key.IsScalar()) {
    throw ConfigError(Where(name, key.Mark()) + "expected a setting name, got " + KindName(key));
  }
  return key.Scalar();
}

/// The value's text; a missing value ("log_file:" or "~") is the empty
/// string, which string settings accept and the others reject by name.
std::string ValueOf(const std::string& name, const std::string& key, const YAML::Node& value) {
  if (value.IsNull()) return "";
  if (!value.IsScalar()) {
    throw ConfigError(Where(name, value.Mark()) + key + ": expected a single value, got " +
                      KindName(value) + " (settings are flat: \"" + key + ": value\")");
  }
  return value.Scalar();
}

void ApplyPair(const std::string& name, const YAML::Node& key_node, const YAML::Node& value_node,
               Config& config, SettingOrigins& seen) {
  std::string key = KeyOf(name, key_node);
  std::string key_at = Where(name, key_node.Mark());
  if (auto first = seen.find(key); first != seen.end()) {
    // yaml-cpp keeps both pairs of a duplicated key; one would silently win.
    throw ConfigError(key_at + key + ": set twice; first set at " + first->second);
  }
  if (!FindSetting(key)) {
    std::string suggestion = ClosestSettingKey(key);
    throw ConfigError(key_at + "unknown setting \"" + key + "\"" +
                      (suggestion.empty() ? "" : "; did you mean \"" + suggestion + "\"?"));
  }
  std::string value = ValueOf(name, key, value_node);
  // A missing value has no position of its own (yaml-cpp marks the next
  // token), so point at its key instead.
  std::string value_at = value_node.IsNull() ? key_at : Where(name, value_node.Mark());
  try {
    ApplySetting(config, key, value);
  } catch (const ConfigError& e) {
    throw ConfigError(value_at + e.what());
  }
  seen[key] = key_at.substr(0, key_at.size() - 2);  // without the trailing ": "
}

}  // namespace

void LoadConfigText(std::string_view text, const std::string& name, Config& config,
                    SettingOrigins* origins) {
  YAML::Node root = ParseDocument(text, name);
  if (root.IsNull()) return;
  if (!root.IsMap()) {
    throw ConfigError(Where(name, root.Mark()) +
                      "expected a mapping of settings (key: value), got " + KindName(root));
  }
  SettingOrigins seen;
  for (auto it = root.begin(); it != root.end(); ++it) {
    ApplyPair(name, it->first, it->second, config, seen);
  }
  if (origins) {
    for (const auto& [key, where] : seen) (*origins)[key] = where;
  }
}

void LoadConfigFile(const std::string& path, Config& config, SettingOrigins* origins) {
  LoadConfigText(ReadWholeFile(path), path, config, origins);
}

}  // namespace valved
