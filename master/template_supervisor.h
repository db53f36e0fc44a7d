// The preloaded R template of one generation (spawn_method: fork): starts
// `Rscript template.R` (r/template.R), waits for its ready line, asks it to
// fork children, restarts it with backoff when it dies, and gives up (the
// generation's children then start fresh) when it cannot be kept running.
//
// Who is the parent: the template forks an intermediate process that forks
// the child and exits, so the child is re-parented to the master, which is a
// child subreaper (prctl PR_SET_CHILD_SUBREAPER). The intermediate prints the
// child's pid before it exits; the master never waits for it: Fork() only
// writes the command, and the reply reaches `on_forked` from the event loop
// (or from Poll(), which the master calls before it reaps, so that a pid is
// known before its exit is collected). From then on the master's one reaper
// routes the child's exit to the pool like a fresh child's. The template
// itself is the master's child too.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
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

  /// `on_forked(id, pid, why)`: the answer to Fork(id): the child's pid, or
  /// -1 and why no child was made (the template failed, or said so).
  using ForkedFn = std::function<void(uint64_t id, pid_t pid, const std::string& why)>;

  TemplateSupervisor(event_base* base, const Clock& clock, RLaunchSpec spec, uint64_t generation,
                     std::function<void()> on_ready, ForkedFn on_forked);
  ~TemplateSupervisor();
  TemplateSupervisor(const TemplateSupervisor&) = delete;
  TemplateSupervisor& operator=(const TemplateSupervisor&) = delete;

  void Start();
  /// Asks the template for child `id`, whose stdout and stderr go to the two
  /// FIFOs; the answer comes through `on_forked`. Throws std::runtime_error
  /// when the command cannot be sent (nothing will be answered).
  void Fork(uint64_t id, const std::string& socket_path, const std::string& token,
            const std::string& stdout_fifo, const std::string& stderr_fifo);
  /// The template keeps `n` spares: children forked and warmed up ahead of
  /// Fork() (r/template.R). Sent when it changes, and when the template is ready.
  void SetSpares(size_t n);
  /// Reads and handles the replies already written, now.
  void Poll() { ReadReplies(); }
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
  void TakeLines();
  void HandleLine(const std::string& line);
  /// A fork reply: "<id> <pid>" (forked) or "<id> <why>" (failed).
  void HandleForkReply(const std::string& rest, bool forked);
  /// Every fork not answered yet fails with `why`.
  void FailPending(const std::string& why);
  /// The template failed (`why`): restart after a backoff, or give up.
  void Failed(const std::string& why, bool give_up);
  /// Logs the exit and decides what follows (restart, give up, gone).
  void NoteExit(const std::string& how, const std::string& tail, int wait_status);
  void CloseChannels();
  /// Writes `line` to the template's stdin; false if it could not (whole).
  bool Command(const std::string& line);
  void SendSpares();
  std::string Name() const;

  event_base* base_;
  const Clock& clock_;
  RLaunchSpec spec_;
  uint64_t generation_;
  std::function<void()> on_ready_;
  ForkedFn on_forked_;
  std::map<uint64_t, TimePoint> pending_;  // forks asked for, not answered: their deadlines
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
  int failures_ = 0;                   // in a row; reset by readiness
  size_t spares_ = 0;                  // wanted
  std::optional<size_t> spares_sent_;  // what the running template was told
};

const char* ToString(TemplateSupervisor::State state);

}  // namespace valved::master
