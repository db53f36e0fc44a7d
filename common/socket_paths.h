// The names of the R children's Unix sockets, and the byte budget they must
// fit: sun_path holds 107 bytes plus NUL. The master creates
// "<runtime_dir>/valved.<pid>.XXXXXX" (master/runtime_dir.h) and in it one
// "child-<id>.sock" per child (master/child_pool.h); the setting runtime_dir
// is checked against what is left (common/settings.h), so a long path is a
// setting error rather than a failure of the first spawn.
#pragma once

#include <sys/types.h>
#include <sys/un.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace valved {

/// The longest Unix socket path.
constexpr size_t kMaxSocketPathLength = sizeof(sockaddr_un::sun_path) - 1;
/// "/child-" + up to 20 digits + ".sock".
constexpr size_t kChildSocketNameLength = 32;
/// "/valved." + a pid of up to 7 digits + ".XXXXXX".
constexpr size_t kRuntimeSubdirLength = 22;
/// The longest runtime_dir setting: 107 - 32 - 22 = 53 bytes.
constexpr size_t kMaxRuntimeDirLength =
    kMaxSocketPathLength - kChildSocketNameLength - kRuntimeSubdirLength;

/// The mkdtemp() pattern of the master's own directory under `base`.
inline std::string RuntimeSubdirPattern(const std::string& base, pid_t master_pid) {
  return base + "/valved." + std::to_string(master_pid) + ".XXXXXX";
}

/// Whether child sockets fit in the directory `dir` that
/// RuntimeSubdirPattern() made.
inline bool ChildSocketsFit(const std::string& dir) {
  return dir.size() + kChildSocketNameLength <= kMaxSocketPathLength;
}

/// Where child `id` listens.
inline std::string ChildSocketPath(const std::string& dir, uint64_t id) {
  return dir + "/child-" + std::to_string(id) + ".sock";
}

}  // namespace valved
