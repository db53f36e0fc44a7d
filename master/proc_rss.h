// Resident memory of a process, read from /proc (for max_memory).
#pragma once

#include <sys/types.h>

#include <cstdint>

namespace valved::master {

/// RSS of `pid` in bytes, or -1 if it cannot be read (the process is gone).
int64_t ResidentBytes(pid_t pid);

}  // namespace valved::master
