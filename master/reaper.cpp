#include "master/reaper.h"

#include <sys/wait.h>

#include <cerrno>

namespace valved::master {

void ReapAll(const std::function<void(pid_t pid, int wait_status)>& route) {
  for (;;) {
    int status = 0;
    pid_t pid = waitpid(-1, &status, WNOHANG);
    if (pid == -1 && errno == EINTR) continue;
    if (pid <= 0) return;  // 0: none exited yet; -1/ECHILD: no children at all
    route(pid, status);
  }
}

}  // namespace valved::master
