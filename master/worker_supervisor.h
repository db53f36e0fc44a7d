// The proxy workers: fork+exec one per slot, each with its own channel and
// the slot's listening socket; re-fork a worker that dies; add and remove
// slots (TTIN/TTOU); replace every worker on reload.
#pragma once

#include <sys/types.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/config.h"
#include "common/event_ptr.h"
#include "common/graveyard.h"
#include "common/ipc_channel.h"
#include "common/unique_fd.h"

namespace valved::master {

enum class WorkerState {
  kStarting = 0,  ///< forked; no HELLO yet
  kRunning,       ///< said HELLO; gets requests
  kQuitting,      ///< QUIT or TERMINATE sent; exits when done
  kDead,          ///< reaped; forgotten right after
};

const char* ToString(WorkerState state);

/// A worker as the status listener shows it.
struct WorkerInfo {
  uint64_t id = 0;
  size_t slot = 0;  ///< 0-based
  pid_t pid = -1;
  WorkerState state = WorkerState::kStarting;
  TimePoint started_at{};
};

class WorkerSupervisor {
 public:
  struct Hooks {
    std::function<void(uint64_t worker_id, const ipc::Message&)> on_message;
    /// The worker's channel closed (it died or misbehaved): drop its leases.
    std::function<void(uint64_t worker_id)> on_lost;
  };

  /// `listeners[i]` is slot i's listening socket. The master keeps it, so a
  /// worker re-forked into the slot takes over the same accept queue
  /// (closing a SO_REUSEPORT socket drops the connections queued on it).
  /// Workers are told `runtime_dir`, where their temporary files go by
  /// default, and inherit `lease_table_fd` (common/lease_table.h; -1: none).
  WorkerSupervisor(event_base* base, const Config& config, const Clock& clock, std::string exe,
                   std::vector<UniqueFd> listeners, Hooks hooks, std::string runtime_dir = "",
                   int lease_table_fd = -1);
  ~WorkerSupervisor();
  /// The settings workers forked from now on get (reload); running workers
  /// keep theirs until ReplaceAll() swaps them.
  void SetConfig(const Config& config) { config_ = config; }

  void Start();
  /// The reaper collected `pid`; false when it is not a worker.
  bool OnExit(pid_t pid, int wait_status);
  void Send(uint64_t worker_id, const ipc::Message& message);
  /// To every worker, or to those `to` (worker id) chooses.
  void Broadcast(const ipc::Message& message,
                 const std::function<bool(uint64_t worker_id)>& to = nullptr);
  /// Graceful (QUIT) or immediate (TERMINATE) stop of every worker; no respawns after.
  void StopAll(bool graceful);
  void KillAll();
  /// Closes the master's copies of the listening sockets (shutdown).
  void CloseListeners();
  /// TTIN: one more slot, with its own listening socket. Throws on socket errors.
  void AddSlot(UniqueFd listener);
  /// TTOU: the newest slot's worker finishes what it holds and exits; the
  /// slot goes away. Keeps at least one slot (logs "only one worker left").
  void RemoveSlot();
  /// Reload: a new worker in every slot (running the current config), the
  /// old ones QUIT. `listeners`, when not empty, replace the slots' sockets
  /// (the address or the number of workers changed).
  void ReplaceAll(std::vector<UniqueFd> listeners);
  /// Re-forks empty slots whose backoff has passed.
  void RespawnDue();
  size_t alive() const { return workers_.size(); }
  /// Every worker not yet reaped, oldest first.
  std::vector<WorkerInfo> Workers() const;
  size_t slots() const { return slots_.size(); }
  /// A worker exited with kExitConfig: re-forking would not help.
  const std::string& fatal_error() const { return fatal_error_; }

 private:
  struct Slot {
    UniqueFd listener;
    TimePoint respawn_at{};
    int quick_deaths = 0;  ///< consecutive deaths soon after start
  };
  struct Worker {
    uint64_t id = 0;
    size_t slot = 0;
    pid_t pid = -1;
    WorkerState state = WorkerState::kStarting;
    TimePoint started_at{};
    std::unique_ptr<IpcChannel> channel;
  };

  void Fork(size_t slot);
  /// New connections go to the first `first_n` slots' sockets only.
  void Steer(size_t first_n);
  bool SlotHasWorker(size_t slot) const;
  void Quit(Worker& worker, bool graceful);
  void OnMessage(Worker& worker, const ipc::Message& message);
  void OnChannelClosed(Worker& worker, const std::string& reason);
  void NoteDeath(Worker& worker, int wait_status);
  void SetState(Worker& worker, WorkerState to, const std::string& reason);
  Worker* Find(uint64_t worker_id);
  std::vector<std::string> WorkerArgs(const Worker& worker, int channel_fd) const;

  event_base* base_;
  Config config_;
  const Clock& clock_;
  std::string exe_;
  std::string runtime_dir_;  // the workers' default temp_dir
  int lease_table_fd_;       // the master's; inherited by every worker
  std::vector<Slot> slots_;
  Hooks hooks_;
  std::vector<std::unique_ptr<Worker>> workers_;  // every worker process not yet reaped
  /// Reaped workers, freed on the next loop turn: the reaper may run inside
  /// the dead worker's own channel callback (a RELEASE triggers a reap).
  Graveyard graveyard_;
  uint64_t next_id_ = 1;
  bool stopping_ = false;
  std::string fatal_error_;
};

}  // namespace valved::master
