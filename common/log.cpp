#include "common/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include "common/unique_fd.h"

namespace valved {
namespace {

struct LogState {
  std::string role = "valved";
  LogLevel threshold = LogLevel::kNotice;
  std::string path;  // empty: stderr
  UniqueFd file;
};

LogState& State() {
  static LogState state;
  return state;
}

int OutputFd() { return State().file.valid() ? State().file.get() : STDERR_FILENO; }

std::string Timestamp() {
  timeval tv{};
  gettimeofday(&tv, nullptr);
  tm utc{};
  gmtime_r(&tv.tv_sec, &utc);
  char buf[64];
  size_t n = strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &utc);
  snprintf(buf + n, sizeof buf - n, ".%03ldZ", static_cast<long>(tv.tv_usec / 1000));
  return buf;
}

}  // namespace

const char* ToString(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "error";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kNotice:
      return "notice";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kDebug:
      return "debug";
  }
  return "?";
}

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  for (LogLevel l :
       {LogLevel::kError, LogLevel::kWarn, LogLevel::kNotice, LogLevel::kInfo, LogLevel::kDebug}) {
    if (name == ToString(l)) return l;
  }
  return std::nullopt;
}

void InitLog(std::string role, LogLevel threshold) {
  State().role = std::move(role);
  State().threshold = threshold;
}

void SetLogLevel(LogLevel threshold) { State().threshold = threshold; }

bool LogEnabled(LogLevel level) { return level <= State().threshold; }

bool SetLogFile(const std::string& path, std::string* error) {
  if (path.empty()) {
    State().file.reset();
    State().path.clear();
    return true;
  }
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd == -1) {
    if (error) *error = "cannot open log file " + path + ": " + ErrnoString(errno);
    return false;
  }
  State().file.reset(fd);
  State().path = path;
  return true;
}

bool ReopenLog(std::string* error) {
  if (State().path.empty()) return true;
  std::string path = State().path;
  return SetLogFile(path, error);
}

void WriteLogLine(LogLevel level, std::string_view message) {
  std::string prefix = Timestamp() + " [" + ToString(level) + "] " + State().role + "[" +
                       std::to_string(getpid()) + "]: ";
  if (!State().file.valid() && StderrIsJournal()) prefix = JournalPrefix(level) + prefix;
  std::string text;
  size_t start = 0;
  while (true) {
    size_t nl = message.find('\n', start);
    text += prefix;
    if (start > 0) text += "  ";  // a continuation: indented, so it reads as one message
    text += message.substr(start, nl == std::string_view::npos ? nl : nl - start);
    text += '\n';
    if (nl == std::string_view::npos) break;
    start = nl + 1;
  }
  // One write() per message, so lines from several processes sharing stderr
  // (master, workers) do not interleave mid-line.
  WriteWhole(OutputFd(), text);
}

void WriteWhole(int fd, std::string_view data) {
  const char* p = data.data();
  size_t left = data.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n == -1 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

const char* JournalPrefix(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return "<3>";
    case LogLevel::kWarn:
      return "<4>";
    case LogLevel::kNotice:
      return "<5>";
    case LogLevel::kInfo:
      return "<6>";
    case LogLevel::kDebug:
      return "<7>";
  }
  return "<6>";
}

bool StderrIsJournal() {
  // Checked once per process: stderr does not change after start-up.
  static const bool is_journal = [] {
    const char* stream = std::getenv("JOURNAL_STREAM");
    struct stat st {};
    if (!stream || fstat(STDERR_FILENO, &st) == -1) return false;
    unsigned long long dev = 0, ino = 0;
    if (std::sscanf(stream, "%llu:%llu", &dev, &ino) != 2) return false;
    return dev == static_cast<unsigned long long>(st.st_dev) &&
           ino == static_cast<unsigned long long>(st.st_ino);
  }();
  return is_journal;
}

std::string ErrnoString(int err) { return std::to_string(err) + ": " + std::strerror(err); }

}  // namespace valved
