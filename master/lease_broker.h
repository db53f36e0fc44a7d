// Where requests wait for a child: the FIFO waitlist shared by all workers.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <unordered_map>

#include "common/clock.h"
#include "common/config.h"
#include "common/ipc_protocol.h"
#include "common/lease_table.h"
#include "master/child_pool.h"

namespace valved::master {

/// How the broker answers workers; the master sends these over the channels.
class LeaseSink {
 public:
  virtual ~LeaseSink() = default;
  virtual void SendGrant(uint64_t worker_id, const ipc::Grant& grant) = 0;
  virtual void SendDeny(uint64_t worker_id, const ipc::Deny& deny) = 0;
};

class LeaseBroker {
 public:
  /// `table` (may be nullptr) learns which waiters are queued here.
  LeaseBroker(const Config& config, ChildPool& pool, const Clock& clock, LeaseSink& sink,
              LeaseTable* table = nullptr);
  /// max_queue and queue_timeout from now on (reload); waiters stay queued.
  void SetConfig(const Config& config) { config_ = config; }

  /// `waited`: how long the request waited in its worker before asking (a
  /// local wait); it counts towards queue_timeout and the queue's order.
  void Acquire(uint64_t worker_id, uint64_t req, Duration waited = Duration::zero());
  void Cancel(uint64_t worker_id, uint64_t req);
  /// Ends a lease; `still_accepts` is the pool's probe for a child released broken.
  void Release(uint64_t worker_id, const ipc::Release& release,
               const std::function<bool(const RChild&)>& still_accepts);
  /// A worker handed a child from one of its requests to the next
  /// (ipc::Transfer): the later one no longer waits, and holds the lease.
  void Transfer(uint64_t worker_id, const ipc::Transfer& transfer);
  /// A worker gave a child, on its lease, to `handed.count` more requests
  /// (ipc::Handed): each was served; `handed.waited` of them had waited.
  void Handed(const ipc::Handed& handed);
  /// Whether a request arriving now could only wait: no child free or
  /// starting, none may be spawned, and not closed (common/lease_table.h).
  bool Saturated() const;
  /// Pairs waiters with free children, oldest waiter first, then lets the
  /// pool spawn for those still waiting. Call after every event.
  void Dispatch();
  /// DENYs waiters older than queue_timeout.
  void ExpireWaiters();
  /// A worker died: forget its waiters and revoke its leases.
  void DropWorker(uint64_t worker_id);
  /// DENYs every waiter with `reason` and refuses new ones from now on.
  void Close(ipc::DenyReason reason);
  size_t waiting() const { return waitlist_.size(); }
  /// Every request waiting for a child: here, and in the workers (local waits).
  size_t queue_length() const;
  /// Requests that found no free child and had to wait (recycling and reload
  /// must never add to this). Not logged as a total; kept for tests and for
  /// the metrics to come.
  uint64_t waited() const { return waited_; }
  /// Hand-overs applied (TRANSFERs of a lease the child still held).
  uint64_t handovers() const { return handovers_; }
  /// When the oldest waiter arrived, here or in a worker; nullopt when none waits.
  std::optional<TimePoint> oldest_since() const;
  /// DENYs sent so far, indexed by ipc::DenyReason.
  const std::array<uint64_t, 4>& denials() const { return denials_; }

 private:
  struct Waiter {
    uint64_t worker_id;
    uint64_t req;
    TimePoint since;
    uint32_t order = 0;   ///< of the worker's ACQUIREs, from 0 (LeaseTable::TakeWaiter)
    bool queued = false;  ///< no child was free when it arrived: it waits for one
  };
  /// Per worker: ACQUIREs read (LeaseTable::PublishRead).
  struct Progress {
    uint32_t read = 0;
  };

  void Deny(const Waiter& waiter, ipc::DenyReason reason);
  /// Removes the waiter, if it still waits.
  std::optional<Waiter> TakeWaiter(uint64_t worker_id, uint64_t req);
  /// Logs how long a queued waiter waited, now that it has a child.
  void NoteWaited(const Waiter& waiter) const;

  Config config_;
  ChildPool& pool_;
  const Clock& clock_;
  LeaseSink& sink_;
  LeaseTable* table_;
  std::deque<Waiter> waitlist_;
  std::unordered_map<uint64_t, Progress> progress_;  // by worker id
  std::optional<ipc::DenyReason> closed_;
  uint64_t waited_ = 0;
  uint64_t handovers_ = 0;
  std::array<uint64_t, 4> denials_{};
};

}  // namespace valved::master
