// The log: level names, the threshold, the line format, and reopening the
// file after logrotate moved it.
#include "common/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/unit/temp_dir.h"

namespace valved {
namespace {

using testing::TempDir;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

/// Logs to a file for one test, then back to stderr at the quiet level.
class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.path() + "/valved.log";
    ASSERT_TRUE(SetLogFile(path_, nullptr));
    InitLog("tester#2", LogLevel::kNotice);
  }
  void TearDown() override {
    SetLogFile("", nullptr);
    InitLog("test", LogLevel::kError);
  }
  TempDir dir_;
  std::string path_;
};

TEST(LogLevelNames, ParseIsTheInverseOfToString) {
  for (LogLevel level :
       {LogLevel::kError, LogLevel::kWarn, LogLevel::kNotice, LogLevel::kInfo, LogLevel::kDebug}) {
    EXPECT_EQ(ParseLogLevel(ToString(level)), level);
  }
  EXPECT_EQ(ParseLogLevel("warning"), std::nullopt);
  EXPECT_EQ(ParseLogLevel("NOTICE"), std::nullopt);
}

TEST(ErrnoString, NumberAndText) { EXPECT_EQ(ErrnoString(ENOENT), "2: No such file or directory"); }

TEST_F(LogTest, OneLinePerEventWithTimeLevelRoleAndPid) {
  Log(LogLevel::kNotice) << "child#" << 3 << ": ready";
  std::regex line(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[notice\] tester#2\[)" +
                  std::to_string(getpid()) + R"(\]: child#3: ready\n)");
  EXPECT_TRUE(std::regex_match(ReadAll(path_), line)) << ReadAll(path_);
}

TEST_F(LogTest, LinesAboveTheThresholdAreDropped) {
  Log(LogLevel::kInfo) << "dropped";
  EXPECT_FALSE(LogEnabled(LogLevel::kInfo));
  SetLogLevel(LogLevel::kDebug);
  EXPECT_TRUE(LogEnabled(LogLevel::kDebug));
  Log(LogLevel::kDebug) << "kept";
  std::string text = ReadAll(path_);
  EXPECT_EQ(text.find("dropped"), std::string::npos) << text;
  EXPECT_NE(text.find("[debug]"), std::string::npos) << text;
}

TEST_F(LogTest, ReopenStartsANewFileAfterRotation) {
  Log(LogLevel::kError) << "before";
  std::filesystem::rename(path_, path_ + ".1");
  std::string error;
  ASSERT_TRUE(ReopenLog(&error)) << error;
  Log(LogLevel::kError) << "after";
  EXPECT_NE(ReadAll(path_ + ".1").find("before"), std::string::npos);
  EXPECT_EQ(ReadAll(path_ + ".1").find("after"), std::string::npos);
  EXPECT_NE(ReadAll(path_).find("after"), std::string::npos);
}

TEST_F(LogTest, AnUnopenableFileKeepsTheOldDestination) {
  std::string error;
  EXPECT_FALSE(SetLogFile(dir_.path() + "/no/such/dir/log", &error));
  EXPECT_NE(error.find("cannot open log file"), std::string::npos) << error;
  Log(LogLevel::kError) << "still here";
  EXPECT_NE(ReadAll(path_).find("still here"), std::string::npos);
}

TEST(Log, EveryLineOfAMultiLineMessageHasThePrefixAndLaterOnesAreIndented) {
  TempDir dir;
  std::string path = dir.path() + "/valved.log";
  std::string error;
  ASSERT_TRUE(SetLogFile(path, &error)) << error;
  WriteLogLine(LogLevel::kError, "reload abandoned:\nError in foo: bar\nstill serving");
  ASSERT_TRUE(SetLogFile("", &error));
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 3u);
  std::regex prefix(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[error\] test\[\d+\]: )");
  for (const std::string& line : lines) EXPECT_TRUE(std::regex_search(line, prefix)) << line;
  EXPECT_NE(lines[0].find("]: reload abandoned:"), std::string::npos);
  EXPECT_NE(lines[1].find("]:   Error in foo: bar"), std::string::npos);
  EXPECT_NE(lines[2].find("]:   still serving"), std::string::npos);
}

TEST(Log, JournalPrioritiesFollowSyslog) {
  EXPECT_STREQ(JournalPrefix(LogLevel::kError), "<3>");
  EXPECT_STREQ(JournalPrefix(LogLevel::kWarn), "<4>");
  EXPECT_STREQ(JournalPrefix(LogLevel::kNotice), "<5>");
  EXPECT_STREQ(JournalPrefix(LogLevel::kInfo), "<6>");
  EXPECT_STREQ(JournalPrefix(LogLevel::kDebug), "<7>");
}

}  // namespace
}  // namespace valved
