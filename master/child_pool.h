// The pool of R children: their states, and every decision to spawn or stop.
#pragma once

#include <sys/types.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/config.h"
#include "common/histogram.h"
#include "common/ipc_protocol.h"
#include "common/lease_table.h"
#include "master/launcher.h"
#include "master/r_child.h"

namespace valved::master {

/// Exit code of r/launcher.R when the API file cannot be loaded.
inline constexpr int kApiLoadFailedExitCode = 3;

/// How the last ReplaceAll() (a reload) is going; the master acts on it.
enum class ReloadStatus {
  kIdle,       ///< no ReplaceAll() yet
  kProving,    ///< no child started since ReplaceAll() has loaded the API yet
  kVerified,   ///< one has: the new API works
  kAbandoned,  ///< the new API failed to load first; reload_error() says why
};

/// What the pool has done since the master started (for /metrics).
struct PoolCounters {
  uint64_t spawns = 0;         ///< children launched
  uint64_t boot_failures = 0;  ///< children that exited before they were ready
  uint64_t crashes = 0;        ///< children that exited unasked while Ready, Busy or Draining
  uint64_t recycled_max_requests = 0;  ///< marked for replacement after max_requests
  uint64_t recycled_max_memory = 0;    ///< ... after passing max_memory
  uint64_t recycled_reload = 0;        ///< ... by a reload
  uint64_t stopped_idle = 0;           ///< stopped after max_age idle
  Histogram spawn_duration;            ///< launch -> ready
};

/// Why a child is replaced, for PoolCounters.
enum class RecycleReason {
  kMaxRequests,  ///< served max_requests (+ jitter)
  kMaxMemory,    ///< its RSS passed max_memory
  kReload,       ///< a reload asked for new code
};

class ChildPool {
 public:
  ChildPool(const Config& config, Launcher& launcher, const Clock& clock, std::string runtime_dir);

  /// The settings decisions use from now on (reload). Children keep their
  /// max_requests; the launcher's spec is the master's to change.
  void SetConfig(const Config& config) { config_ = config; }
  /// Publishes from now on which children take hand-overs (nullptr: none).
  /// Call before Start().
  void PublishTo(LeaseTable* table) { table_ = table; }

  // --- events
  /// Spawns the children present from the start: n_min, and at least one so
  /// that a plumber file that cannot load is reported at start-up.
  void Start();
  /// The child printed its ready line.
  void OnReady(uint64_t id);
  /// The reaper collected `pid`. Returns false when the pid is not a child.
  bool OnExit(pid_t pid, int wait_status);
  /// A launch that returned Launcher::kPidLater ended: `pid` is the child's,
  /// or <= 0 when no child was made (`why`).
  void OnLaunched(uint64_t id, pid_t pid, const std::string& why);

  // --- leases
  /// The child to lease next, or nullptr: one with fewer than
  /// max_concurrency_per_child leases, the least loaded first (an idle child
  /// before a busy one), and among idle ones the most recently idle, so that
  /// the rest can age out.
  RChild* PickFree();
  /// Adds `lease` to the child (Ready -> Busy on the first one). A child that
  /// reaches max_requests is due for replacement from now on.
  void Lease(RChild& child, LeaseRef lease);
  /// Ends the lease `lease` on child `child_id`; unknown leases are ignored
  /// (a child may have died first). `still_accepts` is consulted only for
  /// ipc::Outcome::kBroken: a child whose socket still accepts keeps serving.
  /// A child whose last lease ends goes back to Ready (or stops, if Draining).
  void Release(uint64_t child_id, LeaseRef lease, ipc::Outcome outcome,
               const std::function<bool(const RChild&)>& still_accepts);
  /// A worker handed the child from lease `from` (ended ok) to lease `to`
  /// (common/lease_table.h): `to` takes `from`'s place and counts as a
  /// request served. Returns false, changing nothing, when the child no
  /// longer holds `from` (it died or was stopped meanwhile: the request
  /// handed over then fails with it, as one sent just before would have).
  bool Transfer(uint64_t child_id, LeaseRef from, LeaseRef to);
  /// A worker handed the child, on its lease, to `count` more requests
  /// (ipc::Handed): each counts as a request served. False when the child is
  /// gone.
  bool CountHandovers(uint64_t child_id, uint64_t count);
  /// No lease slot free or starting, and no child may be spawned now: a
  /// request arriving can only wait.
  bool Saturated() const { return FreeSlots() == 0 && !CanSpawn(); }
  /// The worker died: nobody can vouch for what the children it had leases on
  /// compute; stop them (their other requests, if any, get a 502).
  void RevokeLeasesOf(uint64_t worker_id);

  // --- periodic
  /// Spawns what `waiters` queued requests and n_min call for, within
  /// n_max, max_spawning and the boot-failure backoff.
  void Reconcile(size_t waiters);
  /// Stops children idle longer than max_age while more than n_min are live.
  void StopIdle();
  /// Marks for replacement (make-before-break) every child whose resident
  /// memory, as `resident_bytes(pid)` reports it, passes max_memory.
  void ReplaceOversized(const std::function<int64_t(pid_t)>& resident_bytes);
  /// spawn_timeout for Spawning children, kill_timeout for Stopping ones.
  void EnforceDeadlines();
  /// Reload: every child is replaced by one running the launcher's current
  /// spec, each retiring only once its successor is Ready. If the new API
  /// fails to load first, the replacement is abandoned. Progress:
  /// reload_status().
  void ReplaceAll(std::string_view reason);
  ReloadStatus reload_status() const { return reload_status_; }
  /// kAbandoned: why (the R error).
  const std::string& reload_error() const { return reload_error_; }
  /// Shutdown: no more spawns; idle children stop with `signo`, busy ones drain.
  void RetireAll(int signo);
  /// Fast shutdown: SIGKILL everything still running.
  void KillAll();

  // --- queries
  size_t Count(ChildState state) const;
  /// Leases held now, over all children.
  size_t LeaseCount() const;
  /// Spawning, Ready or Busy: what counts towards n_min.
  size_t LiveCount() const;
  /// Children that could still be started (n_max minus LiveCount()); 0 once
  /// shutting down.
  size_t Headroom() const;
  bool empty() const { return children_.empty(); }
  /// Set when the API can never start (it failed to load before any child
  /// was ever ready): the master must exit with the message.
  const std::string& fatal_error() const { return fatal_error_; }
  const RChild* Find(uint64_t id) const;
  /// Every child, by id.
  const std::map<uint64_t, std::unique_ptr<RChild>>& children() const { return children_; }
  const PoolCounters& counters() const { return counters_; }
  /// ReplaceAll() calls so far: the generation new children belong to.
  uint64_t generation() const { return generation_; }
  /// Checks the bookkeeping after every event; returns "" or what is wrong.
  std::string VerifyInvariants() const;

 private:
  /// The only place a child's state changes.
  void Transition(RChild& child, ChildState to, std::string_view reason);
  /// Tells the lease table whether the child takes hand-overs now.
  void Publish(const RChild& child);
  /// Counts one more request served by the child, scheduling its
  /// replacement at max_requests.
  void CountRequest(RChild& child);
  /// Starts a child; `predecessor` is the child it will replace (0: none).
  RChild* Spawn(uint64_t predecessor = 0);
  void SpawnSuccessors();
  /// Marks the child due for replacement (Replacement::kDue); a later
  /// Reconcile() starts its successor.
  void ScheduleReplacement(RChild& child, RecycleReason why, std::string reason);
  void RetirePredecessorOf(const RChild& child);
  void AbandonReplacement(const std::string& why, uint64_t failed_id);
  /// Counts towards n_min and n_max: not on its way out, and without a
  /// successor (which counts instead).
  bool Counts(const RChild& child) const;
  RChild* FindMutable(uint64_t id);
  std::pair<RChild*, std::vector<LeaseRef>::iterator> FindLease(uint64_t child_id, LeaseRef lease,
                                                                const char* what);
  void Stop(RChild& child, int signo, std::string_view reason);
  /// Sends `signo`, noting the time for the kill_timeout deadline.
  void Signal(RChild& child, int signo);
  void HandleBootFailure(RChild& child, int wait_status);
  void ForgetSuccessor(const RChild& child);
  void LogSpawned(const RChild& child);
  void BackOff();
  RChild* FindByPid(pid_t pid);
  std::string Name(const RChild& child) const;
  bool CanSpawn() const;
  /// Requests the pool can take without a new child: the free lease slots of
  /// Ready and Busy children, and all those of Spawning ones.
  size_t FreeSlots() const;
  /// max_concurrency_per_child; at least 1 here.
  size_t Concurrency() const {
    return static_cast<size_t>(std::max(config_.max_concurrency_per_child, 1));
  }
  /// max_spawning, which main() resolves (0 = CPU count); at least 1 here.
  size_t MaxSpawning() const { return static_cast<size_t>(std::max(config_.max_spawning, 1)); }

  Config config_;
  Launcher& launcher_;
  const Clock& clock_;
  std::string runtime_dir_;
  std::map<uint64_t, std::unique_ptr<RChild>> children_;
  uint64_t next_id_ = 1;
  bool retiring_ = false;    // shutting down: spawn nothing
  bool ever_ready_ = false;  // some child loaded the API: a load error is no longer fatal
  ReloadStatus reload_status_ = ReloadStatus::kIdle;
  uint64_t generation_ = 0;    // ReplaceAll() calls so far
  int boot_failures_ = 0;      // consecutive; reset by a ready child
  TimePoint next_spawn_at_{};  // backoff after boot failures
  std::string fatal_error_;
  std::string reload_error_;
  PoolCounters counters_;
  std::mt19937 random_{std::random_device{}()};
  LeaseTable* table_ = nullptr;
};

}  // namespace valved::master
