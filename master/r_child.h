// What the master knows about one R child. Only ChildPool changes `state`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/clock.h"
#include "master/child_state.h"

namespace valved::master {

/// The holder of a lease: request `req` of worker `worker_id`.
struct LeaseRef {
  uint64_t worker_id = 0;
  uint64_t req = 0;
  bool operator==(const LeaseRef&) const = default;
};

struct RChild {
  uint64_t id = 0;
  pid_t pid = -1;
  std::string socket_path;
  ChildState state = ChildState::kSpawning;
  TimePoint spawned_at{};
  TimePoint state_since{};        ///< when `state` was entered (idle since, busy since, stop sent)
  std::optional<LeaseRef> lease;  ///< set exactly while Busy or Draining
  uint64_t requests = 0;          ///< leases served
  int max_requests = 0;           ///< recycle after this many (0: never); jitter applied
  /// Non-empty once the child is due for replacement (max_requests, reload):
  /// it keeps serving until its successor is Ready (make-before-break).
  std::string retire_reason;
  uint64_t successor = 0;    ///< the child started to replace this one (0: none yet)
  uint64_t predecessor = 0;  ///< the child this one replaces (0: none)
  uint64_t generation = 0;   ///< ChildPool::ReplaceAll() calls before this child started
};

}  // namespace valved::master
