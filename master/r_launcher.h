// The real Launcher. spawn_method fresh: starts `Rscript launcher.R <socket>
// <api> <master-pid>` (r_process.h) and reads its output. spawn_method fork:
// asks the generation's template (template_supervisor.h) to fork the child,
// which writes its stdout and stderr into two FIFOs that the master reads the
// same way; the ready line and everything after it are the same for both.
#pragma once

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/clock.h"
#include "common/event_ptr.h"
#include "common/unique_fd.h"
#include "master/child_output.h"
#include "master/launcher.h"
#include "master/r_process.h"
#include "master/template_supervisor.h"

namespace valved::master {

class RLauncher final : public Launcher {
 public:
  /// `on_ready(id)`: child `id` printed its ready line. `on_template_ready`:
  /// a template can fork now (children held back for it may start).
  /// `on_launched(id, pid, why)`: the end of a Launch() that returned
  /// kPidLater (pid -1: no child was made, because of `why`).
  RLauncher(event_base* base, const Clock& clock, RLaunchSpec spec,
            std::function<void(uint64_t)> on_ready, std::function<void()> on_template_ready,
            TemplateSupervisor::ForkedFn on_launched);
  ~RLauncher() override;

  /// Children started from now on run `spec` (reload); running ones are
  /// untouched. With fork, a new template starts (the API's files may have
  /// changed); the previous one is kept until CommitSpec().
  void SetSpec(RLaunchSpec spec);
  /// An abandoned reload: back to `spec`, and to its template if it still
  /// runs, which holds the code that still serves.
  void RestoreSpec(RLaunchSpec spec);
  /// The reload is done: templates of earlier specs stop.
  void CommitSpec();
  const RLaunchSpec& spec() const { return spec_; }

  pid_t Launch(uint64_t id, const std::string& socket_path) override;
  bool CanLaunch() const override;
  /// The current template keeps min(fork_spares, children) spares.
  void SetHeadroom(size_t children) override;
  void Signal(pid_t pid, int signo) override;
  std::string OutputTail(uint64_t id) override;
  void Forget(uint64_t id) override;

  /// The reaper collected `pid`; false when it is not a template.
  bool OnExit(pid_t pid, int wait_status);
  /// Handles the templates' answers written so far. Call before reaping: a
  /// forked child's pid is then known before its exit can be collected.
  void PollTemplates();
  /// Template restarts and deadlines.
  void Tick(Duration spawn_timeout, Duration kill_timeout);
  /// Shutdown: every template stops (fast: SIGKILL).
  void StopTemplates(bool fast);
  /// Templates whose process still runs.
  size_t TemplatesAlive() const;

 private:
  pid_t LaunchFresh(uint64_t id, const std::string& socket_path, const std::string& token);
  pid_t LaunchForked(uint64_t id, const std::string& socket_path, const std::string& token);
  struct OutputFifo {
    std::string path;
    UniqueFd read_end;
    UniqueFd hold;  ///< a write end, so that reading sees no EOF before the child opens it
  };
  OutputFifo MakeOutputFifo(uint64_t id, const std::string& path);
  void StartTemplate();
  void OnForked(uint64_t id, pid_t pid, const std::string& why);
  TemplateSupervisor* Current() const;
  /// Spares for the current template, none for the others.
  void TellSpares();

  event_base* base_;
  const Clock& clock_;
  RLaunchSpec spec_;
  std::function<void(uint64_t)> on_ready_;
  std::function<void()> on_template_ready_;
  TemplateSupervisor::ForkedFn on_launched_;
  std::map<uint64_t, std::unique_ptr<ChildOutput>> outputs_;
  std::map<uint64_t, std::string> sockets_;     // removed when the child is forgotten
  std::multimap<uint64_t, std::string> fifos_;  // forked children's output FIFOs, likewise
  // Our write ends of a forked child's stdout and stderr, until it is ready.
  std::map<uint64_t, std::array<UniqueFd, 2>> fifo_holds_;
  // The current template is the last; earlier ones stop at CommitSpec() or
  // serve again if SetSpec() returns to their spec.
  std::vector<std::unique_ptr<TemplateSupervisor>> templates_;
  uint64_t template_generation_ = 0;
  size_t headroom_ = 0;  // the pool's, as last told (SetHeadroom)
};

}  // namespace valved::master
