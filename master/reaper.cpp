#include "master/reaper.h"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <string>

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

bool HasChildren() {
  siginfo_t info{};
  // WNOWAIT: an exited child stays for ReapAll() to route.
  while (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) == -1) {
    if (errno != EINTR) return false;  // ECHILD
  }
  return true;
}

namespace {

// The parent pid and state of process `pid` from /proc/<pid>/stat
// ("pid (comm) S ppid ..."; comm may hold spaces and parentheses).
bool ReadParent(const std::string& pid, pid_t* ppid, char* state) {
  std::ifstream in("/proc/" + pid + "/stat");
  std::string stat;
  if (!std::getline(in, stat)) return false;
  size_t end = stat.rfind(')');
  if (end == std::string::npos || end + 4 >= stat.size()) return false;
  *state = stat[end + 2];
  const char* first = stat.data() + end + 4;
  return std::from_chars(first, stat.data() + stat.size(), *ppid).ec == std::errc{};
}

}  // namespace

// Children are found through /proc (every process's parent), which works
// without CONFIG_PROC_CHILDREN and for children re-parented to any thread.
size_t KillChildren() {
  size_t killed = 0;
  pid_t self = getpid();
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    pid_t ppid = 0;
    char state = '?';
    if (!ReadParent(name, &ppid, &state) || ppid != self || state == 'Z') continue;
    if (kill(std::stoi(name), SIGKILL) == 0) ++killed;
  }
  return killed;
}

}  // namespace valved::master
