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
