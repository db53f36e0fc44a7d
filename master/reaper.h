// Principle: one reaper. SIGCHLDs coalesce, so every wake-up collects every
// exited process with waitpid(-1, WNOHANG) until none is left, and routes each
// status by pid. No other code waits for a pid (a second waiter would steal
// statuses; Poco's ProcessHandle::wait() is never used).
#pragma once

#include <sys/types.h>

#include <functional>

namespace valved::master {

/// Calls `route(pid, wait_status)` for every exited child process.
void ReapAll(const std::function<void(pid_t pid, int wait_status)>& route);

}  // namespace valved::master
