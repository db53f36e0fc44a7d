// The command line on its own: --check-config/-t, --version, --help.
#include <unistd.h>

#include <fstream>
#include <regex>

#include "tests/integration/valved_harness.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

class CommandLineTest : public ValvedTest {
 protected:
  std::string WriteFile(const std::string& name, const std::string& text) {
    std::string path = (dir() / name).string();
    std::ofstream(path) << text;
    return path;
  }
  /// A YAML line that lets a root test run the check (valved refuses root otherwise).
  static std::string RootLine() { return geteuid() == 0 ? "allow_root: true\n" : ""; }
};

TEST_F(CommandLineTest, CheckConfigRejectsAnUnknownKeyNamingFileAndLine) {
  std::string path =
      WriteFile("unknown.yaml", RootLine() + "n_max: 4\nn_min: 1\nno_such_setting: 3\n");
  int line = geteuid() == 0 ? 4 : 3;
  RunResult run = RunToExit({"--check-config", "-c", path}, 30s);
  EXPECT_EQ(run.ExitCode(), 78) << run.Describe();
  EXPECT_NE(run.output.find(path + ":" + std::to_string(line)), std::string::npos)
      << run.Describe();
  EXPECT_NE(run.output.find("no_such_setting"), std::string::npos) << run.Describe();
}

TEST_F(CommandLineTest, CheckConfigRejectsBrokenYamlNamingFileAndLine) {
  std::string path = WriteFile("broken.yaml", "n_max: 4\nn_min: [1,\n");
  RunResult run = RunToExit({"-t", "-c", path}, 30s);
  EXPECT_EQ(run.ExitCode(), 78) << run.Describe();
  EXPECT_TRUE(std::regex_search(
      run.output,
      std::regex(std::regex_replace(path, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                 ":[0-9]+")))
      << "names file:line; " << run.Describe();
}

TEST_F(CommandLineTest, CheckConfigRejectsNMinAboveNMax) {
  std::string path = WriteFile("minmax.yaml", RootLine() + "n_max: 2\nn_min: 5\n");
  RunResult run = RunToExit({"-t", "-c", path}, 30s);
  EXPECT_EQ(run.ExitCode(), 78) << run.Describe();
  EXPECT_NE(run.output.find(path), std::string::npos) << run.Describe();
}

TEST_F(CommandLineTest, CheckConfigAcceptsAGoodFile) {
  std::string path =
      WriteFile("good.yaml", RootLine() + "file: " + Example("plumber.R") + "\nn_max: 2\n");
  RunResult run = RunToExit({"-t", "-c", path}, 60s);
  EXPECT_EQ(run.ExitCode(), 0) << run.Describe();
}

// -t loads the API once in R, as a child would, and prints R's error: a
// syntax error, a missing package, a stop() at top level.
TEST_F(CommandLineTest, CheckConfigLoadsTheApiInRAndPrintsTheRError) {
  struct Case {
    std::string name;
    std::string text;
    std::string r_error;  // what R says
  };
  const Case cases[] = {
      {"syntax.R", "#* @get /\nfunction() {\n  list(1,\n", "unexpected end of input"},
      {"missing_pkg.R", "library(valvedNoSuchPackage)\n#* @get /\nfunction() 1\n",
       "there is no package called"},
      {"stops.R", "stop('valved-fixture: cannot load')\n", "valved-fixture: cannot load"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    std::string api = WriteFile(c.name, c.text);
    RunResult run = RunToExit({"-t", "-f", api, "--set", "allow_root=true"}, 60s);
    EXPECT_EQ(run.ExitCode(), 78) << run.Describe();
    EXPECT_NE(run.output.find("the API " + api + " failed to load in R"), std::string::npos)
        << run.Describe();
    EXPECT_NE(run.output.find(c.r_error), std::string::npos) << run.Describe();
    RunResult files_only = RunToExit({"-t", "--no-load", "-f", api, "--set", "allow_root=true"});
    EXPECT_EQ(files_only.ExitCode(), 0) << "--no-load does not run R; " << files_only.Describe();
  }
  RunResult good = RunToExit({"-t", "-f", Example("plumber.R"), "--set", "allow_root=true"}, 60s);
  EXPECT_EQ(good.ExitCode(), 0) << good.Describe();
  EXPECT_NE(good.output.find("loads in R"), std::string::npos) << good.Describe();
}

TEST_F(CommandLineTest, VersionPrintsTheVersion) {
  RunResult run = RunToExit({"--version"}, 30s);
  EXPECT_EQ(run.ExitCode(), 0) << run.Describe();
  EXPECT_TRUE(std::regex_search(run.output, std::regex(R"(valved.*[0-9]+\.[0-9]+\.[0-9]+)")))
      << run.Describe();
}

TEST_F(CommandLineTest, HelpDescribesValvesFlags) {
  RunResult run = RunToExit({"--help"}, 30s);
  EXPECT_EQ(run.ExitCode(), 0) << run.Describe();
  for (const char* flag : {"Usage", "-f, --file", "-n, --n-max", "-w, --workers", "-h, --host",
                           "-p, --port", "--n-min", "--max-age", "--check-unused"}) {
    EXPECT_NE(run.output.find(flag), std::string::npos) << "--help lacks " << flag;
  }
}

}  // namespace
}  // namespace valved::itest
