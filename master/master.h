// The master process: owns the event loop, the signal table, the pool of R
// children, the lease broker and the workers, and sequences start-up and
// shutdown. Run() reads like a table of contents (Gunicorn's arbiter).
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "common/clock.h"
#include "common/config.h"
#include "common/event_ptr.h"
#include "common/lease_table.h"
#include "common/signal_set.h"
#include "master/api_location.h"
#include "master/child_pool.h"
#include "master/lease_broker.h"
#include "master/notify.h"
#include "master/r_launcher.h"
#include "master/request_totals.h"
#include "master/status_server.h"
#include "master/worker_supervisor.h"

namespace valved::master {

/// A start-up failure: the message for stderr and the exit code.
class StartupError : public std::runtime_error {
 public:
  StartupError(int exit_code, const std::string& message)
      : std::runtime_error(message), exit_code_(exit_code) {}
  int exit_code() const { return exit_code_; }

 private:
  int exit_code_;
};

class Master final : public LeaseSink {
 public:
  /// Re-reads the configuration for a reload (the file and the command line);
  /// throws ConfigError.
  using ConfigSource = std::function<Config()>;

  /// `config_file` is the -c file ("" for none), for the log and /status.
  Master(Config config, std::string config_file, ConfigSource reload_source);
  ~Master() override;
  /// Runs until shutdown; returns the process exit code.
  int Run();

  // LeaseSink
  void SendGrant(uint64_t worker_id, const ipc::Grant& grant) override;
  void SendDeny(uint64_t worker_id, const ipc::Deny& deny) override;

 private:
  /// A reload in progress: the new children are starting.
  struct Reload {
    Config previous;
    ApiLocation previous_api;
    RLaunchSpec previous_spec;
    std::vector<UniqueFd> listeners;  ///< for the new workers, when the address or count changed
  };

  struct Stop {
    bool graceful = true;
    int exit_code = 0;
    TimePoint deadline{};
    bool children_retired = false;
    bool escalated = false;
  };

  void Setup();
  std::vector<UniqueFd> OpenListeners();
  void StartStatusServer(UniqueFd listener);
  StatusSnapshot Snapshot() const;
  /// /readyz: enough children ready (n_min, at least 1) and not stopping.
  bool IsReady(std::string* why) const;
  void LogStartup() const;
  /// Keeps systemd informed (READY=1 once ready, STATUS= as the pool changes).
  void UpdateNotify();
  /// "2/10 R children busy, queue 0", for STATUS=.
  std::string PoolSummary() const;
  void InstallSignals();
  void StartJanitor();
  static void OnJanitorTimer(evutil_socket_t, short, void* arg);

  void OnTerm();
  void OnFastStop();
  void OnHup();
  void OnTtin();
  void OnTtou();
  void ResizeWorkers(bool grow);
  /// TTIN: one more worker slot; false (logged) when no socket could be opened.
  bool AddWorker();
  void BeginReload(Config next);
  /// After every event: acts once the pool's ReloadStatus settles.
  void AdvanceReload();
  void AbandonReload();
  void FinishReload();
  /// Replaces the running configuration (reload, abandoned reload).
  void SetConfig(Config config, const ApiLocation& api);
  RLaunchSpec LaunchSpecFor(const Config& config, const ApiLocation& api) const;
  void OnUsr1();
  void OnChild();
  void OnJanitor();
  void OnChildReady(uint64_t id);
  void OnWorkerMessage(uint64_t worker_id, const ipc::Message& message);
  void OnWorkerLost(uint64_t worker_id);
  /// Runs after every event: pair waiters, spawn, check fatal errors, advance shutdown.
  void AfterEvent();
  void PublishSaturation();
  void Reap();
  void BeginStop(bool graceful, int exit_code);
  void AdvanceStop();
  /// Once the workers, children and templates are gone: exits the loop, or
  /// first kills and waits for the orphans re-parented to the master.
  void EndWhenNoChildLeft();
  void Guard(const char* what, const std::function<void()>& body);

  Config config_;
  std::string config_file_;
  ConfigSource reload_source_;
  SteadyClock clock_;
  TimePoint started_at_{};
  double started_at_unix_ = 0;
  RequestTotals totals_;
  uint64_t reloads_ok_ = 0;
  uint64_t reloads_abandoned_ = 0;
  std::string last_reload_;
  TimePoint last_reload_at_{};  ///< when the last reload ended
  Notifier notifier_;
  bool ready_notified_ = false;
  // Teardown runs bottom-up: everything holding events goes before the base.
  EventBasePtr base_;
  std::string runtime_dir_;
  ApiLocation api_;
  std::unique_ptr<RLauncher> launcher_;
  std::unique_ptr<LeaseTable> lease_table_;  // before the pool, which publishes to it
  std::unique_ptr<ChildPool> pool_;
  std::unique_ptr<LeaseBroker> broker_;
  std::unique_ptr<WorkerSupervisor> supervisor_;
  std::unique_ptr<SignalSet> signals_;
  std::unique_ptr<StatusServer> status_server_;
  EventPtr janitor_;
  TimePoint next_idle_check_{};
  bool announced_ = false;
  bool subreaper_ = false;  // PR_SET_CHILD_SUBREAPER worked: children may be forked
  bool saturated_ = false;  // as last published in the lease table
  std::optional<Reload> reload_;
  std::optional<Stop> stop_;
};

}  // namespace valved::master
