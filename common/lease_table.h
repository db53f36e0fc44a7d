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
//  - and one written by the master: how many of that worker's ACQUIREs it
//    has read, and below which one all have been answered (GRANT or DENY).
//    The master answers a worker's ACQUIREs in the order they came, so a
//    waiter read and not yet answered is queued in the master. A worker hands
//    over only to such a waiter: one whose GRANT may be on its way would
//    leave the master counting a second child busy for it until the worker
//    gives that one back, and a waiter the master has not read yet gets the
//    child from the master as soon as it reads the RELEASE.
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
  /// After `read` ACQUIREs of the worker, all before the `answered`-th
  /// have been answered (numbered from 0, modulo 2^32).
  void PublishQueue(uint64_t worker_id, uint32_t read, uint32_t answered);
  /// A worker is gone: its waiters no longer count.
  void ClearWorker(uint64_t worker_id);

  // --- a worker's side
  /// Claims the child for one more request: true when it is open and has a
  /// request left (which this spends).
  bool Claim(uint64_t child_id);
  /// When this worker's oldest waiter asked (ns of the steady clock; 0: none).
  void PublishOldest(uint64_t worker_id, int64_t since_ns);
  /// Whether `since_ns` is at least as old as every other worker's oldest waiter.
  bool OldestOfAll(uint64_t worker_id, int64_t since_ns) const;
  /// Whether the master has read the worker's `order`-th ACQUIRE (from 0)
  /// and not answered it: the request waits in the master's queue.
  bool Queued(uint64_t worker_id, uint64_t order) const;

 private:
  struct alignas(64) WorkerWord {
    uint64_t oldest_ns;
    uint64_t queue;  ///< read << 32 | answered
  };
  struct Layout {
    uint64_t children[kChildSlots];
    WorkerWord workers[kWorkerSlots];
  };

  LeaseTable(UniqueFd fd, Layout* layout) : fd_(std::move(fd)), layout_(layout) {}
  uint64_t& ChildWord(uint64_t child_id) const;

  UniqueFd fd_;
  Layout* layout_ = nullptr;
};

}  // namespace valved
