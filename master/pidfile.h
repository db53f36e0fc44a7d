// The master's pid file (setting pid_file): "<pid>\n", written at start-up,
// read by `valved -s` (master/signal_command.h), removed at a clean exit.
//
// Typical use in main():
//   std::optional<PidFile> pid_file;
//   if (!config.pid_file.empty()) pid_file = PidFile::Create(config.pid_file);  // ConfigError
//   int code = master.Run();
//   if (pid_file) pid_file->Remove();
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace valved::master {

/// A pid file that cannot be read or does not hold a pid. what() is the
/// whole message; error() is the errno of a failed read, 0 for bad content.
class PidFileError : public std::runtime_error {
 public:
  PidFileError(const std::string& message, int error)
      : std::runtime_error(message), error_(error) {}
  int error() const { return error_; }

 private:
  int error_;
};

/// A pid file's text as a pid: decimal digits, optionally followed by one
/// newline; the pid must be positive. nullopt otherwise.
std::optional<pid_t> ParsePid(std::string_view text);

/// Reads the pid file `path`. Throws PidFileError: "cannot read pid file X:
/// No such file or directory" (error() is ENOENT), "pid file X does not hold
/// a process id (\"abc\")" (error() is 0).
pid_t ReadPidFile(const std::string& path);

/// Whether `pid` is a running valved: the process exists, and it runs the
/// same program as we do (/proc/<pid>/comm), so that a stale pid file whose
/// pid now belongs to another program is seen as stale. When /proc does not
/// say (hidepid), an existing process counts as valved.
bool IsValvedRunning(pid_t pid);

/// A pid file this process created. Removal is explicit (Remove), never a
/// destructor's job: a forked child that ran it would delete the master's.
class PidFile {
 public:
  /// Tells whether a pid named in an existing file is a running valved.
  using Probe = std::function<bool(pid_t)>;

  /// Writes "<getpid()>\n" to `path` atomically: the text goes to a
  /// temporary file in the same directory first, which is then linked to
  /// `path` (failing if it exists: O_EXCL semantics). If `path` exists and
  /// names a running valved, throws ConfigError "valved is already running
  /// (pid N, pid file X)". If it is stale (its pid is gone, is ours from an
  /// earlier life, e.g. pid 1 in a container, or the file holds no pid), it
  /// is replaced with rename() and a notice is logged. Throws ConfigError
  /// when the file cannot be written.
  static PidFile Create(const std::string& path, const Probe& is_running = IsValvedRunning);

  /// Deletes the file, provided this is the process that created it and
  /// the file still holds its pid (a newer valved may have replaced it).
  /// Does nothing the second time.
  void Remove();

  const std::string& path() const { return path_; }

 private:
  PidFile(std::string path, pid_t owner) : path_(std::move(path)), owner_(owner) {}

  std::string path_;
  pid_t owner_;
  bool removed_ = false;
};

}  // namespace valved::master
