// How processes end: describing wait statuses, and valved's own exit codes.
#pragma once

#include <string>

namespace valved {

/// valved's exit codes (sysexits, as Poco::Util::Application::ExitCode).
enum ExitCode : int {
  kExitOk = 0,
  kExitUsage = 64,     ///< bad command line
  kExitSoftware = 70,  ///< internal error
  kExitOsErr = 71,     ///< fork, exec or socketpair failed at start-up
  kExitConfig = 78,    ///< bad config, unusable address, API that cannot load; from a
                       ///< worker: "do not respawn me"
};

/// "exited with code 1", "killed by signal 9 (SIGKILL)", "... (core dumped)".
std::string DescribeWaitStatus(int wait_status);

}  // namespace valved
