// LocateApi accepts exactly what plumber::plumb() loads, and says where R runs.
#include "master/api_location.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/config.h"
#include "tests/unit/temp_dir.h"

namespace valved::master {
namespace {

using testing::TempDir;

std::string Canonical(const std::string& path) { return std::filesystem::canonical(path); }

TEST(LocateApi, AFileRunsInItsDirectory) {
  TempDir dir;
  std::string file = dir.Write("api.R", "");
  ApiLocation api = LocateApi(file);
  EXPECT_EQ(api.path, Canonical(file));
  EXPECT_EQ(api.working_dir, Canonical(dir.path()));
}

TEST(LocateApi, ADirectoryHoldingPlumberRInAnyCase) {
  TempDir dir;
  EXPECT_THROW(LocateApi(dir.path()), ConfigError);
  dir.Write("Plumber.R", "");
  ApiLocation api = LocateApi(dir.path());
  EXPECT_EQ(api.path, Canonical(dir.path()));
  EXPECT_EQ(api.working_dir, api.path);
}

TEST(LocateApi, AMissingFileNamesTheSetting) {
  TempDir dir;
  std::string missing = dir.path() + "/missing.R";
  try {
    LocateApi(missing);
    FAIL() << "accepted a missing file";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).rfind("file: cannot use the API " + missing + ": ", 0), 0u)
        << e.what();
  }
}

}  // namespace
}  // namespace valved::master
