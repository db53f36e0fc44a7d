// One-line-per-event logging:
//   2026-08-23T10:15:02.481Z [notice] master[4120]: child#3 pid=4188: Spawning -> Ready
// Usage: Log(LogLevel::kNotice) << "child#" << id << ": ready";
#pragma once

#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace valved {

enum class LogLevel {
  kError = 0,  ///< something failed and was not fully recovered
  kWarn,       ///< something failed and was recovered (a 502, a crashed child)
  kNotice,     ///< life-cycle events: start, ready, retire, exit, reload
  kInfo,       ///< R output, access log
  kDebug,      ///< every state change and IPC message
};

const char* ToString(LogLevel level);
std::optional<LogLevel> ParseLogLevel(std::string_view name);

/// Sets the `role#id[pid]` prefix ("master", "worker#2") and the threshold.
void InitLog(std::string role, LogLevel threshold);
void SetLogLevel(LogLevel threshold);
bool LogEnabled(LogLevel level);
/// Sends log lines to `path` (appending) instead of stderr; "" means stderr.
/// Returns false (and keeps the old destination) when the file can't be opened.
bool SetLogFile(const std::string& path, std::string* error);
/// Reopens the log file (SIGUSR1, logrotate).
bool ReopenLog(std::string* error);
/// Writes one formatted line, unconditionally (the caller checked the level).
/// Each line of a multi-line message gets the whole prefix, so that no line
/// of the log is without its time, level and process; the later lines are
/// indented by two spaces after it, to read as the same message. On stderr connected to
/// journald (JOURNAL_STREAM names it), every line starts with its syslog
/// priority ("<3>" error ... "<7>" debug) so journalctl -p can filter.
void WriteLogLine(LogLevel level, std::string_view message);
/// The syslog priority prefix of `level`: "<3>" for error ... "<7>" for debug.
const char* JournalPrefix(LogLevel level);
/// Whether stderr is the stream journald gave this service
/// (JOURNAL_STREAM is "device:inode" of it), as sd_journal_stream_fd(3) says.
bool StderrIsJournal();
/// Writes all of `data` to `fd` (retrying short writes and EINTR); gives up
/// silently on an error, as a log must not stop the process.
void WriteWhole(int fd, std::string_view data);

/// strerror(errno) with the number: "98: Address already in use".
std::string ErrnoString(int err);

// The stream exists only for a line that will be written: constructing an
// ostringstream (its locale) costs more than a whole lease in the master.
class LogLine {
 public:
  explicit LogLine(LogLevel level) : level_(level) {
    if (LogEnabled(level)) out_.emplace();
  }
  ~LogLine() {
    if (out_) WriteLogLine(level_, out_->str());
  }
  LogLine(const LogLine&) = delete;
  LogLine& operator=(const LogLine&) = delete;

  template <typename T>
  LogLine& operator<<(const T& value) {
    if (out_) *out_ << value;
    return *this;
  }

 private:
  LogLevel level_;
  std::optional<std::ostringstream> out_;
};

inline LogLine Log(LogLevel level) { return LogLine(level); }

}  // namespace valved
