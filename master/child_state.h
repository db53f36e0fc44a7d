// The life of one R child, as one enum and one table of legal transitions.
#pragma once

namespace valved::master {

enum class ChildState {
  kSpawning = 0,  ///< launched; waiting for its ready line (spawn_timeout running)
  kReady,         ///< idle and healthy: no lease
  kBusy,          ///< serving 1..max_concurrency_per_child requests (leases)
  kDraining,      ///< retired while Busy; stops when its last lease ends
  kStopping,      ///< SIGINT sent; SIGKILL once kill_timeout passes
  kDead,          ///< reaped; erased right after the transition is handled
};

const char* ToString(ChildState state);
/// Whether `from -> to` is in the table (docs/ARCHITECTURE.md, "A child's
/// life"); anything else is a bug.
bool IsLegalTransition(ChildState from, ChildState to);
/// States that count towards n_max / n_min: everything not on its way out.
bool IsLive(ChildState state);

}  // namespace valved::master
