#include "common/log.h"

#include <fcntl.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
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
  std::string line = Timestamp();
  line += " [";
  line += ToString(level);
  line += "] ";
  line += State().role;
  line += "[" + std::to_string(getpid()) + "]: ";
  line += message;
  line += '\n';
  // One write() per line, so lines from several processes sharing stderr
  // (master, workers) do not interleave mid-line.
  const char* p = line.data();
  size_t left = line.size();
  while (left > 0) {
    ssize_t n = ::write(OutputFd(), p, left);
    if (n == -1 && errno == EINTR) continue;
    if (n <= 0) return;
    p += n;
    left -= static_cast<size_t>(n);
  }
}

std::string ErrnoString(int err) { return std::to_string(err) + ": " + std::strerror(err); }

}  // namespace valved
