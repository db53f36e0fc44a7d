// The settings table and YAML loading: defaults, every validator, durations
// and sizes, and errors that name file, line, column and key.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "common/config_file.h"
#include "common/settings.h"
#include "tests/unit/temp_dir.h"

namespace valved {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

std::map<std::string, std::string> AsMap(const Config& config) {
  auto settings = SettingsOf(config);
  return {settings.begin(), settings.end()};
}

/// The ConfigError message of loading `yaml` as "/etc/valve.yaml", or "".
std::string LoadError(const std::string& yaml) {
  Config config;
  try {
    LoadConfigText(yaml, "/etc/valve.yaml", config);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

/// The ConfigError message of ApplySetting(key, value), or "".
std::string ApplyError(const std::string& key, const std::string& value) {
  Config config;
  try {
    ApplySetting(config, key, value);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

Config Loaded(const std::string& yaml) {
  Config config;
  LoadConfigText(yaml, "test.yaml", config);
  return config;
}

using testing::TempDir;

TEST(Settings, DefaultsMatchValve) {
  Config c;
  EXPECT_EQ(c.host, "127.0.0.1");
  EXPECT_EQ(c.port, 3000);
  EXPECT_EQ(c.n_max, 3);
  EXPECT_EQ(c.n_min, 1);
  EXPECT_EQ(c.file, "plumber.R");
  EXPECT_EQ(c.max_age, seconds(300));
  EXPECT_EQ(c.check_unused, seconds(10));
  EXPECT_NO_THROW(Validate(c));
}

TEST(Settings, DefaultsPrintAsExpected) {
  auto shown = AsMap(Config{});
  EXPECT_EQ(shown["host"], "127.0.0.1");
  EXPECT_EQ(shown["port"], "3000");
  EXPECT_EQ(shown["workers"], "0");
  EXPECT_EQ(shown["max_age"], "5m");
  EXPECT_EQ(shown["check_unused"], "10s");
  EXPECT_EQ(shown["max_body_size"], "0");
  EXPECT_EQ(shown["access_log"], "off");
  EXPECT_EQ(shown["status_listen"], "");
  EXPECT_EQ(shown["log_level"], "notice");
  EXPECT_EQ(shown["runtime_dir"], "");
}

TEST(Settings, EveryDefaultIsAcceptedByItsOwnValidator) {
  for (const auto& [key, text] : SettingsOf(Config{})) {
    EXPECT_EQ(ApplyError(key, text), "") << key << "=" << text;
  }
}

TEST(Settings, TableIsCompleteAndDocumented) {
  ASSERT_EQ(AllSettings().size(), SettingsOf(Config{}).size());
  for (const SettingInfo& s : AllSettings()) {
    EXPECT_EQ(FindSetting(s.key), &s) << s.key;
    EXPECT_FALSE(s.doc.empty()) << s.key;
    EXPECT_FALSE(s.summary.empty()) << s.key;
    EXPECT_FALSE(s.arg_name.empty()) << s.key;
    EXPECT_EQ(s.doc.find('\n'), std::string_view::npos) << s.key << ": one paragraph";
  }
  EXPECT_EQ(FindSetting("nope"), nullptr);
}

/// A valid value different from the default, for each type.
std::string OtherValue(const SettingInfo& s, const std::string& current) {
  switch (s.type) {
    case SettingType::kInt:
      return std::to_string(std::stoi(current) + 1);
    case SettingType::kBool:
      return current == "true" ? "false" : "true";
    case SettingType::kDuration:
      return std::to_string(ParseDuration(current)->count() + 1234) + "ms";
    case SettingType::kSize:
      return std::to_string(*ParseSize(current) + 7);
    case SettingType::kLogLevel:
      return current == "debug" ? "info" : "debug";
    case SettingType::kString:
      if (s.key == "forwarded_allow_ips") return "192.0.2.1, ::1";  // a list of addresses
      if (s.key == "spawn_method") return current == "fork" ? "fresh" : "fork";
      if (s.key == "status_listen") return "unix:/srv/other/status.sock";
      if (s.key == "status_allow") return "10.0.0.0/8";
      return "/srv/other/" + std::string(s.key);
  }
  return "";
}

// Catches a table row bound to the wrong Config field: changing one setting
// must change exactly that setting.
TEST(Settings, EachKeyChangesOnlyItsOwnField) {
  const auto defaults = AsMap(Config{});
  for (const SettingInfo& s : AllSettings()) {
    Config config;
    std::string value = OtherValue(s, defaults.at(std::string(s.key)));
    ApplySetting(config, s.key, value);
    auto after = AsMap(config);
    for (const auto& [key, text] : after) {
      if (key == s.key) {
        EXPECT_NE(text, defaults.at(key)) << key;
      } else {
        EXPECT_EQ(text, defaults.at(key)) << "setting " << s.key << " changed " << key;
      }
    }
  }
}

TEST(Settings, RoundTripOfNonDefaultConfig) {
  Config config;
  config.host = "0.0.0.0";
  config.port = 8080;
  config.workers = 4;
  config.file = "/srv/api dir/entry \"point\".R";
  config.n_max = 12;
  config.n_min = 0;
  config.max_age = milliseconds(1500);
  config.check_unused = seconds(90);
  config.graceful_timeout = std::chrono::hours(2);
  config.kill_timeout = milliseconds(0);
  config.max_body_size = int64_t{3} << 30;
  config.limit_request_line = 4097;
  config.log_level = "debug";
  config.log_file = "/var/log/valved.log";
  config.runtime_dir = "/run/valved";
  config.access_log = "/var/log/valved/access.log";
  config.status_listen = "unix:/run/valved/status.sock";
  config.status_allow = "127.0.0.0/8, ::1";
  Config copy;
  for (const auto& [key, text] : SettingsOf(config)) ApplySetting(copy, key, text);
  EXPECT_EQ(AsMap(copy), AsMap(config));
  EXPECT_EQ(copy.max_age, milliseconds(1500));
  EXPECT_EQ(copy.max_body_size, int64_t{3} << 30);
  EXPECT_EQ(copy.file, config.file);
}

struct Case {
  const char* key;
  const char* value;
  bool ok;
};

TEST(Settings, EveryValidator) {
  const Case cases[] = {
      {"port", "0", false},
      {"port", "1", true},
      {"port", "65535", true},
      {"port", "65536", false},
      {"port", "http", false},
      {"port", "80.5", false},
      {"port", " 80", false},
      {"workers", "-1", false},
      {"workers", "0", true},
      {"n_max", "0", false},
      {"n_max", "1", true},
      {"n_max", "99999999999", false},
      {"n_min", "-1", false},
      {"n_min", "0", true},
      {"max_spawning", "-1", false},
      {"max_spawning", "0", true},
      {"max_spawning", "1", true},
      {"max_requests", "-1", false},
      {"max_requests", "0", true},
      {"max_requests_jitter", "-1", false},
      {"max_requests_jitter", "0", true},
      {"max_queue", "0", false},
      {"max_queue", "1", true},
      {"limit_request_line", "0", false},
      {"limit_request_fields", "0", false},
      {"limit_request_headers_size", "0", false},
      {"limit_request_headers_size", "1", true},
      {"check_unused", "0", false},
      {"check_unused", "1ms", true},
      {"spawn_timeout", "0s", false},
      {"queue_timeout", "0", false},
      {"header_timeout", "0ms", false},
      {"keepalive_timeout", "0", false},
      {"max_age", "0", true},
      {"kill_timeout", "0", true},
      {"graceful_timeout", "0", true},
      {"timeout", "0", true},
      {"timeout", "365d", true},
      {"timeout", "366d", false},
      {"timeout", "-1", false},
      {"max_body_size", "-1", false},
      {"max_body_size", "0", true},
      {"max_body_size", "1t", false},
      {"log_level", "verbose", false},
      {"log_level", "NOTICE", false},
      {"log_level", "", false},
      {"access_log", "yes", false},
      {"access_log", "true", false},
      {"access_log", "off", true},
      {"access_log", "stderr", true},
      {"access_log", "/var/log/valved/access.log", true},
      {"access_log", "access.log", false},
      {"status_listen", "", true},
      {"status_listen", "127.0.0.1:3001", true},
      {"status_listen", "[::1]:3001", true},
      {"status_listen", "unix:/run/valved/status.sock", true},
      {"status_listen", "unix:status.sock", false},
      {"status_listen", "3001", false},
      {"status_listen", "::1:3001", false},
      {"status_listen", "localhost:0", false},
      {"status_listen", "localhost:70000", false},
      {"status_allow", "", true},
      {"status_allow", "127.0.0.0/8, ::1 10.0.0.0/8", true},
      {"status_allow", "10.0.0.0/33", false},
      {"status_allow", "example.org", false},
      {"host", "", false},
      {"host", "::", true},
      {"file", "", false},
      {"rscript", "", false},
      {"rscript", "/opt/R/4.3/bin/Rscript", true},
      {"runtime_dir", "", true},
      {"runtime_dir", "/run/valved", true},
      {"runtime_dir", "run/valved", false},
      {"runtime_dir", "/very/long/runtime/directory/name/that/leaves/no/room/for/socket/names",
       false},
      {"log_file", "", true},
      {"pid_file", "/run/valved.pid", true},
      {"file", "plumber.R\nrm -rf /", false},
  };
  for (const Case& c : cases) {
    std::string error = ApplyError(c.key, c.value);
    EXPECT_EQ(error.empty(), c.ok) << c.key << "=\"" << c.value << "\": " << error;
    if (!c.ok) {
      EXPECT_EQ(error.rfind(std::string(c.key) + ": ", 0), 0u) << error;
    }
  }
  for (const char* level : {"error", "warn", "notice", "info", "debug"}) {
    EXPECT_EQ(ApplyError("log_level", level), "") << level;
  }
}

TEST(Settings, ErrorMessagesSayWhatWasExpected) {
  EXPECT_EQ(ApplyError("n_max", "four"), "n_max: expected a positive integer, got \"four\"");
  EXPECT_EQ(ApplyError("port", "0"), "port: expected an integer from 1 to 65535, got \"0\"");
  EXPECT_EQ(ApplyError("n_min", "-2"), "n_min: expected an integer of 0 or more, got \"-2\"");
  EXPECT_EQ(ApplyError("check_unused", "0"),
            "check_unused: expected a duration greater than 0, got \"0\"");
  EXPECT_EQ(ApplyError("max_age", "5 min"),
            "max_age: expected a duration (seconds, or a number with ms, s, m, h or d), got "
            "\"5 min\"");
  EXPECT_EQ(ApplyError("access_log", "yes"),
            "access_log: must be off, stderr or an absolute file path");
  EXPECT_EQ(ApplyError("access_log", "true"),
            "access_log: is now off, stderr or a file path (true became stderr)");
  EXPECT_EQ(ApplyError("status_listen", "3001"), "status_listen: expected HOST:PORT or unix:PATH");
  EXPECT_EQ(ApplyError("log_level", "loud"),
            "log_level: expected error, warn, notice, info or debug, got \"loud\"");
  EXPECT_EQ(ApplyError("host", ""), "host: must not be empty");
}

TEST(Settings, UnknownKeySuggestsTheClosest) {
  EXPECT_EQ(ApplyError("n_maxx", "3"), "n_maxx: unknown setting; did you mean \"n_max\"?");
  EXPECT_EQ(ApplyError("bogus", "3"), "bogus: unknown setting");
  EXPECT_EQ(ClosestSettingKey("n-max"), "n_max");
  EXPECT_EQ(ClosestSettingKey("prot"), "port");
  EXPECT_EQ(ClosestSettingKey("loglevel"), "log_level");
  EXPECT_EQ(ClosestSettingKey("x"), "");
}

TEST(Settings, SettingErrorCarriesKeyAndProblem) {
  Config config;
  try {
    ApplySetting(config, "port", "x");
    FAIL() << "accepted port x";
  } catch (const SettingError& e) {
    EXPECT_EQ(e.key(), "port");
    EXPECT_EQ(e.problem(), "expected an integer from 1 to 65535, got \"x\"");
  }
}

TEST(Durations, Parse) {
  EXPECT_EQ(ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(ParseDuration("30s"), seconds(30));
  EXPECT_EQ(ParseDuration("5m"), std::chrono::minutes(5));
  EXPECT_EQ(ParseDuration("1h"), std::chrono::hours(1));
  EXPECT_EQ(ParseDuration("2d"), std::chrono::hours(48));
  EXPECT_EQ(ParseDuration("300"), seconds(300));  // Valve's --max-age 300
  EXPECT_EQ(ParseDuration("0"), milliseconds(0));
  EXPECT_EQ(ParseDuration("007s"), seconds(7));
  for (const char* bad : {"", "s", "5x", "5 s", " 5s", "-1", "+1", "1.5s", "5M", "5S", "5sec",
                          "99999999999999999999", "9223372036854775807s", "1s5"}) {
    EXPECT_FALSE(ParseDuration(bad)) << bad;
  }
}

TEST(Durations, FormatUsesTheLargestExactUnit) {
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0s");
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1500ms");
  EXPECT_EQ(FormatDuration(seconds(90)), "90s");
  EXPECT_EQ(FormatDuration(seconds(300)), "5m");
  EXPECT_EQ(FormatDuration(std::chrono::hours(3)), "3h");
  EXPECT_EQ(FormatDuration(std::chrono::hours(48)), "2d");
  for (int64_t ms : {1, 999, 1000, 61000, 3600000, 86400001}) {
    EXPECT_EQ(ParseDuration(FormatDuration(milliseconds(ms))), milliseconds(ms)) << ms;
  }
}

TEST(Sizes, ParseAndFormat) {
  EXPECT_EQ(ParseSize("123"), 123);
  EXPECT_EQ(ParseSize("512k"), 512 * 1024);
  EXPECT_EQ(ParseSize("10m"), 10 * 1024 * 1024);
  EXPECT_EQ(ParseSize("1g"), int64_t{1} << 30);
  EXPECT_EQ(ParseSize("2G"), int64_t{2} << 30);
  EXPECT_EQ(ParseSize("0"), 0);
  for (const char* bad : {"", "k", "1t", "-5", "1.5m", "1kb", "10 m", "99999999999g"}) {
    EXPECT_FALSE(ParseSize(bad)) << bad;
  }
  EXPECT_EQ(FormatSize(0), "0");
  EXPECT_EQ(FormatSize(1000), "1000");
  EXPECT_EQ(FormatSize(1024), "1k");
  EXPECT_EQ(FormatSize(int64_t{3} << 20), "3m");
  EXPECT_EQ(FormatSize(int64_t{5} << 30), "5g");
}

TEST(Validate, NMinAboveNMaxNamesBothKeys) {
  Config config;
  config.n_min = 5;
  config.n_max = 3;
  try {
    Validate(config);
    FAIL() << "accepted n_min > n_max";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "n_min (5) must not be greater than n_max (3)");
  }
  auto violation = FindRuleViolation(config);
  ASSERT_TRUE(violation);
  EXPECT_EQ(violation->keys, (std::vector<std::string>{"n_min", "n_max"}));
  config.n_min = 3;
  EXPECT_FALSE(FindRuleViolation(config));
  EXPECT_NO_THROW(Validate(config));
}

TEST(Validate, ChecksFieldsOfAConfigBuiltInCode) {
  Config config;
  config.port = 0;
  EXPECT_THROW(Validate(config), ConfigError);
  config = Config{};
  config.check_unused = milliseconds(0);
  EXPECT_THROW(Validate(config), ConfigError);
  config = Config{};
  config.log_level = "loud";
  EXPECT_THROW(Validate(config), ConfigError);
}

TEST(ConfigFile, AppliesEveryKey) {
  Config c = Loaded(
      "# a comment\n"
      "host: 0.0.0.0\n"
      "port: 8000\n"
      "n_max: 8   # eight children\n"
      "n_min: 2\n"
      "max_age: 300\n"
      "check_unused: 250ms\n"
      "file: \"/srv/plumber/plumber.R\"\n"
      "max_body_size: 10m\n"
      "access_log: stderr\n"
      "log_file:\n");
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.port, 8000);
  EXPECT_EQ(c.n_max, 8);
  EXPECT_EQ(c.n_min, 2);
  EXPECT_EQ(c.max_age, seconds(300));
  EXPECT_EQ(c.check_unused, milliseconds(250));
  EXPECT_EQ(c.file, "/srv/plumber/plumber.R");
  EXPECT_EQ(c.max_body_size, 10 << 20);
  EXPECT_EQ(c.access_log, "stderr");
  EXPECT_EQ(c.log_file, "");
  EXPECT_EQ(c.workers, Config{}.workers);  // untouched
}

TEST(ConfigFile, EmptyOrCommentOnlyFileIsTheDefaults) {
  EXPECT_EQ(AsMap(Loaded("")), AsMap(Config{}));
  EXPECT_EQ(AsMap(Loaded("# nothing set\n\n")), AsMap(Config{}));
}

TEST(ConfigFile, BadValueNamesFileLineColumnAndKey) {
  EXPECT_EQ(LoadError("port: 3000\nn_max: four\n"),
            "/etc/valve.yaml:2:8: n_max: expected a positive integer, got \"four\"");
  EXPECT_EQ(LoadError("\n\n  n_max: 0\n"),
            "/etc/valve.yaml:3:10: n_max: expected a positive integer, got \"0\"");
}

TEST(ConfigFile, MissingValueOfANonStringIsAnErrorAtTheKey) {
  EXPECT_EQ(LoadError("port: 1\nn_max:\nhost: x\n"),
            "/etc/valve.yaml:2:1: n_max: expected a positive integer, got \"\"");
}

TEST(ConfigFile, UnknownKeyWithLineColumnAndSuggestion) {
  EXPECT_EQ(LoadError("port: 1\n\n\nn_maxx: 4\n"),
            "/etc/valve.yaml:4:1: unknown setting \"n_maxx\"; did you mean \"n_max\"?");
  EXPECT_EQ(LoadError("colour: blue\n"), "/etc/valve.yaml:1:1: unknown setting \"colour\"");
  EXPECT_EQ(LoadError("n-min: 1\n"),
            "/etc/valve.yaml:1:1: unknown setting \"n-min\"; did you mean \"n_min\"?");
}

TEST(ConfigFile, WrongTypes) {
  EXPECT_EQ(LoadError("n_max: [1, 2]\n"),
            "/etc/valve.yaml:1:8: n_max: expected a single value, got a sequence (settings are "
            "flat: \"n_max: value\")");
  EXPECT_EQ(LoadError("port: 1\nhost:\n  name: x\n"),
            "/etc/valve.yaml:3:3: host: expected a single value, got a mapping (settings are "
            "flat: \"host: value\")");
  EXPECT_EQ(LoadError("- n_max: 3\n"),
            "/etc/valve.yaml:1:1: expected a mapping of settings (key: value), got a sequence");
  EXPECT_EQ(LoadError("n_max\n"),
            "/etc/valve.yaml:1:1: expected a mapping of settings (key: value), got a scalar");
  EXPECT_EQ(LoadError("[a, b]: 1\n"),
            "/etc/valve.yaml:1:1: expected a setting name, got a sequence");
}

TEST(ConfigFile, YamlSyntaxErrorHasPosition) {
  std::string error = LoadError("port: 1\nn_max: [1, 2\n");
  EXPECT_EQ(error.rfind("/etc/valve.yaml:3:1: invalid YAML: ", 0), 0u) << error;
  error = LoadError("port: 1\n n_max: 2\n");
  EXPECT_EQ(error, "/etc/valve.yaml:2:7: invalid YAML: illegal map value");
  error = LoadError("host: @x\n");
  EXPECT_EQ(error.rfind("/etc/valve.yaml:1:7: invalid YAML: ", 0), 0u) << error;
}

TEST(ConfigFile, DuplicateKeyIsAnError) {
  EXPECT_EQ(LoadError("n_max: 3\nport: 1\nn_max: 4\n"),
            "/etc/valve.yaml:3:1: n_max: set twice; first set at /etc/valve.yaml:1:1");
}

TEST(ConfigFile, SecondDocumentIsAnError) {
  EXPECT_EQ(LoadError("n_max: 3\n---\nn_max: 4\n"),
            "/etc/valve.yaml:3:1: a second YAML document (after ---); put every setting in one "
            "mapping");
}

TEST(ConfigFile, NMinAboveNMaxIsLeftToValidate) {
  Config config = Loaded("n_min: 5\nn_max: 3\n");
  EXPECT_THROW(Validate(config), ConfigError);
}

TEST(ConfigFile, RecordsWhereEachKeyWasSet) {
  Config config;
  SettingOrigins origins;
  LoadConfigText("port: 1\n\nn_max: 3\n", "a.yaml", config, &origins);
  EXPECT_EQ(origins, (SettingOrigins{{"port", "a.yaml:1:1"}, {"n_max", "a.yaml:3:1"}}));
}

TEST(ConfigFile, ReadsARealFile) {
  TempDir dir;
  std::string path = dir.Write("valve.yaml", "n_max: 7\n");
  Config config;
  LoadConfigFile(path, config);
  EXPECT_EQ(config.n_max, 7);
  path = dir.Write("bad.yaml", "n_max: 0\n");
  try {
    LoadConfigFile(path, config);
    FAIL() << "accepted n_max 0";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), path + ":1:8: n_max: expected a positive integer, got \"0\"");
  }
}

TEST(ConfigFile, MissingOrUnreadableFile) {
  Config config;
  try {
    LoadConfigFile("/nonexistent/valve.yaml", config);
    FAIL() << "read a missing file";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "cannot read /nonexistent/valve.yaml: No such file or directory");
  }
  TempDir dir;
  try {
    LoadConfigFile(dir.path(), config);
    FAIL() << "read a directory";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot read " + dir.path() + ": Is a directory");
  }
}

TEST(ConfigFile, ShippedExampleParsesAndValidates) {
  Config config;
  ASSERT_NO_THROW(LoadConfigFile(VALVED_SOURCE_DIR "/etc/valve.yaml", config));
  EXPECT_NO_THROW(Validate(config));
  EXPECT_EQ(config.host, "127.0.0.1");
  EXPECT_EQ(config.port, 3000);
  EXPECT_EQ(config.file.front(), '/') << "the service runs in /, so the example is absolute";
}

}  // namespace
}  // namespace valved
