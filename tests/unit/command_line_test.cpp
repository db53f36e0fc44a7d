// The command line: Valve's flags, both value spellings, flags over the file,
// usage errors, and the informational modes.
#include "master/command_line.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <sstream>
#include <string>
#include <vector>

#include "common/config_file.h"
#include "common/settings.h"
#include "master/build_config.h"
#include "master/defaults_yaml.h"
#include "master/help_text.h"
#include "master/info_modes.h"
#include "tests/unit/temp_dir.h"

namespace valved::master {
namespace {

using Mode = CommandLine::Mode;
using std::chrono::seconds;

CommandLine Parse(std::initializer_list<std::string> args) {
  std::vector<std::string> storage = {"valved"};
  storage.insert(storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : storage) argv.push_back(arg.data());
  argv.push_back(nullptr);
  return ParseCommandLine(static_cast<int>(storage.size()), argv.data());
}

Config Build(std::initializer_list<std::string> args) { return BuildConfig(Parse(args)); }

/// The UsageError message of parsing `args`, or "" when they parse.
std::string UsageMessage(std::initializer_list<std::string> args) {
  try {
    Parse(args);
  } catch (const UsageError& e) {
    return e.what();
  }
  return "";
}

/// The ConfigError message of building a Config from `args`, or "".
std::string ConfigMessage(std::initializer_list<std::string> args) {
  try {
    Build(args);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

using testing::TempDir;

TEST(CommandLine, NoArgumentsMeansRunWithDefaultsAndNoFile) {
  CommandLine cl = Parse({});
  EXPECT_EQ(cl.mode, Mode::kRun);
  EXPECT_EQ(cl.config_path, "");
  EXPECT_TRUE(cl.overrides.empty());
  Config config = BuildConfig(cl);
  EXPECT_EQ(config.port, 3000);
  EXPECT_EQ(config.n_max, 3);
}

TEST(CommandLine, ValveFlags) {
  Config c = Build({"-n", "10", "-w", "2", "-p", "3000", "-f", "x.R"});
  EXPECT_EQ(c.n_max, 10);
  EXPECT_EQ(c.workers, 2);
  EXPECT_EQ(c.port, 3000);
  EXPECT_EQ(c.file, "x.R");
  c = Build({"-h", "0.0.0.0", "--n-min", "2", "--check-unused", "10", "--max-age", "300"});
  EXPECT_EQ(c.host, "0.0.0.0");
  EXPECT_EQ(c.n_min, 2);
  EXPECT_EQ(c.check_unused, seconds(10));
  EXPECT_EQ(c.max_age, seconds(300));
  c = Build(
      {"--host", "::1", "--port", "8080", "--n-max", "4", "--workers", "3", "--file", "api/"});
  EXPECT_EQ(c.host, "::1");
  EXPECT_EQ(c.port, 8080);
  EXPECT_EQ(c.n_max, 4);
  EXPECT_EQ(c.workers, 3);
  EXPECT_EQ(c.file, "api/");
}

TEST(CommandLine, ValueAttachedOrSeparate) {
  for (auto args : {std::initializer_list<std::string>{"-n", "10"},
                    {"-n10"},
                    {"--n-max", "10"},
                    {"--n-max=10"}}) {
    EXPECT_EQ(BuildConfig(Parse(args)).n_max, 10);
  }
}

TEST(CommandLine, OverridesKeepArgvOrderAndTheLastWins) {
  CommandLine cl = Parse({"-n", "4", "--set", "n_max=5", "--max-age", "5m", "-n6"});
  std::vector<std::pair<std::string, std::string>> expected = {
      {"n_max", "4"}, {"n_max", "5"}, {"max_age", "5m"}, {"n_max", "6"}};
  EXPECT_EQ(cl.overrides, expected);
  EXPECT_EQ(cl.override_flags,
            (std::vector<std::string>{"--n-max", "--set n_max", "--max-age", "--n-max"}));
  EXPECT_EQ(BuildConfig(cl).n_max, 6);
}

TEST(CommandLine, FlagsOverrideTheFileRegardlessOfOrder) {
  TempDir dir;
  std::string path = dir.Write("valve.yaml", "n_max: 2\nport: 4000\n");
  for (auto args : {std::initializer_list<std::string>{"-n", "5", "-c", path},
                    {"-c", path, "-n", "5"},
                    {"--n-max=5", "--config=" + path}}) {
    Config c = BuildConfig(Parse(args));
    EXPECT_EQ(c.n_max, 5);
    EXPECT_EQ(c.port, 4000);
  }
}

TEST(CommandLine, EverySettingHasALongFlag) {
  const Config defaults;
  for (const SettingInfo& s : AllSettings()) {
    std::string value = SettingText(defaults, s.key);
    CommandLine cl = Parse({LongFlagOf(s.key) + "=" + value});
    ASSERT_EQ(cl.overrides.size(), 1u) << s.key;
    EXPECT_EQ(cl.overrides[0].first, s.key);
    EXPECT_EQ(cl.overrides[0].second, value);
    EXPECT_NO_THROW(BuildConfig(cl)) << s.key;
  }
  Config c = Build({"--max-spawning", "4", "--log-level", "debug", "--runtime-dir", "/run/v",
                    "--rscript", "/opt/R/bin/Rscript", "--max-body-size", "10m"});
  EXPECT_EQ(c.max_spawning, 4);
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.runtime_dir, "/run/v");
  EXPECT_EQ(c.rscript, "/opt/R/bin/Rscript");
  EXPECT_EQ(c.max_body_size, 10 << 20);
}

TEST(CommandLine, BooleanFlagAloneMeansTrue) {
  EXPECT_TRUE(Build({"--warmup"}).warmup);
  EXPECT_TRUE(Build({"--warmup=true"}).warmup);
  EXPECT_FALSE(Build({"--warmup", "--warmup=false"}).warmup);
}

TEST(CommandLine, SetReachesAnySetting) {
  EXPECT_EQ(Build({"--set", "n_max=4"}).n_max, 4);
  EXPECT_EQ(Build({"--set=max_queue=7"}).max_queue, 7);
  EXPECT_EQ(Build({"--set", "runtime_dir="}).runtime_dir, "");
}

TEST(CommandLine, SetErrors) {
  EXPECT_EQ(UsageMessage({"--set", "n_max"}), "option --set expects KEY=VALUE, got \"n_max\"");
  EXPECT_EQ(UsageMessage({"--set", "=4"}), "option --set expects KEY=VALUE, got \"=4\"");
  EXPECT_EQ(UsageMessage({"--set", "n-max=4"}),
            "option --set: unknown setting \"n-max\"; did you mean \"n_max\"?");
}

TEST(CommandLine, UnknownFlagIsAUsageError) {
  EXPECT_EQ(UsageMessage({"--bogus"}), "unknown option --bogus");
  EXPECT_EQ(UsageMessage({"--n-maxx", "3"}), "unknown option --n-maxx; did you mean --n-max?");
  EXPECT_EQ(UsageMessage({"-x"}), "unknown option -x");
  EXPECT_EQ(UsageMessage({"-n", "3", "-q3"}), "unknown option -q");
}

TEST(CommandLine, LongFlagsMustBeSpeltInFull) {
  // Poco would take a unique prefix or any case; a flag added later could
  // then silently change what an old command line means.
  EXPECT_EQ(UsageMessage({"--hel"}), "unknown option --hel; did you mean --help?");
  EXPECT_EQ(UsageMessage({"--max-req", "3"}), "unknown option --max-req");  // two flags match
  EXPECT_EQ(UsageMessage({"--print-def"}),
            "unknown option --print-def; did you mean "
            "--print-defaults?");
  EXPECT_EQ(UsageMessage({"--n-m", "3"}).rfind("unknown option --n-m", 0), 0u);
  EXPECT_EQ(UsageMessage({"--PORT", "1"}), "unknown option --PORT");
}

TEST(CommandLine, SingleDashLongNameIsNotReadAsAShortFlag) {
  // Otherwise "-help" would be "-h elp": listen on host "elp".
  EXPECT_EQ(UsageMessage({"-help"}), "unknown option -help; did you mean --help?");
  EXPECT_EQ(UsageMessage({"-port", "80"}), "unknown option -port; did you mean --port?");
  EXPECT_EQ(Build({"-hlocalhost"}).host, "localhost");
}

TEST(CommandLine, MissingOrUnexpectedValues) {
  EXPECT_EQ(UsageMessage({"-n"}), "option --n-max needs a value");
  EXPECT_EQ(UsageMessage({"-h"}), "option --host needs a value (help is --help)");
  EXPECT_EQ(UsageMessage({"-p", "1", "--file"}), "option --file needs a value");
  EXPECT_EQ(UsageMessage({"--help=yes"}), "option --help takes no value");
  EXPECT_EQ(UsageMessage({"-t1"}), "option -t takes no value");
  EXPECT_EQ(UsageMessage({"-c", "a.yaml", "-c", "b.yaml"}),
            "option --config may be given only once");
  EXPECT_EQ(UsageMessage({"--config="}), "option --config needs a file name");
}

TEST(CommandLine, OperandsAreRejected) {
  EXPECT_EQ(UsageMessage({"plumber.R"}),
            "unexpected argument \"plumber.R\" (valved takes no operands)");
  EXPECT_EQ(UsageMessage({"--", "-n"}), "unexpected argument \"-n\" (valved takes no operands)");
}

TEST(CommandLine, Modes) {
  EXPECT_EQ(Parse({"--help"}).mode, Mode::kHelp);
  EXPECT_EQ(Parse({"--version"}).mode, Mode::kVersion);
  EXPECT_EQ(Parse({"-t"}).mode, Mode::kCheckConfig);
  EXPECT_EQ(Parse({"--check-config", "-c", "x.yaml"}).mode, Mode::kCheckConfig);
  EXPECT_EQ(Parse({"--print-defaults"}).mode, Mode::kPrintDefaults);
  EXPECT_EQ(Parse({"-t", "-t"}).mode, Mode::kCheckConfig);
  EXPECT_EQ(UsageMessage({"--help", "--version"}), "--help and --version cannot be combined");
  EXPECT_TRUE(Parse({"-t"}).load_api);
  EXPECT_FALSE(Parse({"-t", "--no-load"}).load_api);
  EXPECT_EQ(UsageMessage({"--no-load"}), "option --no-load goes with -t/--check-config");
}

TEST(CommandLine, SignalMode) {
  CommandLine cl = Parse({"-s", "reload"});
  EXPECT_EQ(cl.mode, Mode::kSignal);
  EXPECT_EQ(cl.signal_command, "reload");
  for (const char* command : {"reload", "stop", "quit", "reopen"}) {
    EXPECT_EQ(Parse({std::string("--signal=") + command}).signal_command, command);
    EXPECT_EQ(Parse({std::string("-s") + command}).signal_command, command);
  }
  cl = Parse({"-c", "/etc/valve.yaml", "-s", "stop", "--pid-file", "/run/v.pid"});
  EXPECT_EQ(cl.config_path, "/etc/valve.yaml");
  EXPECT_EQ(cl.overrides,
            (std::vector<std::pair<std::string, std::string>>{{"pid_file", "/run/v.pid"}}));
}

TEST(CommandLine, SignalModeErrors) {
  EXPECT_EQ(UsageMessage({"-s", "restart"}),
            "option -s expects reload, stop, quit, reopen or status, got \"restart\"");
  EXPECT_EQ(UsageMessage({"-s"}), "option --signal needs a value");
  EXPECT_EQ(UsageMessage({"-s", "stop", "-s", "reload"}), "option --signal may be given only once");
  EXPECT_EQ(UsageMessage({"-t", "-s", "stop"}), "--check-config and --signal cannot be combined");
  EXPECT_EQ(UsageMessage({"-s", "stop", "--help"}), "--signal and --help cannot be combined");
}

TEST(CommandLine, UserGroupAndAllowRoot) {
  Config c = Build({"--user", "nobody", "--group", "nogroup", "--allow-root"});
  EXPECT_EQ(c.user, "nobody");
  EXPECT_EQ(c.group, "nogroup");
  EXPECT_TRUE(c.allow_root);
  EXPECT_FALSE(Build({}).allow_root);
  EXPECT_EQ(Build({}).user, "");
  EXPECT_EQ(ConfigMessage({"--allow-root=yes"}),
            "--allow-root: expected true or false, got \"yes\"");
  // Names are looked up by CheckPaths' sibling ChildIdentity, not here: a
  // config may be built on a machine without the user.
  EXPECT_EQ(Build({"--user", "valvd"}).user, "valvd");
}

TEST(CommandLine, GroupNeedsUser) {
  EXPECT_EQ(ConfigMessage({"--group", "www-data"}),
            "group (\"www-data\") needs user (group set by --group, user is the default)");
  TempDir dir;
  std::string path = dir.Write("valve.yaml", "group: www-data\n");
  EXPECT_EQ(ConfigMessage({"-c", path}),
            "group (\"www-data\") needs user (group set at " + path + ":1:1, user is the default)");
  EXPECT_EQ(ConfigMessage({"-c", path, "--user", "nobody"}), "");
}

TEST(CommandLine, BadValueNamesTheFlag) {
  EXPECT_EQ(ConfigMessage({"-n", "four"}), "--n-max: expected a positive integer, got \"four\"");
  EXPECT_EQ(ConfigMessage({"--set", "n_max=four"}),
            "--set n_max: expected a positive integer, got \"four\"");
  EXPECT_EQ(ConfigMessage({"--max-age", "5 minutes"}),
            "--max-age: expected a duration (seconds, or a number with ms, s, m, h or d), got "
            "\"5 minutes\"");
  EXPECT_EQ(ConfigMessage({"-n", "-t"}), "--n-max: expected a positive integer, got \"-t\"");
}

TEST(CommandLine, BadValueInTheFileNamesFileLineAndKey) {
  TempDir dir;
  std::string path = dir.Write("valve.yaml", "port: 1\nn_max: four\n");
  EXPECT_EQ(ConfigMessage({"-c", path}),
            path + ":2:8: n_max: expected a positive integer, got \"four\"");
  EXPECT_EQ(ConfigMessage({"-c", dir.path() + "/missing.yaml"}),
            "cannot read " + dir.path() + "/missing.yaml: No such file or directory");
}

TEST(CommandLine, CrossFieldErrorSaysWhereEachValueCameFrom) {
  TempDir dir;
  std::string path = dir.Write("valve.yaml", "port: 1\nn_min: 5\n");
  EXPECT_EQ(ConfigMessage({"-c", path, "-n", "3"}),
            "n_min (5) must not be greater than n_max (3) (n_min set at " + path +
                ":2:1, n_max set by --n-max)");
  EXPECT_EQ(ConfigMessage({"--n-min", "4"}),
            "n_min (4) must not be greater than n_max (3) (n_min set by --n-min, n_max is the "
            "default)");
}

TEST(CommandLine, WorkersZeroBecomesOnePerFourCpus) {
  EXPECT_GE(Build({}).workers, 1);
  EXPECT_GE(Build({"-w", "0"}).workers, 1);
  EXPECT_EQ(Build({"-w", "5"}).workers, 5);
  EXPECT_EQ(DefaultWorkers(1), 1);
  EXPECT_EQ(DefaultWorkers(2), 1);
  EXPECT_EQ(DefaultWorkers(7), 1);
  EXPECT_EQ(DefaultWorkers(8), 2);
  EXPECT_EQ(DefaultWorkers(64), 16);
}

TEST(CommandLine, HelpListsEveryFlagSignalsAndExitCodes) {
  std::string help = HelpText();
  EXPECT_EQ(help.rfind("Usage: valved [OPTION]...\n", 0), 0u);
  for (const SettingInfo& s : AllSettings()) {
    EXPECT_NE(help.find(LongFlagOf(s.key)), std::string::npos) << s.key;
  }
  for (const char* text :
       {"-c, --config FILE", "-t, --check-config", "-s, --signal COMMAND", "--user USER",
        "--allow-root", "--print-defaults", "--set KEY=VALUE", "--help", "--version",
        "-n, --n-max N", "-h, --host HOST", "[127.0.0.1]", "TERM", "HUP", "USR1", "64", "78"}) {
    EXPECT_NE(help.find(text), std::string::npos) << text;
  }
  std::istringstream lines(help);
  for (std::string line; std::getline(lines, line);) EXPECT_LE(line.size(), 100u) << line;
}

TEST(CommandLine, RunInfoModeHelpAndVersion) {
  std::ostringstream out, err;
  EXPECT_EQ(RunInfoMode(Parse({"--help"}), out, err), 0);
  EXPECT_EQ(out.str(), HelpText());
  out.str("");
  EXPECT_EQ(RunInfoMode(Parse({"--version"}), out, err), 0);
  EXPECT_EQ(out.str(), std::string("valved ") + VALVED_VERSION + "\n");
  EXPECT_EQ(VersionText(), "valved 0.1.0");
  EXPECT_EQ(err.str(), "");
  EXPECT_EQ(RunInfoMode(Parse({}), out, err), 70);
}

TEST(CommandLine, PrintDefaultsIsAValidFileOfTheDefaults) {
  std::ostringstream out, err;
  EXPECT_EQ(RunInfoMode(Parse({"--print-defaults"}), out, err), 0);
  std::string yaml = out.str();
  EXPECT_EQ(yaml, DefaultsYaml());
  Config loaded;
  loaded.n_max = 99;  // every key is in the file, so every field is reset
  SettingOrigins origins;
  ASSERT_NO_THROW(LoadConfigText(yaml, "defaults.yaml", loaded, &origins)) << yaml;
  EXPECT_EQ(SettingsOf(loaded), SettingsOf(Config{}));
  EXPECT_EQ(origins.size(), AllSettings().size());
  EXPECT_NE(yaml.find("\n# The most R children"), std::string::npos) << "docs as comments";
}

class CheckConfigTest : public ::testing::Test {
 protected:
  // --no-load: these check the files; loading in R is the integration tests'.
  int Run(std::initializer_list<std::string> args) {
    out_.str("");
    err_.str("");
    return RunInfoMode(Parse(args), out_, err_);
  }
  TempDir dir_;
  std::ostringstream out_;
  std::ostringstream err_;
};

TEST_F(CheckConfigTest, ValidFileAndApi) {
  std::string api = dir_.Write("plumber.R", "#* @get /\nfunction() 1\n");
  // allow_root: the tests may run as root (CI does); see RootWithoutUser below.
  std::string path =
      dir_.Write("valve.yaml", "file: " + api + "\nrscript: /bin/sh\nallow_root: true\n");
  EXPECT_EQ(Run({"-t", "--no-load", "-c", path}), 0) << err_.str();
  EXPECT_EQ(out_.str(), "configuration file " + path + " is ok\n");
  EXPECT_EQ(err_.str(), "");
  EXPECT_EQ(Run({"-t", "--no-load", "-f", api, "--rscript", "sh", "--allow-root"}), 0)
      << err_.str();
  EXPECT_EQ(out_.str(), "configuration (defaults and command line) is ok\n");
}

TEST_F(CheckConfigTest, InvalidFileExits78WithTheError) {
  std::string path = dir_.Write("valve.yaml", "n_maxx: 3\n");
  EXPECT_EQ(Run({"--check-config", "--no-load", "-c", path}), 78);
  EXPECT_EQ(err_.str(), "valved: " + path +
                            ":1:1: unknown setting \"n_maxx\"; did you mean "
                            "\"n_max\"?\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(CheckConfigTest, MissingApiExits78) {
  EXPECT_EQ(Run({"-t", "--no-load", "-f", dir_.path() + "/nope.R", "--rscript", "/bin/sh"}), 78);
  EXPECT_EQ(err_.str(), "valved: file: cannot use the API " + dir_.path() +
                            "/nope.R: No such file or directory\n");
}

TEST_F(CheckConfigTest, UnknownUserExits78) {
  std::string api = dir_.Write("plumber.R", "");
  EXPECT_EQ(Run({"-t", "--no-load", "-f", api, "--rscript", "sh", "--user", "valvd"}), 78);
  EXPECT_EQ(err_.str(), "valved: user: no such user \"valvd\"\n");
  EXPECT_EQ(Run({"-t", "--no-load", "-f", api, "--rscript", "sh", "--user", "nobody", "--group",
                 "wheell"}),
            78);
  EXPECT_EQ(err_.str(), "valved: group: no such group \"wheell\"\n");
  chmod(dir_.path().c_str(), 0755);  // nobody must be able to read the API
  EXPECT_EQ(Run({"-t", "--no-load", "-f", api, "--rscript", "sh", "--user", "nobody"}), 0)
      << err_.str();
}

TEST_F(CheckConfigTest, ApiTheUserCannotReadExits78) {
  if (geteuid() != 0) GTEST_SKIP() << "user applies to root only; running as " << geteuid();
  std::string api = dir_.Write("plumber.R", "");
  chmod(dir_.path().c_str(), 0700);
  EXPECT_EQ(Run({"-t", "--no-load", "-f", api, "--rscript", "sh", "--user", "nobody"}), 78);
  EXPECT_EQ(err_.str(), "valved: file: user nobody (setting user) cannot read " + api + ": " +
                            dir_.path() + " (owner 0, mode 0700) is in the way\n");
  chmod(dir_.path().c_str(), 0755);
  std::string closed = dir_.path() + "/closed";
  mkdir(closed.c_str(), 0700);
  EXPECT_EQ(Run({"-t", "--no-load", "-f", api, "--rscript", "sh", "--user", "nobody",
                 "--runtime-dir", closed}),
            78);
  EXPECT_EQ(err_.str(), "valved: runtime_dir: user nobody cannot reach " + closed + ": " + closed +
                            " (owner 0, mode 0700) is in the way\n");
}

TEST_F(CheckConfigTest, RootWithoutUserExits78UnlessAllowed) {
  if (geteuid() != 0)
    GTEST_SKIP() << "the root rule applies to root only; running as " << geteuid();
  std::string api = dir_.Write("plumber.R", "");
  EXPECT_EQ(Run({"-t", "--no-load", "-f", api, "--rscript", "sh"}), 78);
  EXPECT_EQ(err_.str().rfind("valved: valved is running as root and would run the R children", 0),
            0u)
      << err_.str();
  EXPECT_NE(err_.str().find("\"user: nobody\""), std::string::npos) << err_.str();
  EXPECT_EQ(Run({"-t", "--no-load", "-f", api, "--rscript", "sh", "--set", "allow_root=true"}), 0);
}

class SignalModeTest : public CheckConfigTest {};

TEST_F(SignalModeTest, WithoutPidFileSaysSoAndExits1) {
  EXPECT_EQ(Run({"-s", "reload"}), 1);
  EXPECT_EQ(err_.str(),
            "valved: no pid_file configured; set pid_file in the config or pass --pid-file\n");
  EXPECT_EQ(out_.str(), "");
}

TEST_F(SignalModeTest, PidFileFromTheConfigOrTheFlag) {
  std::string from_file = dir_.path() + "/from-file.pid";
  std::string config = dir_.Write("valve.yaml", "pid_file: " + from_file + "\n");
  EXPECT_EQ(Run({"-s", "stop", "-c", config}), 1);
  EXPECT_EQ(err_.str(), "valved: cannot read pid file " + from_file +
                            ": No such file or directory; is valved running?\n");
  std::string from_flag = dir_.path() + "/from-flag.pid";
  EXPECT_EQ(Run({"-c", config, "--pid-file", from_flag, "--signal=quit"}), 1);
  EXPECT_NE(err_.str().find(from_flag), std::string::npos) << err_.str();
  dir_.Write("from-flag.pid", "4194305\n");  // above any pid_max: not running
  EXPECT_EQ(Run({"-s", "reopen", "--pid-file", from_flag}), 1);
  EXPECT_NE(err_.str().find("stale pid file"), std::string::npos) << err_.str();
}

TEST_F(SignalModeTest, BadConfigExits78) {
  std::string config = dir_.Write("valve.yaml", "pid_fille: /run/valved.pid\n");
  EXPECT_EQ(Run({"-s", "reload", "-c", config}), 78);
  EXPECT_EQ(err_.str(), "valved: " + config +
                            ":1:1: unknown setting \"pid_fille\"; did you mean \"pid_file\"?\n");
}

}  // namespace
}  // namespace valved::master
