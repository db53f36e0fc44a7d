#include "master/api_load_check.h"

#include <Poco/Exception.h>
#include <Poco/Pipe.h>
#include <Poco/Process.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

#include "common/clock.h"
#include "common/privileges.h"
#include "common/unique_fd.h"
#include "master/api_location.h"
#include "master/install_layout.h"
#include "master/run_as.h"
#include "master/startup_checks.h"

namespace valved::master {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr int kLauncherApiLoadFailed = 3;  // r/launcher.R's kExitApiLoad

/// Appends what `fd` gives until EOF or `deadline`. False at the deadline.
bool ReadUntilEof(int fd, SteadyClock::time_point deadline, std::string* out) {
  char buf[4096];
  while (true) {
    auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - SteadyClock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r == 0) return false;
    if (r < 0) {
      if (errno == EINTR) continue;
      return true;
    }
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return true;
    out->append(buf, static_cast<size_t>(n));
  }
}

}  // namespace

ApiLoadResult LoadApiOnce(const Config& config) {
  ApiLocation api = LocateApi(config.file);
  Poco::Process::Args args =
      RunAsArgs(ChildIdentity(config, geteuid()), LocateRscript(config.rscript),
                {CheckLauncherScript(), "--check", api.path});
  Poco::Pipe in, out;
  pid_t pid;
  try {
    // The same pipe for stdout and stderr: R's messages in the order R wrote them.
    Poco::ProcessHandle handle =
        Poco::Process::launch("/proc/self/exe", args, api.working_dir, &in, &out, &out, {});
    pid = handle.id();
  } catch (const Poco::Exception& e) {
    return {false, "cannot start R: " + e.displayText()};
  }
  in.close();
  UniqueFd output(dup(out.readHandle()));
  out.close();
  ApiLoadResult result;
  auto deadline = SteadyClock::now() + config.spawn_timeout;
  bool finished = ReadUntilEof(output.get(), deadline, &result.output);
  if (!finished) {
    ::kill(-pid, SIGKILL);  // `valved run-as` made R the leader of its own group
    ::kill(pid, SIGKILL);
    result.output += "\n(R was still loading the API after spawn_timeout; killed)";
  }
  int status = 0;
  while (waitpid(pid, &status, 0) == -1 && errno == EINTR) {
  }
  result.loaded = finished && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (!result.loaded && finished && WIFEXITED(status) &&
      WEXITSTATUS(status) != kLauncherApiLoadFailed) {
    result.output += "\n(R exited with status " + std::to_string(WEXITSTATUS(status)) + ")";
  }
  return result;
}

}  // namespace valved::master
