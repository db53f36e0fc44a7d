// Reads one R process's stdout and stderr: logs each line as "child#3: R: ...",
// keeps the last lines for error reports (Passenger's captured output), and
// spots the launcher's ready line on stdout.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "common/event_ptr.h"
#include "common/unique_fd.h"

namespace valved::master {

class ChildOutput {
 public:
  /// Takes the read ends of the child's stdout and stderr pipes (either may be
  /// empty). `name` prefixes its log lines ("child#3"). `ready_line` is the
  /// exact stdout line that means "serving"; on_ready runs once for it.
  ChildOutput(event_base* base, std::string name, UniqueFd out, UniqueFd err,
              std::string ready_line, std::function<void()> on_ready);
  ChildOutput(const ChildOutput&) = delete;
  ChildOutput& operator=(const ChildOutput&) = delete;

  /// Reads whatever is buffered in the pipes now (the child has exited, so
  /// this is all it wrote) and returns the last lines, newline-separated.
  std::string Tail();

 private:
  struct Stream {
    ChildOutput* owner = nullptr;
    UniqueFd fd;
    EventPtr event;
    std::string partial;
    bool is_stdout = false;
  };
  static void OnReadable(evutil_socket_t fd, short what, void* arg);
  void Open(event_base* base, Stream& stream, UniqueFd fd, bool is_stdout);
  void ReadAvailable(Stream& stream);
  void HandleLine(Stream& stream, std::string line);
  void Close(Stream& stream);

  std::string name_;
  std::string ready_line_;
  std::function<void()> on_ready_;
  std::deque<std::string> tail_;
  Stream out_;
  Stream err_;
};

}  // namespace valved::master
