// The proxy workers: fork+exec one per slot, each with its own channel and
// the slot's listening socket; re-fork a worker that dies.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/event_ptr.h"
#include "common/ipc_channel.h"
#include "common/unique_fd.h"

namespace valved::master {

enum class WorkerState {
  kStarting = 0,  ///< forked; no HELLO yet
  kRunning,       ///< said HELLO; gets requests
  kQuitting,      ///< QUIT or TERMINATE sent; exits when done
  kDead,          ///< reaped; the slot waits for a respawn (or shutdown)
};

const char* ToString(WorkerState state);

class WorkerSupervisor {
 public:
  struct Hooks {
    std::function<void(uint64_t worker_id, const ipc::Message&)> on_message;
    /// The worker's channel closed (it died or misbehaved): drop its leases.
    std::function<void(uint64_t worker_id)> on_lost;
  };

  /// `listeners[i]` is slot i+1's listening socket; the master keeps it so a
  /// re-forked worker takes over the same accept queue.
  WorkerSupervisor(event_base* base, const Config& config, const Clock& clock, std::string exe,
                   std::vector<UniqueFd> listeners, Hooks hooks);
  ~WorkerSupervisor();

  void Start();
  /// The reaper collected `pid`; false when it is not a worker.
  bool OnExit(pid_t pid, int wait_status);
  void Send(uint64_t worker_id, const ipc::Message& message);
  /// Graceful (QUIT) or immediate (TERMINATE) stop of every worker; no respawns after.
  void StopAll(bool graceful);
  void KillAll();
  /// Closes the master's copies of the listening sockets (shutdown).
  void CloseListeners();
  /// Re-forks dead slots whose backoff has passed.
  void RespawnDue();
  size_t alive() const;
  /// A worker exited with kExitConfig: re-forking would not help.
  const std::string& fatal_error() const { return fatal_error_; }

 private:
  struct Worker {
    uint64_t id = 0;
    pid_t pid = -1;
    WorkerState state = WorkerState::kDead;
    std::unique_ptr<IpcChannel> channel;
    TimePoint respawn_at{};
    int quick_deaths = 0;  ///< consecutive deaths soon after start
    TimePoint started_at{};
  };

  void Fork(Worker& worker);
  void OnMessage(Worker& worker, const ipc::Message& message);
  void OnChannelClosed(Worker& worker, const std::string& reason);
  void SetState(Worker& worker, WorkerState to, const std::string& reason);
  std::vector<std::string> WorkerArgs(const Worker& worker, int channel_fd) const;

  event_base* base_;
  const Config& config_;
  const Clock& clock_;
  std::string exe_;
  std::vector<UniqueFd> listeners_;
  Hooks hooks_;
  std::vector<std::unique_ptr<Worker>> workers_;
  bool stopping_ = false;
  std::string fatal_error_;
};

}  // namespace valved::master
