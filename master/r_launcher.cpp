#include "master/r_launcher.h"

#include <Poco/Exception.h>
#include <Poco/Pipe.h>
#include <Poco/Process.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <random>
#include <stdexcept>

#include "common/log.h"
#include "master/run_as.h"

namespace valved::master {
namespace {

std::string RandomToken() {
  std::random_device random;
  std::string token;
  for (int i = 0; i < 4; ++i) {
    char buf[9];
    snprintf(buf, sizeof buf, "%08x", static_cast<unsigned>(random()));
    token += buf;
  }
  return token;
}

// Poco's pipes are not close-on-exec; keep our own CLOEXEC copy of the read
// end so it does not leak into workers forked later. Poco closes its copy.
UniqueFd TakeReadEnd(Poco::Pipe& pipe) {
  int fd = fcntl(pipe.readHandle(), F_DUPFD_CLOEXEC, 3);
  pipe.close();
  return UniqueFd(fd);
}

}  // namespace

RLauncher::RLauncher(event_base* base, RLaunchSpec spec, std::function<void(uint64_t)> on_ready)
    : base_(base), spec_(std::move(spec)), on_ready_(std::move(on_ready)) {}

pid_t RLauncher::Launch(uint64_t id, const std::string& socket_path) {
  std::string token = RandomToken();
  Poco::Process::Args args = {spec_.launcher_script, socket_path, spec_.api_path,
                              std::to_string(getpid())};
  Poco::Process::Env env = {{"VALVED_READY_TOKEN", token},
                            {"VALVED_HOST", spec_.public_host},
                            {"VALVED_PORT", std::to_string(spec_.public_port)},
                            {"VALVED_CHILD_ID", std::to_string(id)},
                            {"VALVED_WARMUP", spec_.warmup ? "1" : "0"}};
  // R starts through `valved run-as` (its own process group, the configured
  // user). /proc/self/exe, resolved in the forked child before exec, is the
  // master's own image even after a package upgrade replaced the file.
  args = RunAsArgs(spec_.run_as, spec_.rscript, args);
  std::string command = spec_.valved_exe.empty() ? "/proc/self/exe" : spec_.valved_exe;
  Poco::Pipe in, out, err;
  pid_t pid;
  try {
    Poco::ProcessHandle handle =
        Poco::Process::launch(command, args, spec_.working_dir, &in, &out, &err, env);
    pid = handle.id();
  } catch (const Poco::Exception& e) {
    throw std::runtime_error("cannot start " + command + ": " + e.displayText());
  }
  in.close();  // R gets EOF on stdin
  sockets_[id] = socket_path;
  outputs_[id] =
      std::make_unique<ChildOutput>(base_, id, TakeReadEnd(out), TakeReadEnd(err),
                                    "valved-ready " + token, [this, id] { on_ready_(id); });
  return pid;
}

// The child leads its own process group once `valved run-as` ran; until then
// (ESRCH for the group) only the process itself can be signalled.
void RLauncher::Signal(pid_t pid, int signo) {
  if (pid <= 0) return;
  if (::kill(-pid, signo) == 0) return;
  if (::kill(pid, signo) == -1 && errno != ESRCH) {
    Log(LogLevel::kWarn) << "kill(" << pid << ", " << signo << ") failed: " << ErrnoString(errno);
  }
}

std::string RLauncher::OutputTail(uint64_t id) {
  auto it = outputs_.find(id);
  return it == outputs_.end() ? "" : it->second->Tail();
}

// A child killed by a signal cannot remove its socket file; the next child
// gets a new path anyway, but a long-running server must not collect them.
void RLauncher::Forget(uint64_t id) {
  outputs_.erase(id);
  if (auto it = sockets_.find(id); it != sockets_.end()) {
    ::unlink(it->second.c_str());
    sockets_.erase(it);
  }
}

}  // namespace valved::master
