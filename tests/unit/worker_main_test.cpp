#include "worker/worker_main.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

namespace valved::worker {
namespace {

struct Argv {
  explicit Argv(std::vector<std::string> a) : args(std::move(a)) {
    for (auto& s : args) pointers.push_back(s.data());
    pointers.push_back(nullptr);
  }
  int argc() const { return static_cast<int>(args.size()); }
  char** argv() { return pointers.data(); }
  std::vector<std::string> args;
  std::vector<char*> pointers;
};

class WorkerArgsTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(pipe(fds_), 0); }
  void TearDown() override {
    close(fds_[0]);
    close(fds_[1]);
  }
  std::string Fd(int i) const { return std::to_string(fds_[i]); }
  int fds_[2] = {-1, -1};
};

TEST_F(WorkerArgsTest, ParsesTheMastersCommandLine) {
  Argv a({"valved", "worker", "--channel-fd=" + Fd(0), "--listen-fd=" + Fd(1), "--id=3",
          "--set=timeout=2s", "--set", "access_log=stderr"});
  std::string error;
  auto args = ParseWorkerArgs(a.argc(), a.argv(), &error);
  ASSERT_TRUE(args) << error;
  EXPECT_EQ(args->channel_fd, fds_[0]);
  EXPECT_EQ(args->listen_fd, fds_[1]);
  EXPECT_EQ(args->id, 3u);
  ASSERT_EQ(args->settings.size(), 2u);
  EXPECT_EQ(args->settings[0].first, "timeout");
  EXPECT_EQ(args->settings[0].second, "2s");
  EXPECT_EQ(args->settings[1].first, "access_log");
}

TEST_F(WorkerArgsTest, RejectsMissingOrBadArguments) {
  std::vector<std::vector<std::string>> bad = {
      {"valved", "worker", "--listen-fd=" + Fd(1), "--id=1"},                      // no channel
      {"valved", "worker", "--channel-fd=" + Fd(0), "--listen-fd=" + Fd(1)},       // no id
      {"valved", "worker", "--channel-fd=x", "--listen-fd=" + Fd(1), "--id=1"},    // not a number
      {"valved", "worker", "--channel-fd=999", "--listen-fd=" + Fd(1), "--id=1"},  // not open
      {"valved", "worker", "--channel-fd=" + Fd(0), "--listen-fd=" + Fd(1), "--id=1", "--bogus"},
      {"valved", "worker", "--channel-fd=" + Fd(0), "--listen-fd=" + Fd(1), "--id=1", "--set=x"},
  };
  for (auto& args : bad) {
    Argv a(args);
    std::string error;
    EXPECT_FALSE(ParseWorkerArgs(a.argc(), a.argv(), &error)) << args.back();
    EXPECT_FALSE(error.empty());
  }
}

TEST(WorkerConfig, AppliesSettingsInOrder) {
  Config config = BuildWorkerConfig({{"timeout", "2s"}, {"limit_request_line", "100"}});
  EXPECT_EQ(config.timeout, std::chrono::seconds(2));
  EXPECT_EQ(config.limit_request_line, 100);
}

TEST(WorkerConfig, UnknownSettingIsAConfigError) {
  EXPECT_THROW(BuildWorkerConfig({{"no_such_setting", "1"}}), ConfigError);
}

}  // namespace
}  // namespace valved::worker
