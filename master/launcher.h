// Starting and signalling R children. The pool decides; a Launcher acts.
// Tests use a fake; RLauncher (r_launcher.h) starts real R processes.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace valved::master {

class Launcher {
 public:
  virtual ~Launcher() = default;
  /// Launch() returns this when the pid comes later, from a template that
  /// forks the child while the master goes on: the pool learns it (or that
  /// no child was made) through ChildPool::OnLaunched().
  static constexpr pid_t kPidLater = 0;

  /// Starts the R child `id` serving on `socket_path`; returns its pid, or
  /// kPidLater. Throws std::runtime_error (with the reason) when no process
  /// could start.
  virtual pid_t Launch(uint64_t id, const std::string& socket_path) = 0;
  /// False while a launch should wait (a template still loading the API:
  /// children started now would compete with it for the CPU).
  virtual bool CanLaunch() const { return true; }
  /// The pool could start `children` more now (n_max minus those that count
  /// towards it): a launcher may prepare up to that many ahead.
  virtual void SetHeadroom(size_t /*children*/) {}
  /// Sends `signo` to a child's process; a child that is already gone is not
  /// an error, and neither is a pid not known yet (<= 0: nothing is sent).
  virtual void Signal(pid_t pid, int signo) = 0;
  /// The last lines the child printed, read to the end of what is buffered
  /// (call after its exit so an error message is complete). "" if none.
  virtual std::string OutputTail(uint64_t id) = 0;
  /// The child is gone for good (reaped): drop what was kept for it and
  /// remove its socket file.
  virtual void Forget(uint64_t id) = 0;
};

}  // namespace valved::master
