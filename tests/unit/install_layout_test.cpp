// Where valved finds its R launcher for a binary installed under some prefix.
#include "master/install_layout.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <optional>
#include <string>

#include "common/config.h"
#include "tests/unit/temp_dir.h"

namespace valved::master {
namespace {

class InstallLayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (const char* env = getenv("VALVED_LAUNCHER")) saved_ = env;
    unsetenv("VALVED_LAUNCHER");
  }
  void TearDown() override {
    if (saved_) setenv("VALVED_LAUNCHER", saved_->c_str(), 1);
  }
  valved::testing::TempDir prefix_;
  std::optional<std::string> saved_;
};

TEST_F(InstallLayoutTest, LauncherBesideTheBinaryComesFirst) {
  std::filesystem::create_directories(prefix_.path() + "/share/valved");
  std::string launcher = prefix_.Write("share/valved/launcher.R", "# launcher\n");
  EXPECT_EQ(FindLauncherScript(prefix_.path() + "/sbin/valved"), launcher);
  EXPECT_EQ(FindLauncherScript(prefix_.path() + "/bin/valved"), launcher);
}

TEST_F(InstallLayoutTest, WithoutOneBesideTheBinaryFallsBackToTheBuildTimePaths) {
  std::string found = FindLauncherScript(prefix_.path() + "/sbin/valved");
  EXPECT_TRUE(found == std::string(VALVED_DATADIR) + "/launcher.R" ||
              found == std::string(VALVED_SOURCE_DIR) + "/r/launcher.R")
      << found;
}

TEST_F(InstallLayoutTest, TheEnvironmentOverridesEverything) {
  setenv("VALVED_LAUNCHER", "/nowhere/launcher.R", 1);
  EXPECT_EQ(FindLauncherScript(prefix_.path() + "/sbin/valved"), "/nowhere/launcher.R");
  EXPECT_THROW(CheckLauncherScript(), ConfigError) << "-t must fail when R would not start";
}

}  // namespace
}  // namespace valved::master
