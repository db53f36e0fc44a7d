// The worker process's entry point, exec'd by the master:
//
//   valved worker --channel-fd=N --listen-fd=M --id=K [--lease-table-fd=L]
//                 [--set key=value]...
//
// N is this worker's end of its socketpair with the master, M the slot's
// listening socket (bound, listening, SO_REUSEPORT), K the slot number, L
// the master's lease table (common/lease_table.h; without it no hand-overs),
// and each --set (also --set=key=value) one setting as in common/settings.h.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"

namespace valved::worker {

struct WorkerArgs {
  int channel_fd = -1;
  int listen_fd = -1;
  int lease_table_fd = -1;  ///< -1: none
  uint64_t id = 0;
  std::string runtime_dir;  ///< the master's runtime directory: temp_dir when that is empty
  std::vector<std::pair<std::string, std::string>> settings;  ///< (key, value) in order
};

/// Parses argv (argv[1] is "worker"). On failure returns nullopt and sets *error.
std::optional<WorkerArgs> ParseWorkerArgs(int argc, char** argv, std::string* error);

/// The worker's Config: defaults, then every --set in order, then the
/// cross-field rules. Throws ConfigError.
Config BuildWorkerConfig(const std::vector<std::pair<std::string, std::string>>& settings);

/// Runs a worker until QUIT (0), TERMINATE (0) or the loss of the master (1);
/// 64 for a bad command line, 78 for bad settings, 70 for an internal error.
int WorkerMain(int argc, char** argv);

}  // namespace valved::worker
