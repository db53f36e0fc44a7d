// The preloaded R template of one generation (spawn_method: fork): starts
// `Rscript template.R` (r/template.R), waits for its ready line, asks it to
// fork children, restarts it with backoff when it dies, and gives up (the
// generation's children then start fresh) when it cannot be kept running.
//
// Who is the parent: the template forks an intermediate process that forks
// the child and exits, so the child is re-parented to the master, which is a
// child subreaper (prctl PR_SET_CHILD_SUBREAPER). The template prints the
// child's pid before the intermediate exits; Fork() returns it, and from then
// on the master's one reaper routes the child's exit to the pool like a fresh
// child's. The template itself is the master's child too.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/clock.h"
#include "common/event_ptr.h"
#include "common/unique_fd.h"
#include "master/child_output.h"
#include "master/r_process.h"

namespace valved::master {

class TemplateSupervisor {
 public:
  enum class State {
    kStarting,  ///< launched; loading the API (children wait for it)
    kReady,     ///< forks children on request
    kBackoff,   ///< died; restarts at restart_at_ (children start fresh meanwhile)
    kStopping,  ///< stdin closed; SIGKILL after kill_timeout
    kGone,      ///< stopped for good, or given up: children start fresh
  };

  TemplateSupervisor(event_base* base, const Clock& clock, RLaunchSpec spec, uint64_t generation,
                     std::function<void()> on_ready);
  ~TemplateSupervisor();
  TemplateSupervisor(const TemplateSupervisor&) = delete;
  TemplateSupervisor& operator=(const TemplateSupervisor&) = delete;

  void Start();
  /// Asks the template for child `id`, whose stdout and stderr go to the two
  /// FIFOs; returns the child's pid. Throws
  /// std::runtime_error (the template is then written off or restarted) when
  /// no child was made.
  pid_t Fork(uint64_t id, const std::string& socket_path, const std::string& token,
             const std::string& stdout_fifo, const std::string& stderr_fifo);
  /// The reaper collected `pid`; false when it is not this template.
  bool OnExit(pid_t pid, int wait_status);
  /// Restarts after the backoff; enforces spawn_timeout and kill_timeout.
  void Tick(Duration spawn_timeout, Duration kill_timeout);
  /// Closes the template's stdin (it exits 0); Tick() kills it if it lingers.
  void Stop();
  /// SIGKILL now (fast stop).
  void Kill();

  State state() const { return state_; }
  bool alive() const { return pid_ > 0; }
  const RLaunchSpec& spec() const { return spec_; }

 private:
  static void OnReadable(evutil_socket_t fd, short what, void* arg);
  void ReadReplies();
  /// Handles the complete lines read so far; returns the pid if one is the
  /// reply for `want_id` (the lines after it stay for later).
  pid_t TakeLines(uint64_t want_id);
  /// Handles one stdout line; returns the pid if it is the reply for `want_id`.
  pid_t HandleLine(const std::string& line, uint64_t want_id);
  /// The template failed (`why`): restart after a backoff, or give up.
  void Failed(const std::string& why, bool give_up);
  void CloseChannels();
  std::string Name() const;

  event_base* base_;
  const Clock& clock_;
  RLaunchSpec spec_;
  uint64_t generation_;
  std::function<void()> on_ready_;
  State state_ = State::kGone;
  pid_t pid_ = -1;
  std::string token_;
  UniqueFd commands_;  // the template's stdin
  UniqueFd replies_;   // the template's stdout
  EventPtr replies_event_;
  std::string partial_;
  std::unique_ptr<ChildOutput> stderr_;
  TimePoint since_{};  // when state_ was entered
  TimePoint restart_at_{};
  int failures_ = 0;  // in a row; reset by readiness
};

const char* ToString(TemplateSupervisor::State state);

}  // namespace valved::master
