// Principle: one reaper. SIGCHLDs coalesce, so every wake-up collects every
// exited process with waitpid(-1, WNOHANG) until none is left, and routes each
// status by pid. No other code waits for a pid (a second waiter would steal
// statuses; Poco's ProcessHandle::wait() is never used).
//
// The master is a child subreaper, so processes it never started become its
// children when their parents exit: a template's spares and intermediates, or
// what an R child left running. The master exits only once it has no child
// at all (HasChildren()), so that none of them outlives valved unreaped.
#pragma once

#include <sys/types.h>

#include <functional>

namespace valved::master {

/// Calls `route(pid, wait_status)` for every exited child process.
void ReapAll(const std::function<void(pid_t pid, int wait_status)>& route);

/// Whether this process has a child left, running or exited but not reaped.
bool HasChildren();

/// SIGKILL to every child of this process that is still running; returns
/// how many were sent.
size_t KillChildren();

}  // namespace valved::master
