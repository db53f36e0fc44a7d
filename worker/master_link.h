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
//
// Local waits: while the table says the pool is saturated (no child free
// or starting, none may be spawned), a request that arrives in a worker
// holding a lease waits here without an ACQUIRE: the master could only have
// queued it. A lease that ends ok goes to it (if it is the oldest of all
// workers' waiters) and keeps the master's name for that lease, so the
// master is not woken per request: it learns how many requests each child
// served that way from HANDED lines sent with the counters and before any
// RELEASE or TRANSFER. The local waiters' ACQUIREs (with how long each
// waited) are sent, oldest first, when the master asks (FLUSH: saturation
// ended), before a RELEASE (this worker holds one lease less), when there
// are max_queue waiting in all (the master then answers queue_full), and
// when the oldest has waited flush_after.
//
// Lingering: with one worker (the table says how many), a lease that ends
// ok with nobody waiting anywhere is kept for kLinger (2 ms), and a request
// that arrives meanwhile takes it on, as a local waiter would (counted in
// HANDED, not as a wait). A client on a kept-alive connection sends its
// next request within that time, so below saturation too the master is not
// woken per request. Only with one worker: a lingering child is busy to the
// master, and another worker's request would have to wait for it or make the
// master spawn. QUIT and the timer end it (RELEASE).
// Once one waits here, later requests wait here too, so this worker's
// ACQUIREs stay in the order its requests came.
//
// Queueing in a child (queue_in_child): the oldest local waiter, if it is
// the oldest of all workers' waiters, may instead be sent at once to a child
// on which this worker holds a lease whose one request started less than
// queue_in_child ago on a quick route (worker/route_times.h). It shares that
// lease (one lease, two requests: httpuv holds the second until R has
// answered the first) and is counted in HANDED as a hand-over that waited.
// The lease ends when its last request does, with the worst outcome of
// both, so the master never counts the child free while a request is in it.
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
#include <vector>

#include "common/clock.h"
#include "common/event_ptr.h"
#include "common/ipc_channel.h"
#include "common/ipc_protocol.h"
#include "common/lease_table.h"
#include "common/request_stats.h"
#include "common/unique_fd.h"

namespace valved::worker {

/// Bounds on local waits (max_queue; half of queue_timeout, at most 1 s).
struct LocalWaitLimits {
  size_t max_waiters = 1000;  ///< waiting anywhere (LeaseTable::QueueLength)
  Duration flush_after = std::chrono::seconds(1);
  Duration queue_in_child{};  ///< 0: never queue a request inside a busy child
};

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
  /// hand-overs, no local waits) must outlive this link.
  MasterLink(event_base* base, UniqueFd channel, uint64_t worker_id, Handlers handlers,
             LeaseTable* table = nullptr, LocalWaitLimits limits = {});
  MasterLink(const MasterLink&) = delete;
  MasterLink& operator=(const MasterLink&) = delete;

  /// Asks for a child for request `req`; `callback` runs once with GRANT or
  /// DENY, unless Cancel(req) comes first. The GRANT names the lease as the
  /// master knows it (not always `req`: a local wait's hand-over keeps the
  /// name); Release() and ReleaseOk() take that name.
  void Acquire(uint64_t req, LeaseCallback callback);
  /// The client left before an answer: forget the callback, tell the master.
  void Cancel(uint64_t req);
  /// Ends the lease of `child_id` held for `req`.
  void Release(uint64_t req, uint64_t child_id, ipc::Outcome outcome);
  /// Ends the lease of `child_id` held for `req`, which went ok, by handing
  /// the child to this worker's oldest waiter when the lease table allows
  /// it (that waiter's callback runs before this returns), else by a RELEASE.
  void ReleaseOk(uint64_t req, uint64_t child_id, const std::string& socket_path);
  /// A request on lease `lease` has been sent to its child; `quick`: its
  /// route is quick, so a waiter may queue behind it (queue_in_child).
  /// True when this request is itself queued behind another.
  bool Serving(uint64_t lease, uint64_t child_id, const std::string& socket_path, bool quick);
  /// Sends every family of `stats` (STATS lines).
  void SendStats(const RequestStats& stats);
  /// Runs `done` once every message sent so far has left the process.
  void WhenFlushed(std::function<void()> done);

  size_t waiting() const { return waiting_.size(); }
  /// Of those, the ones waiting without an ACQUIRE.
  size_t waiting_locally() const { return local_; }

 private:
  struct Waiter {
    LeaseCallback callback;
    uint64_t order;         ///< key in queue_: arrival
    int64_t since_ns;       ///< steady clock, for the lease table
    bool acquired = false;  ///< its ACQUIRE is sent (else it waits locally)
    uint64_t number = 0;    ///< the ACQUIRE's number (LeaseTable::TakeWaiter)
  };

  /// A lease with a request of this worker in its child.
  struct Running {
    uint64_t child_id = 0;
    std::string socket_path;
    int64_t since_ns = 0;                    ///< steady clock: when the request now first started
    bool quick = false;                      ///< its route is quick
    bool next_quick = false;                 ///< the queued one's
    int in_flight = 1;                       ///< 2 with one queued behind
    ipc::Outcome worst = ipc::Outcome::kOk;  ///< of a request that ended before the other
  };

  bool HandOver(uint64_t from_req, uint64_t child_id, const std::string& socket_path);
  /// A request of lease `lease` ended with `outcome`: true when the other
  /// request on it goes on (the lease does not end).
  bool PassOn(uint64_t lease, ipc::Outcome outcome);
  /// Forgets the lease's requests; returns the worst outcome recorded.
  ipc::Outcome EndRunning(uint64_t lease);
  /// Sends the oldest local waiter to the child of `lease`, if it may.
  void QueueBehind(uint64_t lease);
  /// The same, behind the lease whose request has been in its child longest.
  void QueueBehindAny();
  bool MayWaitLocally() const;
  /// Keeps the lease for the next request (lingering), if it may.
  bool Linger(uint64_t req, uint64_t child_id, const std::string& socket_path);
  /// Gives `req` a lingering lease: true when one was free to take.
  bool TakeLingering(uint64_t req, const LeaseCallback& callback);
  /// RELEASEs every lingering lease.
  void EndLingering();
  static void OnLingerTimer(evutil_socket_t, short, void* arg);
  void WaitLocally();
  /// `waited_here`: the ACQUIRE says how long it waited locally.
  void SendAcquire(uint64_t req, bool waited_here);
  /// Sends the ACQUIREs of every local waiter, oldest first; `except` is a
  /// request just arrived, not yet waiting here, whose ACQUIRE is the caller's.
  void FlushLocal(std::optional<uint64_t> except = std::nullopt);
  /// One more request given the child on a lease, without an ACQUIRE.
  void CountHanded(uint64_t child_id, bool waited);
  /// Sends the HANDED counts not sent yet.
  void SendHanded();
  /// A RELEASE, after what the master must read first.
  void SendRelease(uint64_t req, uint64_t child_id, ipc::Outcome outcome);
  static void OnFlushTimer(evutil_socket_t, short, void* arg);
  /// Forgets the waiter for `req`, if any waits.
  std::optional<Waiter> TakeWaiter(uint64_t req);
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
  LocalWaitLimits limits_;
  size_t local_ = 0;            // waiters without an ACQUIRE
  size_t held_ = 0;             // leases granted and not released
  uint64_t acquires_sent_ = 0;  // numbers the next ACQUIRE
  struct Lingering {
    uint64_t req;  ///< the lease's name
    uint64_t child_id;
    std::string socket_path;
  };
  std::vector<Lingering> lingering_;
  bool quitting_ = false;                   // QUIT came: no lingering
  std::map<uint64_t, ipc::Handed> handed_;  // by child id: not yet sent
  EventPtr flush_timer_;
  EventPtr linger_timer_;
  std::unordered_map<uint64_t, Running> running_;  // by lease name
  std::unordered_map<uint64_t, Waiter> waiting_;
  std::map<uint64_t, uint64_t> queue_;  // order -> req, oldest first
  uint64_t next_order_ = 0;
  std::unordered_set<uint64_t> cancelled_;  // may still get a GRANT or DENY
  std::deque<uint64_t> handed_over_;        // the latest few: a GRANT may cross their TRANSFER
  IpcChannel channel_;
};

}  // namespace valved::worker
