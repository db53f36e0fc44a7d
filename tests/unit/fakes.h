// Fakes for the master's pure logic: a clock the test moves by hand, a
// launcher that records what the pool asked for instead of starting R, and a
// lease sink that records what the broker sent the workers.
#pragma once

#include <csignal>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "master/launcher.h"
#include "master/lease_broker.h"

namespace valved::testing {

class FakeClock final : public Clock {
 public:
  TimePoint Now() const override { return now_; }
  void Advance(Duration d) { now_ += d; }

 private:
  TimePoint now_ = TimePoint{} + std::chrono::hours(1);
};

class FakeLauncher final : public master::Launcher {
 public:
  pid_t Launch(uint64_t id, const std::string& socket_path) override {
    if (fail_next_launch) {
      fail_next_launch = false;
      throw std::runtime_error("cannot start Rscript");
    }
    launched.push_back({id, socket_path});
    pid_t pid = next_pid++;
    return pid_later ? kPidLater : pid;
  }
  bool CanLaunch() const override { return can_launch; }
  void Signal(pid_t pid, int signo) override { signals.emplace_back(pid, signo); }
  std::string OutputTail(uint64_t) override { return output_tail; }
  void Forget(uint64_t id) override { forgotten.push_back(id); }

  /// The pid of the n-th launched child (0-based).
  pid_t PidOf(size_t n) const { return 1000 + static_cast<pid_t>(n); }
  bool WasSignalled(pid_t pid, int signo) const {
    for (const auto& [p, s] : signals)
      if (p == pid && s == signo) return true;
    return false;
  }

  std::vector<std::pair<uint64_t, std::string>> launched;
  std::vector<std::pair<pid_t, int>> signals;
  std::vector<uint64_t> forgotten;
  std::string output_tail = "Error in eval(ei, envir): boom";
  bool fail_next_launch = false;
  bool can_launch = true;  ///< false: a template is still loading
  bool pid_later = false;  ///< true: as a template's fork, the pid comes through OnLaunched()
  pid_t next_pid = 1000;
};

/// Records the GRANTs and DENYs a LeaseBroker sends, by worker id.
struct RecordingSink final : master::LeaseSink {
  void SendGrant(uint64_t worker_id, const ipc::Grant& grant) override {
    grants.push_back({worker_id, grant});
  }
  void SendDeny(uint64_t worker_id, const ipc::Deny& deny) override {
    denies.push_back({worker_id, deny});
  }
  std::vector<std::pair<uint64_t, ipc::Grant>> grants;
  std::vector<std::pair<uint64_t, ipc::Deny>> denies;
};

/// A wait status as waitpid() reports it.
inline int Exited(int code) { return (code & 0xff) << 8; }
inline int Killed(int signo) { return signo & 0x7f; }

}  // namespace valved::testing
