// FindExecutable: PATH lookup, empty entries skipped, a slash means "as given".
#include "master/executable_path.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <optional>

#include "tests/unit/temp_dir.h"

namespace valved::master {
namespace {

using testing::TempDir;

/// Sets PATH for one test and puts the old one back.
class PathGuard {
 public:
  explicit PathGuard(const char* path) {
    if (const char* old = getenv("PATH")) old_ = old;
    path ? setenv("PATH", path, 1) : unsetenv("PATH");
  }
  ~PathGuard() { old_ ? setenv("PATH", old_->c_str(), 1) : unsetenv("PATH"); }

 private:
  std::optional<std::string> old_;
};

std::string WriteProgram(const TempDir& dir, const std::string& name, mode_t mode) {
  std::string path = dir.Write(name, "#!/bin/sh\n");
  chmod(path.c_str(), mode);
  return path;
}

TEST(FindExecutable, LooksInEachPathDirectory) {
  TempDir first, second;
  WriteProgram(first, "prog", 0644);  // not executable: passed over
  std::string wanted = WriteProgram(second, "prog", 0755);
  PathGuard path((first.path() + "::" + second.path()).c_str());
  EXPECT_EQ(FindExecutable("prog"), wanted);
  EXPECT_EQ(FindExecutable("no-such-prog"), "");
}

TEST(FindExecutable, ASlashMeansThePathAsGiven) {
  TempDir dir;
  std::string program = WriteProgram(dir, "prog", 0755);
  std::string plain = WriteProgram(dir, "plain", 0644);
  EXPECT_EQ(FindExecutable(program), program);
  EXPECT_EQ(FindExecutable(plain), "");
  EXPECT_EQ(FindExecutable(dir.path()), "") << "a directory is not a program";
}

TEST(FindExecutable, WithoutPathUsesTheDefaultDirectories) {
  PathGuard path(nullptr);
  EXPECT_EQ(SearchPath(), "/usr/local/bin:/usr/bin:/bin");
  EXPECT_NE(FindExecutable("sh"), "");
}

}  // namespace
}  // namespace valved::master
