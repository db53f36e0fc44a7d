// What the master knows about one R child. Only ChildPool changes `state`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/clock.h"
#include "master/child_state.h"

namespace valved::master {

/// The holder of a lease: request `req` of worker `worker_id`.
struct LeaseRef {
  uint64_t worker_id = 0;
  uint64_t req = 0;
  bool operator==(const LeaseRef&) const = default;
};

/// Where a child is in being replaced, make-before-break. Apart from
/// ChildState: a child that is due keeps serving (Ready, Busy) while its
/// successor starts, and is retired (Stopping, Draining) only once the
/// successor is Ready. Only ChildPool changes it.
enum class Replacement {
  kNone,               ///< not due for replacement
  kDue,                ///< due (max_requests, max_memory, reload); no successor yet
  kSuccessorStarting,  ///< `successor` is Spawning; this child still serves
  kReplaced,           ///< `successor` is Ready; this child is retired
};

struct RChild {
  uint64_t id = 0;
  pid_t pid = -1;
  std::string socket_path;
  ChildState state = ChildState::kSpawning;
  TimePoint spawned_at{};
  TimePoint state_since{};   ///< when `state` was entered (idle since, busy since)
  TimePoint signalled_at{};  ///< the last stop signal; SIGKILL kill_timeout after it
  /// The requests it serves now, oldest first: not empty exactly while Busy
  /// or Draining; at most max_concurrency_per_child.
  std::vector<LeaseRef> leases;
  /// A forked child printed its ready line before its pid came: it becomes
  /// Ready when the pid does (a child the master cannot signal serves nothing).
  bool ready_before_pid = false;
  uint64_t requests = 0;  ///< leases granted
  TimePoint leased_at{};  ///< when it last went from no lease to one (busy since)
  Duration busy_total{};  ///< time spent holding at least one lease, before leased_at
  int max_requests = 0;   ///< recycle after this many (0: never); jitter applied
  Replacement replacement = Replacement::kNone;
  std::string replacement_reason;  ///< why it is due ("served max_requests (20)", "reload")
  uint64_t successor = 0;    ///< kSuccessorStarting, kReplaced: the child that replaces this one
  uint64_t predecessor = 0;  ///< the child this one replaces (0: none)
  uint64_t generation = 0;   ///< ChildPool::ReplaceAll() calls before this child started
};

}  // namespace valved::master
