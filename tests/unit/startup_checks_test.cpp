// CheckPaths: what the configuration points at, as -t, start-up and reload
// check it (the run-as checks are in command_line_test's CheckConfigTest).
#include "master/startup_checks.h"

#include <gtest/gtest.h>

#include <string>

#include "tests/unit/temp_dir.h"

namespace valved::master {
namespace {

using testing::TempDir;

TEST(CheckPaths, DirectoryNeedsEntrypointOrPlumberR) {
  TempDir dir;
  Config config;
  config.rscript = "/bin/sh";
  config.file = dir.path();
  try {
    CheckPaths(config);
    FAIL() << "accepted a directory without an API";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "file: " + dir.path() + " is a directory without entrypoint.R or plumber.R");
  }
  dir.Write("Entrypoint.R", "pr()\n");  // plumb(dir=) ignores case
  EXPECT_NO_THROW(CheckPaths(config));
}

TEST(CheckPaths, RscriptMustBeAnExecutable) {
  TempDir dir;
  Config config;
  config.file = dir.Write("plumber.R", "");
  config.rscript = "valved-no-such-rscript";
  EXPECT_THROW(CheckPaths(config), ConfigError);
  config.rscript = config.file;  // exists, but is not executable
  try {
    CheckPaths(config);
    FAIL() << "accepted a non-executable rscript";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "rscript: " + config.file + " is not an executable file");
  }
  config.rscript = "sh";
  EXPECT_NO_THROW(CheckPaths(config));
}

}  // namespace
}  // namespace valved::master
