// The lease table: a small shared-memory table that lets a worker hand a
// child straight from the request that just finished with it to the next
// request waiting in the same worker, without a round trip through the
// master (the lease hand-over, docs/ARCHITECTURE.md).
//
// The master creates it (a memfd) before forking workers and passes the fd.
// Two kinds of entries:
//  - one word per child (slot id % kChildSlots), written by the master:
//    the child's id, whether it takes another request after the current one
//    ("open": Ready or Busy, not due for replacement), and how many more
//    requests its max_requests allows. A worker claims a hand-over with one
//    compare-and-swap that checks all three and spends one request.
//  - per worker (slot id % kWorkerSlots), one word written by that worker:
//    when its oldest request waiting for a child asked for one (steady clock,
//    ns; 0 = none). A worker hands over only if no other worker's waiter is
//    older, which keeps the queue FIFO across workers (to within the few
//    microseconds between a request's arrival and its publication);
//  - one word, written by the master: whether the pool is saturated (no
//    child free or starting, and none may be spawned). A request that
//    arrives then, in a worker that holds a lease, waits in that worker
//    without an ACQUIRE until a hand-over (docs/ARCHITECTURE.md, "Local
//    waits"); the master asks for those ACQUIREs (FLUSH) when it stops
//    being saturated;
//  - and one shared by both: how many of that worker's ACQUIREs the master
//    has read, and below which one all have a child. The master gives a
//    worker's waiters children in the order they came; it and the worker
//    each take a waiter with one compare-and-swap of that word, so exactly
//    one of them gives it a child. A worker hands over only to a waiter the
//    master has read: one whose GRANT is on its way would leave the master
//    counting a second child busy for it until the worker gives that one
//    back, and one the master has not read yet gets the child from the
//    master as soon as it reads the RELEASE.
#pragma once

#include <cstddef>
#include <cstdint>

#include "common/unique_fd.h"

namespace valved {

class LeaseTable {
 public:
  static constexpr size_t kChildSlots = 1024;
  static constexpr size_t kWorkerSlots = 256;
  /// Requests left meaning "no max_requests".
  static constexpr uint32_t kUnlimited = 0x7fffffff;

  /// The master's: a new, zeroed table. Throws std::runtime_error.
  static LeaseTable Create();
  /// A worker's: maps the table behind `fd` (inherited). Throws std::runtime_error.
  static LeaseTable Attach(UniqueFd fd);
  LeaseTable(LeaseTable&& other) noexcept;
  LeaseTable& operator=(LeaseTable&& other) noexcept;
  LeaseTable(const LeaseTable&) = delete;
  LeaseTable& operator=(const LeaseTable&) = delete;
  ~LeaseTable();

  /// For the workers' command line; close-on-exec, so R children never see it.
  int fd() const { return fd_.get(); }

  // --- the master's side
  /// A new child: closed, with `requests_left` (kUnlimited: no limit).
  void AddChild(uint64_t child_id, uint32_t requests_left);
  /// Whether the child takes hand-overs from now on.
  void SetOpen(uint64_t child_id, bool open);
  /// The master leased the child itself (a GRANT): one request less left.
  void Spend(uint64_t child_id);
  void RemoveChild(uint64_t child_id);
  /// The master has read `read` ACQUIREs of the worker (numbered from 0,
  /// modulo 2^32). The first call makes the slot the worker's.
  void PublishRead(uint64_t worker_id, uint32_t read);
  /// The master gives the worker's `order`-th waiter a child: false when
  /// the worker has already handed it one (TakeWaiter). Always true for a
  /// worker that does not own its slot (it cannot hand over).
  bool TakeForGrant(uint64_t worker_id, uint32_t order);
  /// A worker is gone: its waiters no longer count.
  void ClearWorker(uint64_t worker_id);
  /// Whether a request arriving now can only wait (no child free or
  /// starting, none may be spawned).
  void PublishSaturated(bool saturated);
  /// Whether the worker has a request waiting (it published one).
  bool HasWaiters(uint64_t worker_id) const;
  /// How many requests wait in the master's queue.
  void PublishQueued(size_t count);
  /// How many workers there are (a lease lingers only with one).
  void PublishWorkers(size_t count);
  /// Requests waiting in their workers without an ACQUIRE, all workers.
  size_t LocalWaiters() const;
  /// Requests waiting anywhere: the master's queue and local waits (max_queue).
  size_t QueueLength() const;
  /// When the oldest waiter of all workers asked (ns, steady clock; 0: none).
  int64_t OldestOfAllNs() const;

  // --- a worker's side
  /// Claims the child for one more request: true when it is open and has a
  /// request left (which this spends).
  bool Claim(uint64_t child_id);
  /// When this worker's oldest waiter asked (ns of the steady clock; 0: none).
  void PublishOldest(uint64_t worker_id, int64_t since_ns);
  /// Whether `since_ns` is at least as old as every other worker's oldest waiter.
  bool OldestOfAll(uint64_t worker_id, int64_t since_ns) const;
  /// Takes the worker's `order`-th waiter for a hand-over: true when the
  /// master has read its ACQUIRE and has not given it a child.
  bool TakeWaiter(uint64_t worker_id, uint64_t order);
  /// Gives back the request Claim() spent (the hand-over did not happen).
  void Unclaim(uint64_t child_id);
  bool Saturated() const;
  size_t Workers() const;
  /// How many of this worker's requests wait without an ACQUIRE (status).
  void PublishLocal(uint64_t worker_id, size_t count);

 private:
  struct alignas(64) WorkerWord {
    uint64_t oldest_ns;
    uint64_t queue;  ///< read << 32 | the first not given a child
    uint64_t owner;  ///< the worker id the queue word belongs to (ids may share a slot)
    uint64_t local;  ///< requests waiting in the worker without an ACQUIRE
  };
  struct Layout {
    alignas(64) uint64_t saturated;
    uint64_t queued;        ///< the master's queue length
    uint64_t worker_count;  ///< workers alive
    uint64_t children[kChildSlots];
    WorkerWord workers[kWorkerSlots];
  };

  LeaseTable(UniqueFd fd, Layout* layout) : fd_(std::move(fd)), layout_(layout) {}
  uint64_t& ChildWord(uint64_t child_id) const;

  UniqueFd fd_;
  Layout* layout_ = nullptr;
};

}  // namespace valved
