// Users and groups: name resolution with clear errors, the root rule, and
// (when the tests run as root) dropping privileges for real in a child.
#include "common/privileges.h"

#include <grp.h>
#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "master/runtime_dir.h"
#include "tests/unit/temp_dir.h"

namespace valved {
namespace {

/// The ConfigError message of ChildIdentity, or "".
std::string IdentityError(const Config& config, uid_t euid) {
  try {
    ChildIdentity(config, euid);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

Config WithUser(const std::string& user, const std::string& group = "") {
  Config config;
  config.user = user;
  config.group = group;
  return config;
}

/// Runs `body` in a forked child and returns its exit code (or 100 + signal).
template <typename Body>
int InChild(Body body) {
  pid_t pid = fork();
  if (pid == 0) _exit(body());
  int status = 0;
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 100 + WTERMSIG(status);
}

TEST(ResolveIdentity, NobodyByNameAndByNumber) {
  Identity nobody = ResolveIdentity("nobody", "");
  passwd* entry = getpwnam("nobody");
  ASSERT_NE(entry, nullptr);
  EXPECT_EQ(nobody.user, "nobody");
  EXPECT_EQ(nobody.uid, entry->pw_uid);
  EXPECT_EQ(nobody.gid, entry->pw_gid);  // the primary group by default
  EXPECT_EQ(nobody.home, entry->pw_dir);
  EXPECT_FALSE(nobody.group.empty());
  Identity by_number = ResolveIdentity(std::to_string(entry->pw_uid), "");
  EXPECT_EQ(by_number.user, "nobody");
  EXPECT_EQ(by_number.uid, nobody.uid);
}

TEST(ResolveIdentity, ExplicitGroupByNameAndNumber) {
  Identity root_group = ResolveIdentity("nobody", "root");
  EXPECT_EQ(root_group.group, "root");
  EXPECT_EQ(root_group.gid, 0u);
  Identity numbered = ResolveIdentity("nobody", "0");
  EXPECT_EQ(numbered.gid, 0u);
  EXPECT_EQ(numbered.group, "root");
  // A number without a group entry is still a gid setgid() can use.
  Identity unnamed = ResolveIdentity("nobody", "54321");
  EXPECT_EQ(unnamed.gid, 54321u);
  EXPECT_EQ(unnamed.group, "54321");
}

TEST(ResolveIdentity, UnknownNamesAreConfigErrorsNamingTheSetting) {
  try {
    ResolveIdentity("valvd", "");
    FAIL() << "resolved a user that does not exist";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "user: no such user \"valvd\"");
  }
  try {
    ResolveIdentity("nobody", "wheell");
    FAIL() << "resolved a group that does not exist";
  } catch (const ConfigError& e) {
    EXPECT_STREQ(e.what(), "group: no such group \"wheell\"");
  }
  // A uid without a passwd entry has no name for initgroups().
  EXPECT_THROW(ResolveIdentity("54321", ""), ConfigError);
}

TEST(ChildIdentity, NotRootMeansAsTheMasterButNamesAreStillChecked) {
  EXPECT_EQ(ChildIdentity(Config{}, 1000), std::nullopt);
  EXPECT_EQ(ChildIdentity(WithUser("nobody"), 1000), std::nullopt);
  EXPECT_EQ(IdentityError(WithUser("valvd"), 1000), "user: no such user \"valvd\"");
}

TEST(ChildIdentity, RootWithoutUserIsRefusedUnlessAllowed) {
  std::string error = IdentityError(Config{}, 0);
  EXPECT_EQ(error,
            "valved is running as root and would run the R children (the API's code) and the "
            "workers as root; set user to the user they should run as (for example \"user: "
            "nobody\", or --user nobody), or set allow_root: true (--allow-root) to run them as "
            "root");
  Config allowed;
  allowed.allow_root = true;
  EXPECT_EQ(ChildIdentity(allowed, 0), std::nullopt);
}

TEST(ChildIdentity, RootWithUserSwitchesToIt) {
  std::optional<Identity> identity = ChildIdentity(WithUser("nobody"), 0);
  ASSERT_TRUE(identity);
  EXPECT_EQ(identity->user, "nobody");
  Config allowed = WithUser("nobody");
  allowed.allow_root = true;  // allows root; does not stop a switch to nobody
  ASSERT_TRUE(ChildIdentity(allowed, 0));
}

TEST(ChildIdentity, UserRootNeedsAllowRoot) {
  EXPECT_EQ(IdentityError(WithUser("root"), 0).rfind("user: \"root\" is root; set user", 0), 0u);
  Config allowed = WithUser("root");
  allowed.allow_root = true;
  ASSERT_TRUE(ChildIdentity(allowed, 0));
}

TEST(DropPrivileges, BecomesNobodyForGood) {
  if (geteuid() != 0) GTEST_SKIP() << "dropping privileges needs root; running as " << geteuid();
  Identity nobody = ResolveIdentity("nobody", "");
  int code = InChild([&] {
    DropPrivileges(nobody);
    if (getuid() != nobody.uid || geteuid() != nobody.uid) return 1;
    if (getgid() != nobody.gid || getegid() != nobody.gid) return 2;
    if (setuid(0) != -1) return 3;
    // Root's supplementary groups are gone.
    gid_t groups[64];
    int n = getgroups(64, groups);
    for (int i = 0; i < n; ++i) {
      if (groups[i] == 0) return 4;
    }
    return 0;
  });
  EXPECT_EQ(code, 0);
}

TEST(DropPrivileges, FailureThrowsWithTheCall) {
  if (geteuid() != 0)
    GTEST_SKIP() << "needs root to get past initgroups(); running as " << geteuid();
  Identity nobody = ResolveIdentity("nobody", "");
  int code = InChild([&] {
    DropPrivileges(nobody);
    try {
      DropPrivileges(ResolveIdentity("root", ""));  // no way back
    } catch (const std::system_error& e) {
      return std::string(e.what()).rfind("initgroups(root, 0): ", 0) == 0 ? 0 : 1;
    }
    return 2;
  });
  EXPECT_EQ(code, 0);
}

TEST(DropConfiguredPrivileges, NothingToDoWhenNotRootOrAllowed) {
  Config allowed;
  allowed.allow_root = true;
  EXPECT_TRUE(DropConfiguredPrivileges(allowed));  // root: stays root; else: no user
  if (geteuid() == 0) {
    EXPECT_FALSE(DropConfiguredPrivileges(Config{}));  // the root rule refuses; logged
  }
}

class FileTest : public ::testing::Test {
 protected:
  FileTest() { dir_ = temp_.path(); }
  testing::TempDir temp_;  // declared first: removed last
  std::string dir_;
};

TEST_F(FileTest, GiveFileToChownsRegularFilesOnly) {
  std::string error;
  Identity nobody = ResolveIdentity("nobody", "");
  EXPECT_TRUE(GiveFileTo("", nobody, &error));
  EXPECT_FALSE(GiveFileTo(dir_ + "/missing.log", nobody, &error));
  EXPECT_NE(error.find("missing.log"), std::string::npos) << error;
  if (geteuid() != 0) GTEST_SKIP() << "chown needs root";
  std::string log = dir_ + "/valved.log";
  std::ofstream(log) << "x\n";
  ASSERT_TRUE(GiveFileTo(log, nobody, &error)) << error;
  struct stat st {};
  ASSERT_EQ(stat(log.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody.uid);
  EXPECT_EQ(st.st_gid, 0u);  // the group stays
  // Never through a symlink: it could point anywhere.
  std::string link = dir_ + "/link.log";
  std::filesystem::create_symlink(log, link);
  EXPECT_FALSE(GiveFileTo(link, ResolveIdentity("root", ""), &error));
}

TEST_F(FileTest, TraversalBlockerNamesTheClosedDirectory) {
  Identity nobody = ResolveIdentity("nobody", "");
  EXPECT_EQ(FindAccessBlocker("/", nobody, false), "");
  std::string closed = dir_ + "/closed";
  std::filesystem::create_directories(closed + "/inner");
  chmod(closed.c_str(), 0700);
  chmod(dir_.c_str(), 0755);
  // Owned by whoever runs the test; nobody is "other" unless it runs as nobody.
  if (getuid() == nobody.uid) GTEST_SKIP() << "running as nobody";
  std::string blocker = FindAccessBlocker(closed + "/inner", nobody, false);
  EXPECT_EQ(blocker, closed + " (owner " + std::to_string(getuid()) + ", mode 0700)");
  chmod(closed.c_str(), 0711);
  EXPECT_EQ(FindAccessBlocker(closed + "/inner", nobody, false), "");
  EXPECT_EQ(FindAccessBlocker(closed + "/inner/", nobody, false), "");
  EXPECT_EQ(FindAccessBlocker(closed + "/missing/file", nobody, true), "");
}

TEST_F(FileTest, AccessBlockerWithReadChecksTheFileItself) {
  Identity nobody = ResolveIdentity("nobody", "");
  if (getuid() == nobody.uid) GTEST_SKIP() << "running as nobody";
  chmod(dir_.c_str(), 0755);
  std::string api = dir_ + "/plumber.R";
  std::ofstream(api) << "1\n";
  chmod(api.c_str(), 0600);
  EXPECT_EQ(FindAccessBlocker(api, nobody, false), "");  // reachable, not readable
  EXPECT_EQ(FindAccessBlocker(api, nobody, true),
            api + " (owner " + std::to_string(getuid()) + ", mode 0600)");
  chmod(api.c_str(), 0644);
  EXPECT_EQ(FindAccessBlocker(api, nobody, true), "");
  chmod(dir_.c_str(), 0711);  // a directory API needs read on the directory itself
  EXPECT_NE(FindAccessBlocker(dir_, nobody, true), "");
  EXPECT_EQ(FindAccessBlocker(dir_, ResolveIdentity("root", ""), true), "");
}

TEST_F(FileTest, RuntimeDirIsGivenToTheChildrensUser) {
  if (geteuid() != 0) GTEST_SKIP() << "chown needs root";
  Identity nobody = ResolveIdentity("nobody", "");
  chmod(dir_.c_str(), 0711);
  std::string path = master::CreateRuntimeDir(dir_, nobody);
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, nobody.uid);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  master::RemoveRuntimeDir(path);
  chmod(dir_.c_str(), 0700);
  try {
    master::CreateRuntimeDir(dir_, nobody);
    FAIL() << "made a runtime directory nobody cannot reach";
  } catch (const std::runtime_error& e) {
    EXPECT_EQ(std::string(e.what()), "runtime_dir: user nobody cannot reach " + dir_ + ": " + dir_ +
                                         " (owner 0, mode 0700) is in the way");
  }
}

}  // namespace
}  // namespace valved
