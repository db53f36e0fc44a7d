// What an operator sees without the status listener: systemd's readiness
// protocol (a fake NOTIFY_SOCKET), the access log, R's output in valved's
// log, and process titles.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstring>
#include <ctime>
#include <fstream>
#include <regex>
#include <sstream>

#include "tests/integration/status_util.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

/// The test's end of systemd's notification socket: a Unix datagram socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::filesystem::path& path) : path_(path) {
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    bound_ = fd_ != -1 && bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~NotifySocket() {
    if (fd_ != -1) close(fd_);
  }
  bool bound() const { return bound_; }

  /// Waits up to `timeout` for a datagram containing `text`; returns every
  /// datagram received on the way, that one last (empty: none came).
  std::vector<std::string> WaitFor(const std::string& text, Millis timeout) {
    std::vector<std::string> got;
    auto deadline = SteadyClock::now() + timeout;
    while (SteadyClock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 100) != 1) continue;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      got.emplace_back(buf, static_cast<size_t>(n));
      all_.push_back(got.back());
      if (got.back().find(text) != std::string::npos) return got;
    }
    ADD_FAILURE() << "no notification with " << text << " within the deadline; got:\n" << Joined();
    return {};
  }
  std::string Joined() const {
    std::string text;
    for (const std::string& m : all_) text += "[" + m + "]\n";
    return text;
  }

 private:
  std::filesystem::path path_;
  int fd_ = -1;
  bool bound_ = false;
  std::vector<std::string> all_;
};

/// When the master logged each child's "Spawning -> Ready", in log order
/// (the log's UTC timestamps, to the millisecond).
std::vector<std::chrono::system_clock::time_point> ReadyLineTimes(const std::string& log) {
  static const std::regex kLine(
      R"((\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)\.(\d{3})Z [^\n]*Spawning -> Ready)");
  std::vector<std::chrono::system_clock::time_point> times;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kLine); it != std::sregex_iterator();
       ++it) {
    std::tm tm{};
    tm.tm_year = std::stoi((*it)[1]) - 1900;
    tm.tm_mon = std::stoi((*it)[2]) - 1;
    tm.tm_mday = std::stoi((*it)[3]);
    tm.tm_hour = std::stoi((*it)[4]);
    tm.tm_min = std::stoi((*it)[5]);
    tm.tm_sec = std::stoi((*it)[6]);
    times.push_back(std::chrono::system_clock::from_time_t(timegm(&tm)) +
                    std::chrono::milliseconds(std::stoi((*it)[7])));
  }
  return times;
}

bool AnyContains(const std::vector<std::string>& messages, const std::string& text) {
  return std::any_of(messages.begin(), messages.end(),
                     [&](const std::string& m) { return m.find(text) != std::string::npos; });
}

std::vector<std::string> FileLines(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

class ObserveTest : public StatusTest {};

TEST_F(ObserveTest, NotifySocketHearsReadyOnlyOnceNMinChildrenAreReady) {
  NotifySocket notify(dir() / "notify.sock");
  ASSERT_TRUE(notify.bound());
  std::ofstream(dir() / "gate") << "closed\n";
  Valved& valved = StartObserved({"--n-min", "2", "-n", "3"},
                                 {{"NOTIFY_SOCKET", (dir() / "notify.sock").string()}});
  // Starting: a STATUS, but no READY while the children's API is held back.
  std::vector<std::string> early = notify.WaitFor("STATUS=starting: not ready: 0 of 2", 60s);
  ASSERT_FALSE(early.empty());
  EXPECT_FALSE(AnyContains(early, "READY=1"));
  EXPECT_EQ(HttpGet(status_port(), "/readyz").status, 503);
  std::filesystem::remove(dir() / "gate");
  std::vector<std::string> ready = notify.WaitFor("READY=1", 120s);
  auto heard = std::chrono::system_clock::now();
  ASSERT_FALSE(ready.empty());
  EXPECT_NE(ready.back().find("STATUS=0/3 R children busy, queue 0"), std::string::npos)
      << ready.back();
  // The master logs "Spawning -> Ready" when a child is ready, and READY=1
  // after; its log reaches the test through a pipe, which may lag the
  // datagram. So: wait for the lines, then check when they were written.
  ASSERT_TRUE(Eventually(
      10s, [&] { return ReadyLineTimes(valved.Log()).size() >= 2; },
      "two \"Spawning -> Ready\" lines in the log"));
  EXPECT_LE(ReadyLineTimes(valved.Log())[1], heard + 1ms)
      << "READY=1 before two children were ready";
  EXPECT_GE(valved.ReadyRChildPids().size(), 2u);

  // A busy child shows in STATUS.
  std::thread slow([&] { EXPECT_EQ(HttpGet(valved.port(), "/sleep?s=2").status, 200); });
  EXPECT_FALSE(notify.WaitFor("STATUS=1/3 R children busy, queue 0", 30s).empty());
  slow.join();

  valved.Signal(SIGHUP);
  EXPECT_FALSE(notify.WaitFor("RELOADING=1", 30s).empty());
  std::vector<std::string> reloaded = notify.WaitFor("READY=1", 120s);
  ASSERT_FALSE(reloaded.empty());
  EXPECT_NE(valved.Log().find("reload: new children are serving"), std::string::npos);

  valved.Signal(SIGTERM);
  EXPECT_FALSE(notify.WaitFor("STOPPING=1", 30s).empty());
  EXPECT_TRUE(valved.WaitExit(45s).has_value());
}

TEST_F(ObserveTest, AccessLogHasOneLinePerRequestAtTheDefaultLevelAndReopens) {
  std::filesystem::path access = dir() / "access.log";
  Valved* valved = StartObservedServing({"--log-level", "notice", "--access-log", access.string(),
                                         "--max-body-size", "1k", "-w", "2"});
  ASSERT_NE(valved, nullptr);
  HttpRequest get;
  get.target = "/ok?x=1";
  get.headers = {{"User-Agent", "observe-test/1 \"quoted\""}, {"Referer", "http://r.example/"}};
  ASSERT_EQ(HttpConnection(valved->port()).Send(get).status, 200);
  ASSERT_EQ(HttpGet(valved->port(), "/missing").status, 404);
  ASSERT_EQ(HttpPost(valved->port(), "/upload", std::string(2048, 'x')).status, 413);
  ASSERT_TRUE(Eventually(
      10s, [&] { return FileLines(access).size() == 3; }, "3 access lines"));
  std::vector<std::string> lines = FileLines(access);
  std::regex ok(
      R"(^127\.0\.0\.1 - - \[\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET /ok\?x=1 HTTP/1\.1" 200 \d+ )"
      R"("http://r\.example/" "observe-test/1 \\"quoted\\"" time=\d+\.\d{3} queue=\d+\.\d{3} )"
      R"(r=\d+\.\d{3} child=1 worker=[12]$)");
  std::regex missing(
      R"(^127\.0\.0\.1 - - \[.*\] "GET /missing HTTP/1\.1" 404 \d+ "-" "-" .* child=1 worker=[12]$)");
  std::regex too_large(
      R"(^127\.0\.0\.1 - - \[.*\] "POST /upload HTTP/1\.1" 413 \d+ "-" "-" time=0\.000 queue=0\.000 r=0\.000 child=0 worker=[12]$)");
  // Two workers write to the file: the lines may come in any order.
  auto count = [&](const std::regex& r) {
    return std::count_if(lines.begin(), lines.end(),
                         [&](const std::string& l) { return std::regex_match(l, r); });
  };
  EXPECT_EQ(count(ok), 1) << lines[0] << "\n" << lines[1] << "\n" << lines[2];
  EXPECT_EQ(count(missing), 1);
  EXPECT_EQ(count(too_large), 1);
  EXPECT_EQ(valved->Log().find("GET /missing"), std::string::npos) << "access lines in the log";

  // logrotate: move the file away, USR1, and later lines go to a new file.
  std::filesystem::rename(access, dir() / "access.log.1");
  valved->Signal(SIGUSR1);
  size_t sent = 0;
  ASSERT_TRUE(Eventually(
      10s,
      [&] {
        EXPECT_EQ(HttpGet(valved->port(), "/ok").status, 200);
        ++sent;
        return std::filesystem::exists(access);
      },
      "a new access.log after SIGUSR1"));
  // Nothing lost: every request is in one file or the other.
  ASSERT_TRUE(Eventually(
      10s,
      [&] {
        return FileLines(dir() / "access.log.1").size() + FileLines(access).size() == 3 + sent;
      },
      "every request logged once"));
}

TEST_F(ObserveTest, RErrorsShowAtWarnAndEveryLineIsPrefixed) {
  Valved* valved = StartObservedServing({"--log-level", "notice"});
  ASSERT_NE(valved, nullptr);
  EXPECT_EQ(HttpGet(valved->port(), "/fail").status, 500);
  EXPECT_EQ(HttpGet(valved->port(), "/print").status, 200);
  std::regex error_line(
      R"(\[warn\] master\[\d+\]: child#1: R stderr: Error in endpoint GET /fail: observe fixture failed on purpose)");
  std::regex second_line(R"(\[warn\] master\[\d+\]: child#1: R stderr: and a second line)");
  ASSERT_TRUE(Eventually(
      10s, [&] { return !valved->LogLines(second_line).empty(); }, "R's stderr in the log"));
  EXPECT_EQ(valved->LogLines(error_line).size(), 1u) << valved->Log();
  // stdout is info: not shown at notice.
  EXPECT_EQ(valved->Log().find("observe fixture on stdout"), std::string::npos);
  // Every line of the log has a prefix.
  std::istringstream log(valved->Log());
  std::regex prefixed(R"(^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[\w+\] [\w#]+\[\d+\]: .*)");
  for (std::string line; std::getline(log, line);)
    EXPECT_TRUE(std::regex_match(line, prefixed)) << line;
}

TEST_F(ObserveTest, ProcessTitlesNameTheMasterAndEachWorker) {
  Valved* valved = StartObservedServing({"-w", "2"});
  ASSERT_NE(valved, nullptr);
  ASSERT_TRUE(Eventually(
      10s, [&] { return valved->Workers().size() == 2; }, "two workers"));
  std::optional<ProcInfo> master = ReadProc(valved->pid());
  ASSERT_TRUE(master);
  EXPECT_EQ(master->argv, std::vector<std::string>{"valved: master"});
  std::vector<std::string> titles;
  for (const ProcInfo& worker : valved->Workers()) titles.push_back(worker.argv.at(0));
  std::sort(titles.begin(), titles.end());
  EXPECT_EQ(titles, (std::vector<std::string>{"valved: worker 1", "valved: worker 2"}));
  std::ifstream comm("/proc/" + std::to_string(valved->pid()) + "/comm");
  std::string name;
  std::getline(comm, name);
  // comm stays the program name (as nginx's does): `valved -s` finds the
  // master through pid_file by comparing it.
  EXPECT_EQ(name, "valved");
}

}  // namespace
}  // namespace valved::itest
