// The pid file: written whole, refused while a valved runs, replaced when
// stale, removed only by its creator.
#include "master/pidfile.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "common/config.h"
#include "tests/unit/temp_dir.h"

namespace valved::master {
namespace {

class PidFileTest : public ::testing::Test {
 protected:
  PidFileTest() {
    dir_ = temp_.path();
    path_ = dir_ + "/valved.pid";
  }

  void Write(const std::string& text) { std::ofstream(path_) << text; }
  std::string Read() const {
    std::ifstream in(path_);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }
  /// Only the pid file is left in the directory: no temporary files.
  bool OnlyThePidFileIsThere() const {
    int entries = 0;
    for (const auto& entry : std::filesystem::directory_iterator(dir_)) {
      if (entry.path() != path_) return false;
      ++entries;
    }
    return entries <= 1;
  }

  static bool Running(pid_t) { return true; }
  static bool NotRunning(pid_t) { return false; }

  testing::TempDir temp_;  // declared first: removed last
  std::string dir_;
  std::string path_;
  const std::string ours_ = std::to_string(getpid()) + "\n";
};

TEST(ParsePid, AcceptsDigitsWithOptionalNewline) {
  EXPECT_EQ(ParsePid("4120\n"), 4120);
  EXPECT_EQ(ParsePid("1"), 1);
  for (const char* bad :
       {"", "\n", "abc", "12a", "-5", "+5", "0", " 12", "12\n\n", "12 ", "99999999999999999999"}) {
    EXPECT_EQ(ParsePid(bad), std::nullopt) << '"' << bad << '"';
  }
}

TEST_F(PidFileTest, CreateWritesOurPidAndRemoveDeletesIt) {
  PidFile file = PidFile::Create(path_, NotRunning);
  EXPECT_EQ(file.path(), path_);
  EXPECT_EQ(Read(), ours_);
  EXPECT_TRUE(OnlyThePidFileIsThere());
  struct stat st {};
  ASSERT_EQ(stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  file.Remove();
  EXPECT_FALSE(std::filesystem::exists(path_));
  file.Remove();  // a second time is harmless
}

TEST_F(PidFileTest, RefusesWhileTheNamedValvedRuns) {
  Write("4242\n");
  try {
    PidFile::Create(path_, Running);
    FAIL() << "replaced the pid file of a running valved";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "valved is already running (pid 4242, pid file " + path_ + ")");
  }
  EXPECT_EQ(Read(), "4242\n");
  EXPECT_TRUE(OnlyThePidFileIsThere());
}

TEST_F(PidFileTest, ReplacesAFileWhosePidIsGone) {
  Write("4242\n");
  PidFile file = PidFile::Create(path_, NotRunning);
  EXPECT_EQ(Read(), ours_);
  EXPECT_TRUE(OnlyThePidFileIsThere());
  file.Remove();
}

TEST_F(PidFileTest, ReplacesAFileWithoutAPid) {
  for (const char* text : {"", "garbage\n", "0\n"}) {
    Write(text);
    PidFile file = PidFile::Create(path_, Running);
    EXPECT_EQ(Read(), ours_) << '"' << text << '"';
    file.Remove();
  }
}

// In a container the master is pid 1 at every start: a file naming our own
// pid was left by an earlier life, even though "pid 1 is running".
TEST_F(PidFileTest, ReplacesAFileNamingOurOwnPid) {
  Write(ours_);
  PidFile file = PidFile::Create(path_, Running);
  EXPECT_EQ(Read(), ours_);
  file.Remove();
}

TEST_F(PidFileTest, RemoveLeavesAFileThatNowNamesAnotherProcess) {
  PidFile file = PidFile::Create(path_, NotRunning);
  Write("4242\n");  // a newer valved took it over
  file.Remove();
  EXPECT_EQ(Read(), "4242\n");
}

TEST_F(PidFileTest, RemoveInAForkedChildLeavesTheFile) {
  PidFile file = PidFile::Create(path_, NotRunning);
  pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) {
    file.Remove();
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(Read(), ours_);
  file.Remove();
  EXPECT_FALSE(std::filesystem::exists(path_));
}

TEST_F(PidFileTest, UnwritableLocationIsAConfigError) {
  std::string path = dir_ + "/no/such/dir/valved.pid";
  try {
    PidFile::Create(path, NotRunning);
    FAIL() << "created a pid file in a missing directory";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()), "pid_file: cannot create " + path + "." +
                                         std::to_string(getpid()) +
                                         ".tmp: 2: No such file or directory");
  }
}

TEST_F(PidFileTest, ReadPidFileErrors) {
  try {
    ReadPidFile(path_);
    FAIL();
  } catch (const PidFileError& e) {
    EXPECT_EQ(e.error(), ENOENT);
    EXPECT_EQ(std::string(e.what()),
              "cannot read pid file " + path_ + ": No such file or directory");
  }
  Write("valved\n");
  try {
    ReadPidFile(path_);
    FAIL();
  } catch (const PidFileError& e) {
    EXPECT_EQ(e.error(), 0);
    EXPECT_EQ(std::string(e.what()),
              "pid file " + path_ + " does not hold a process id (\"valved\\n\")");
  }
  try {
    ReadPidFile(dir_);  // root reads anything, but not a directory
    FAIL();
  } catch (const PidFileError& e) {
    EXPECT_EQ(e.error(), EISDIR);
  }
  Write("77\n");
  EXPECT_EQ(ReadPidFile(path_), 77);
}

TEST(IsValvedRunning, OurselvesYesAGoneProcessNo) {
  EXPECT_TRUE(IsValvedRunning(getpid()));
  pid_t child = fork();
  ASSERT_NE(child, -1);
  if (child == 0) _exit(0);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_FALSE(IsValvedRunning(child));  // reaped: gone (unless reused at once)
  EXPECT_FALSE(IsValvedRunning(0));
  EXPECT_FALSE(IsValvedRunning(-1));
}

TEST(IsValvedRunning, APidOfAnotherProgramIsNotValved) {
  // Our parent (ctest, a shell) runs another program than this test binary.
  std::ifstream comm("/proc/" + std::to_string(getppid()) + "/comm");
  std::ifstream self("/proc/self/comm");
  std::string theirs, ours;
  std::getline(comm, theirs);
  std::getline(self, ours);
  if (theirs.empty() || theirs == ours) GTEST_SKIP() << "parent's name unknown or the same";
  EXPECT_FALSE(IsValvedRunning(getppid()));
}

}  // namespace
}  // namespace valved::master
