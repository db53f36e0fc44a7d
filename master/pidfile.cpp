// Principle: a pid file is never seen half-written. Its text is written to a
// temporary file beside it, then published with link() (which fails if the
// pid file exists, so two masters starting at once cannot both claim it) or,
// when the existing file is stale, with rename() (which replaces it in one
// step). Readers therefore see either no file, the old text or the new text.
//
// Two masters that find the same stale file at the same moment may both
// rename over it; the later one wins the file, and at most one of them can
// bind the port, so the loser exits and its Remove() leaves the winner's
// file alone (it no longer holds the loser's pid).
#include "master/pidfile.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <optional>

#include "common/config.h"
#include "common/log.h"
#include "common/parse_text.h"

namespace valved::master {
namespace {

constexpr size_t kMaxPidFileBytes = 64;

std::string ReadFirstLine(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

std::string ProcessName(pid_t pid) {
  return ReadFirstLine("/proc/" + std::to_string(pid) + "/comm");
}

std::string Shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 20)) out += (c == '\n') ? "\\n" : std::string(1, c);
  return "\"" + out + (text.size() > 20 ? "..." : "") + "\"";
}

/// Writes "<pid>\n" to a new temporary file next to `path`; returns its name.
std::string WriteTemporary(const std::string& path, pid_t pid) {
  std::string temp = path + "." + std::to_string(pid) + ".tmp";
  unlink(temp.c_str());  // left over from an earlier life with this pid
  int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd == -1) {
    throw ConfigError("pid_file: cannot create " + temp + ": " + ErrnoString(errno));
  }
  std::string text = std::to_string(pid) + "\n";
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  int err = errno;
  if (close(fd) == -1 && ok) {
    ok = false;
    err = errno;
  }
  if (!ok) {
    unlink(temp.c_str());
    throw ConfigError("pid_file: cannot write " + temp + ": " + ErrnoString(err));
  }
  return temp;
}

/// Why the existing pid file is stale, or nullopt when it names a running
/// valved. A file that vanished meanwhile is stale too ("").
std::optional<std::string> Staleness(const std::string& path, const PidFile::Probe& is_running,
                                     pid_t* pid) {
  try {
    *pid = ReadPidFile(path);
  } catch (const PidFileError& e) {
    if (e.error() == ENOENT) return "";
    if (e.error() != 0) throw ConfigError(std::string("pid_file: ") + e.what());
    return "it does not hold a process id";
  }
  // Our own pid in an existing file is a file from an earlier life: in a
  // container the master is pid 1 every time.
  if (*pid == getpid()) return "its pid " + std::to_string(*pid) + " is this process";
  if (!is_running(*pid)) return "pid " + std::to_string(*pid) + " is not a running valved";
  return std::nullopt;
}

}  // namespace

std::optional<pid_t> ParsePid(std::string_view text) {
  if (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  std::optional<pid_t> pid = ParseNumber<pid_t>(text);
  if (!pid || *pid <= 0) return std::nullopt;
  return pid;
}

pid_t ReadPidFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd == -1) {
    int err = errno;
    throw PidFileError("cannot read pid file " + path + ": " + std::strerror(err), err);
  }
  char buf[kMaxPidFileBytes];
  ssize_t n = read(fd, buf, sizeof buf);
  int err = errno;
  close(fd);
  if (n == -1) throw PidFileError("cannot read pid file " + path + ": " + std::strerror(err), err);
  std::string_view text(buf, static_cast<size_t>(n));
  std::optional<pid_t> pid = ParsePid(text);
  if (!pid) {
    throw PidFileError("pid file " + path + " does not hold a process id (" + Shown(text) + ")", 0);
  }
  return *pid;
}

bool IsValvedRunning(pid_t pid) {
  // EPERM: it exists, but belongs to someone else (a root master seen from
  // an unprivileged `valved -s`).
  if (pid <= 0 || (::kill(pid, 0) == -1 && errno != EPERM)) return false;
  std::string theirs = ProcessName(pid);
  std::string ours = ProcessName(getpid());
  return theirs.empty() || ours.empty() || theirs == ours;
}

PidFile PidFile::Create(const std::string& path, const Probe& is_running) {
  pid_t self = getpid();
  std::string temp = WriteTemporary(path, self);
  for (;;) {
    if (link(temp.c_str(), path.c_str()) == 0) break;
    int err = errno;
    if (err != EEXIST) {
      unlink(temp.c_str());
      throw ConfigError("pid_file: cannot create " + path + ": " + ErrnoString(err));
    }
    pid_t pid = 0;
    std::optional<std::string> stale;
    try {
      stale = Staleness(path, is_running, &pid);
    } catch (...) {
      unlink(temp.c_str());
      throw;
    }
    if (!stale) {
      unlink(temp.c_str());
      throw ConfigError("valved is already running (pid " + std::to_string(pid) + ", pid file " +
                        path + ")");
    }
    if (stale->empty()) continue;  // vanished meanwhile: try link() again
    if (rename(temp.c_str(), path.c_str()) == -1) {
      err = errno;
      unlink(temp.c_str());
      throw ConfigError("pid_file: cannot replace " + path + ": " + ErrnoString(err));
    }
    Log(LogLevel::kNotice) << "replaced stale pid file " << path << " (" << *stale << ")";
    return PidFile(path, self);
  }
  unlink(temp.c_str());
  return PidFile(path, self);
}

void PidFile::Remove() {
  if (removed_ || getpid() != owner_) return;
  removed_ = true;
  pid_t pid = 0;
  try {
    pid = ReadPidFile(path_);
  } catch (const PidFileError& e) {
    if (e.error() != ENOENT) Log(LogLevel::kWarn) << "not removing the pid file: " << e.what();
    return;
  }
  if (pid != owner_) {
    Log(LogLevel::kWarn) << "not removing pid file " << path_ << ": it now names pid " << pid;
    return;
  }
  if (unlink(path_.c_str()) == -1 && errno != ENOENT) {
    Log(LogLevel::kWarn) << "cannot remove pid file " << path_ << ": " << ErrnoString(errno);
  }
}

}  // namespace valved::master
