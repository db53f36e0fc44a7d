// The worker's side of the lease protocol (common/ipc_protocol.h): HELLO on
// start, ACQUIRE/CANCEL/RELEASE out, GRANT/DENY/QUIT/TERMINATE/REOPEN in.
// ACQUIRE, CANCEL, TRANSFER and STATS leave batched, one write per turn of
// the loop (IpcChannel::SendBatched), so the master wakes once for what one
// turn produced; a RELEASE leaves at once.
//
// Each ACQUIRE has exactly one answer callback. A CANCEL forgets the callback;
// because a GRANT may already be on its way (the messages cross), a GRANT for
// a cancelled request is released at once with outcome ok, so the master never
// loses a child to a client that left.
//
// Hand-over: when a lease ends ok and a request of this worker waits, the
// child goes straight to the oldest waiter if the lease table allows it
// (common/lease_table.h: the child is open, no other worker has an older
// waiter, and the master has queued this one and not given it a child: the
// worker takes it with a compare-and-swap the master's grant also needs);
// the master learns of it afterwards from one TRANSFER. A
// GRANT for a request handed a child that way crossed the TRANSFER and is
// released at once, as for a cancelled request.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <variant>

#include "common/ipc_channel.h"
#include "common/ipc_protocol.h"
#include "common/lease_table.h"
#include "common/request_stats.h"
#include "common/unique_fd.h"

namespace valved::worker {

class MasterLink {
 public:
  using LeaseAnswer = std::variant<ipc::Grant, ipc::Deny>;
  using LeaseCallback = std::function<void(const LeaseAnswer& answer)>;
  struct Handlers {
    std::function<void()> on_quit;       ///< QUIT: finish in-flight requests, then exit 0
    std::function<void()> on_terminate;  ///< TERMINATE: exit 0 now
    /// The channel closed or the master broke the protocol: the worker must exit.
    std::function<void(const std::string& reason)> on_lost;
    std::function<void()> on_reopen;  ///< REOPEN, after the log file was reopened
  };

  /// Takes the channel fd and sends HELLO. `table` (may be nullptr: no
  /// hand-overs) must outlive this link.
  MasterLink(event_base* base, UniqueFd channel, uint64_t worker_id, Handlers handlers,
             LeaseTable* table = nullptr);
  MasterLink(const MasterLink&) = delete;
  MasterLink& operator=(const MasterLink&) = delete;

  /// Asks for a child for request `req`; `callback` runs once with GRANT or
  /// DENY, unless Cancel(req) comes first.
  void Acquire(uint64_t req, LeaseCallback callback);
  /// The client left before an answer: forget the callback, tell the master.
  void Cancel(uint64_t req);
  /// Ends the lease of `child_id` held for `req`.
  void Release(uint64_t req, uint64_t child_id, ipc::Outcome outcome);
  /// Ends the lease of `child_id` held for `req`, which went ok, by handing
  /// the child to this worker's oldest waiter when the lease table allows
  /// it (that waiter's callback runs before this returns), else by a RELEASE.
  void ReleaseOk(uint64_t req, uint64_t child_id, const std::string& socket_path);
  /// Sends every family of `stats` (STATS lines).
  void SendStats(const RequestStats& stats);
  /// Runs `done` once every message sent so far has left the process.
  void WhenFlushed(std::function<void()> done);

  size_t waiting() const { return waiting_.size(); }

 private:
  struct Waiter {
    LeaseCallback callback;
    uint64_t order;    ///< key in queue_; the ACQUIRE's number (LeaseTable::TakeWaiter)
    int64_t since_ns;  ///< steady clock, for the lease table
  };

  bool HandOver(uint64_t from_req, uint64_t child_id, const std::string& socket_path);
  /// Forgets the waiter for `req`; its callback, or nullopt if none waits.
  std::optional<LeaseCallback> TakeWaiter(uint64_t req);
  /// Tells the lease table when the oldest waiter asked.
  void PublishOldest();
  void Dispatch(const ipc::Message& message);
  void OnMessage(const ipc::Message& message);
  void OnWelcome(const ipc::Welcome& welcome);
  void OnAnswer(uint64_t req, const LeaseAnswer& answer);
  void Lose(const std::string& reason);

  Handlers handlers_;
  uint64_t worker_id_;
  LeaseTable* table_;
  std::unordered_map<uint64_t, Waiter> waiting_;
  std::map<uint64_t, uint64_t> queue_;  // order -> req, oldest first
  uint64_t next_order_ = 0;
  std::unordered_set<uint64_t> cancelled_;  // may still get a GRANT or DENY
  std::deque<uint64_t> handed_over_;        // the latest few: a GRANT may cross their TRANSFER
  IpcChannel channel_;
};

}  // namespace valved::worker
