#include "common/exit_status.h"

#include <sys/wait.h>

#include <cstring>

namespace valved {

std::string DescribeWaitStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return "exited with code " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    const char* abbrev = sigabbrev_np(sig);
    std::string text = "killed by signal " + std::to_string(sig);
    if (abbrev) text += std::string(" (SIG") + abbrev + ")";
    if (WCOREDUMP(wait_status)) text += " (core dumped)";
    return text;
  }
  return "ended with wait status " + std::to_string(wait_status);
}

}  // namespace valved
