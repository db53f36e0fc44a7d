#include "master/master.h"

#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>

#include "common/address_filter.h"
#include "common/exit_status.h"
#include "common/listen_address.h"
#include "common/log.h"
#include "common/net.h"
#include "common/privileges.h"
#include "common/settings.h"
#include "master/install_layout.h"
#include "master/proc_rss.h"
#include "master/reaper.h"
#include "master/runtime_dir.h"
#include "master/startup_checks.h"

namespace valved::master {
namespace {

constexpr timeval kJanitorPeriod = {0, 250 * 1000};

std::string Url(const Config& config, const std::string& path) {
  return "http://" + HostPort(config.host, config.port) + path;
}

uint64_t Sum(const std::array<uint64_t, 5>& counters) {
  uint64_t n = 0;
  for (uint64_t c : counters) n += c;
  return n;
}

}  // namespace

Master::Master(Config config, std::string config_file, ConfigSource reload_source)
    : config_(std::move(config)),
      config_file_(std::move(config_file)),
      reload_source_(std::move(reload_source)) {}

Master::~Master() = default;

int Master::Run() {
  try {
    Setup();
  } catch (const StartupError& e) {
    Log(LogLevel::kError) << e.what();
    RemoveRuntimeDir(runtime_dir_);
    return e.exit_code();
  }
  LogStartup();
  pool_->Start();
  StartJanitor();
  try {
    supervisor_->Start();
  } catch (const std::exception& e) {
    // Children are already starting: stop them through the loop, which reaps.
    Log(LogLevel::kError) << "cannot start the workers: " << e.what();
    BeginStop(false, kExitOsErr);
  }
  AfterEvent();
  event_base_dispatch(base_.get());
  RemoveRuntimeDir(runtime_dir_);
  int code = stop_ ? stop_->exit_code : kExitSoftware;
  Log(LogLevel::kNotice) << "exiting with code " << code;
  return code;
}

void Master::Setup() {
  try {
    api_ = LocateApi(config_.file);
    LocateRscript(config_.rscript);
    CheckLauncherScript();
  } catch (const ConfigError& e) {
    throw StartupError(kExitConfig, e.what());
  }
  started_at_ = clock_.Now();
  started_at_unix_ =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  std::vector<UniqueFd> listeners = OpenListeners();
  UniqueFd status_listener;
  if (!config_.status_listen.empty()) {
    try {
      std::string error;
      status_listener = ListenOn(*ParseListenAddress(config_.status_listen, &error));
    } catch (const std::exception& e) {
      throw StartupError(kExitConfig, std::string(e.what()) + " (setting status_listen)");
    }
  }
  std::string exe = SelfExe();
  if (exe.empty())
    throw StartupError(kExitOsErr, "cannot find my own binary: readlink(/proc/self/exe) failed");
  try {
    runtime_dir_ = CreateRuntimeDir(config_.runtime_dir, ChildIdentity(config_, geteuid()));
  } catch (const std::exception& e) {
    throw StartupError(kExitConfig, e.what());
  }
  base_.reset(event_base_new());
  if (!base_) throw StartupError(kExitOsErr, "event_base_new() failed");
  // spawn_method fork: forked children are re-parented to the master when
  // the template's intermediate process exits, so that the master reaps them.
  subreaper_ = prctl(PR_SET_CHILD_SUBREAPER, 1) == 0;
  if (!subreaper_)
    Log(LogLevel::kWarn) << "cannot become a child subreaper (" << ErrnoString(errno)
                         << "): children start fresh, whatever spawn_method says";
  launcher_ = std::make_unique<RLauncher>(
      base_.get(), clock_, LaunchSpecFor(config_, api_),
      [this](uint64_t id) { Guard("child ready", [&] { OnChildReady(id); }); },
      [this] { Guard("template ready", [&] { pool_->Start(); }); },
      // Not Guard(): answers are read inside other events (Reap(), a ready
      // child), which run AfterEvent() themselves.
      [this](uint64_t id, pid_t pid, const std::string& why) {
        try {
          pool_->OnLaunched(id, pid, why);
        } catch (const std::exception& e) {
          Log(LogLevel::kError) << "child forked: " << e.what();
        }
      });
  pool_ = std::make_unique<ChildPool>(config_, *launcher_, clock_, runtime_dir_);
  try {
    lease_table_ = std::make_unique<LeaseTable>(LeaseTable::Create());
  } catch (const std::exception& e) {
    throw StartupError(kExitOsErr, e.what());
  }
  pool_->PublishTo(lease_table_.get());
  broker_ = std::make_unique<LeaseBroker>(config_, *pool_, clock_, *this, lease_table_.get());
  WorkerSupervisor::Hooks hooks{
      [this](uint64_t id, const ipc::Message& m) {
        Guard("worker message", [&] { OnWorkerMessage(id, m); });
      },
      [this](uint64_t id) { Guard("worker lost", [&] { OnWorkerLost(id); }); }};
  supervisor_ =
      std::make_unique<WorkerSupervisor>(base_.get(), config_, clock_, exe, std::move(listeners),
                                         std::move(hooks), runtime_dir_, lease_table_->fd());
  InstallSignals();
  if (status_listener) StartStatusServer(std::move(status_listener));
}

void Master::StartStatusServer(UniqueFd listener) {
  std::string error;
  std::optional<AddressFilter> allow = AddressFilter::Parse(config_.status_allow, &error);
  if (!allow) throw StartupError(kExitConfig, "status_allow: " + error);
  status_server_ = std::make_unique<StatusServer>(base_.get(), std::move(listener),
                                                  std::move(*allow), [this] { return Snapshot(); });
}

// Names what an operator checks first: which file, which addresses.
void Master::LogStartup() const {
  Log(LogLevel::kNotice) << "valved " << VALVED_VERSION << " starting: config "
                         << (config_file_.empty() ? "(none: defaults and flags)" : config_file_)
                         << ", API " << api_.path << ", listening on " << Url(config_, "/")
                         << ", status "
                         << (config_.status_listen.empty() ? "off (status_listen)"
                                                           : config_.status_listen)
                         << ", " << config_.workers << " workers, " << config_.n_min << ".."
                         << config_.n_max << " R children";
}

// READY=1 waits for n_min children (as /readyz does), but at most
// spawn_timeout: past it, a server with some ready children is better
// reported up than killed by systemd's TimeoutStartSec. With none ready it
// stays "activating", and systemd's timeout decides.
void Master::UpdateNotify() {
  if (!notifier_.enabled() || stop_) return;
  std::string why;
  bool ready = IsReady(&why);
  if (!ready_notified_) {
    bool some_ready = pool_->Count(ChildState::kReady) + pool_->Count(ChildState::kBusy) > 0;
    if (ready || (some_ready && clock_.Now() - started_at_ >= config_.spawn_timeout)) {
      ready_notified_ = true;
      notifier_.Ready(PoolSummary());
    } else {
      notifier_.Status("starting: " + why);
    }
    return;
  }
  if (!reload_) notifier_.Status(PoolSummary());
}

std::string Master::PoolSummary() const {
  size_t busy = pool_->Count(ChildState::kBusy) + pool_->Count(ChildState::kDraining);
  return std::to_string(busy) + "/" + std::to_string(config_.n_max) + " R children busy, queue " +
         std::to_string(broker_->queue_length());
}

bool Master::IsReady(std::string* why) const {
  size_t want = static_cast<size_t>(std::max(config_.n_min, 1));
  size_t ready = pool_->Count(ChildState::kReady) + pool_->Count(ChildState::kBusy);
  std::string counts = std::to_string(ready) + " of " + std::to_string(want) + " R children ready";
  if (stop_) {
    *why = "stopping";
    return false;
  }
  if (ready < want) {
    *why = "not ready: " + counts;
    return false;
  }
  *why = "ready: " + counts;
  return true;
}

StatusSnapshot Master::Snapshot() const {
  TimePoint now = clock_.Now();
  auto seconds = [&](TimePoint since) {
    return std::chrono::duration<double>(now - since).count();
  };
  StatusSnapshot s;
  s.version = VALVED_VERSION;
  s.config_file = config_file_;
  s.api = api_.path;
  s.listen = Url(config_, "/");
  s.status_listen = config_.status_listen;
  s.master_pid = getpid();
  s.uptime_seconds = seconds(started_at_);
  s.start_time_unix = started_at_unix_;
  s.generation = pool_->generation();
  s.n_min = config_.n_min;
  s.n_max = config_.n_max;
  s.max_concurrency_per_child = config_.max_concurrency_per_child;
  s.ready = IsReady(&s.readiness);
  s.stopping = stop_.has_value();
  s.reloading = reload_.has_value();
  s.last_reload = last_reload_;
  if (!last_reload_.empty()) {
    s.last_reload_age_seconds = seconds(last_reload_at_);
    s.last_reload_unix = started_at_unix_ + seconds(started_at_) - seconds(last_reload_at_);
  }
  s.reloads_ok = reloads_ok_;
  s.reloads_abandoned = reloads_abandoned_;
  s.queue_length = broker_->queue_length();
  if (auto oldest = broker_->oldest_since()) s.oldest_wait_seconds = seconds(*oldest);
  s.queued_total = broker_->waited();
  s.handovers = broker_->handovers();
  s.denials = broker_->denials();
  for (const WorkerInfo& w : supervisor_->Workers()) {
    RequestStats stats = totals_.Of(w.id);
    s.workers.push_back({w.id, w.slot + 1, w.pid, ToString(w.state), seconds(w.started_at),
                         stats.connections_open, Sum(stats.by_class), ResidentBytes(w.pid)});
  }
  for (const auto& [id, child] : pool_->children()) {
    Duration busy = child->busy_total;
    if (!child->leases.empty())
      busy += std::chrono::duration_cast<Duration>(now - child->leased_at);
    s.children.push_back(
        {child->id, child->pid, ToString(child->state), child->generation,
         seconds(child->spawned_at), child->requests, Seconds(busy), seconds(child->state_since),
         ResidentBytes(child->pid), child->replacement_reason,
         child->leases.empty() ? 0 : child->leases.front().worker_id, child->leases.size()});
  }
  s.pool = pool_->counters();
  s.requests = totals_.Total();
  s.master_rss_bytes = ResidentBytes(getpid());
  return s;
}

RLaunchSpec Master::LaunchSpecFor(const Config& config, const ApiLocation& api) const {
  RLaunchSpec spec{LocateRscript(config.rscript),
                   FindLauncherScript(),
                   api.path,
                   api.working_dir,
                   config.host,
                   config.port};
  spec.run_as = ChildIdentity(config, geteuid());
  spec.warmup = config.warmup;
  spec.template_script = TemplateScriptFor(spec.launcher_script);
  spec.fork = config.spawn_method == "fork" && subreaper_;
  spec.spares = static_cast<size_t>(std::max(config.fork_spares, 0));
  if (spec.fork && access(spec.template_script.c_str(), R_OK) != 0) {
    Log(LogLevel::kWarn) << "cannot read the R template " << spec.template_script
                         << ": children start fresh";
    spec.fork = false;
  }
  return spec;
}

std::vector<UniqueFd> Master::OpenListeners() {
  std::vector<UniqueFd> listeners;
  try {
    CheckPortFree(config_.host, config_.port);
    for (int i = 0; i < config_.workers; ++i)
      listeners.push_back(ListenReusePort(config_.host, config_.port));
  } catch (const std::exception& e) {
    throw StartupError(kExitConfig, e.what());
  }
  return listeners;
}

void Master::InstallSignals() {
  signals_ = std::make_unique<SignalSet>(base_.get());
  auto on = [this](int signo, const char* name, void (Master::*handler)()) {
    signals_->Add(signo, [this, name, handler] {
      Log(LogLevel::kNotice) << name << " received";
      Guard(name, [&] { (this->*handler)(); });
    });
  };
  on(SIGTERM, "SIGTERM", &Master::OnTerm);
  on(SIGINT, "SIGINT", &Master::OnFastStop);
  on(SIGQUIT, "SIGQUIT", &Master::OnFastStop);
  on(SIGHUP, "SIGHUP", &Master::OnHup);
  on(SIGUSR1, "SIGUSR1", &Master::OnUsr1);
  on(SIGTTIN, "SIGTTIN", &Master::OnTtin);
  on(SIGTTOU, "SIGTTOU", &Master::OnTtou);
  signals_->Add(SIGCHLD, [this] { Guard("SIGCHLD", [&] { OnChild(); }); });
}

void Master::StartJanitor() {
  janitor_.reset(event_new(base_.get(), -1, EV_PERSIST, OnJanitorTimer, this));
  event_add(janitor_.get(), &kJanitorPeriod);
  next_idle_check_ = clock_.Now() + config_.check_unused;
}

void Master::OnJanitorTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Master*>(arg);
  self->Guard("janitor", [self] { self->OnJanitor(); });
}

// Each tick only compares deadlines with the clock and acts.
void Master::OnJanitor() {
  broker_->ExpireWaiters();
  pool_->EnforceDeadlines();
  if (clock_.Now() >= next_idle_check_) {
    pool_->StopIdle();
    pool_->ReplaceOversized(ResidentBytes);
    next_idle_check_ = clock_.Now() + config_.check_unused;
  }
  supervisor_->RespawnDue();
  launcher_->Tick(config_.spawn_timeout, config_.kill_timeout);
}

void Master::OnTerm() { BeginStop(true, kExitOk); }

void Master::OnFastStop() { BeginStop(false, kExitOk); }

void Master::OnHup() {
  if (stop_) return;
  if (reload_) {
    Log(LogLevel::kWarn) << "a reload is already under way; SIGHUP ignored";
    return;
  }
  try {
    BeginReload(reload_source_());
  } catch (const std::exception& e) {
    Log(LogLevel::kError) << "reload failed: " << e.what()
                          << "; still serving with the old configuration";
  }
}

// Parse and check everything first (Gunicorn, nginx): a reload that cannot
// work leaves the running server untouched.
void Master::BeginReload(Config next) {
  ApiLocation api = LocateApi(next.file);
  bool moved = next.host != config_.host || next.port != config_.port;
  std::vector<UniqueFd> listeners;
  if (moved) {
    // A new address: a new set of sockets. (Same address: the slots keep
    // theirs, so nothing queued on them is lost; see ResizeWorkers().)
    CheckPortFree(next.host, next.port);
    for (int i = 0; i < next.workers; ++i)
      listeners.push_back(ListenReusePort(next.host, next.port));
  }
  // The runtime directory, the pid file and the children's user were set up
  // at start-up; changing them under running children would strand them.
  for (auto [key, changed] : {std::pair{"runtime_dir", next.runtime_dir != config_.runtime_dir},
                              {"pid_file", next.pid_file != config_.pid_file},
                              {"user", next.user != config_.user || next.group != config_.group}}) {
    if (changed) Log(LogLevel::kWarn) << key << " changes only take effect on restart";
  }
  reload_ = Reload{config_, api_, launcher_->spec(), std::move(listeners)};
  next.runtime_dir = config_.runtime_dir;
  next.pid_file = config_.pid_file;
  next.user = config_.user;
  next.group = config_.group;
  SetConfig(std::move(next), api);
  launcher_->SetSpec(LaunchSpecFor(config_, api_));
  Log(LogLevel::kNotice) << "reloading: new R children for " << api_.path
                         << "; the old ones serve until they are ready";
  notifier_.Reloading("reloading: new R children are starting");
  pool_->ReplaceAll("reload");
  pool_->Start();  // an empty pool (n_min 0) still needs a child to prove the new API
}

// The first new child that is ready proves the new API: new workers take
// over. If the new API cannot load, the old configuration stays.
void Master::AdvanceReload() {
  if (!reload_) return;
  switch (pool_->reload_status()) {
    case ReloadStatus::kAbandoned:
      return AbandonReload();
    case ReloadStatus::kVerified:
      return FinishReload();
    case ReloadStatus::kIdle:
    case ReloadStatus::kProving:
      return;
  }
}

void Master::AbandonReload() {
  Log(LogLevel::kError) << "reload abandoned: " << pool_->reload_error()
                        << "\nstill serving with the old configuration";
  ++reloads_abandoned_;
  last_reload_ = "abandoned: " + pool_->reload_error();
  last_reload_at_ = clock_.Now();
  notifier_.Ready("reload abandoned; " + PoolSummary());
  SetConfig(std::move(reload_->previous), reload_->previous_api);
  launcher_->RestoreSpec(std::move(reload_->previous_spec));
  reload_.reset();
}

void Master::FinishReload() {
  bool moved = !reload_->listeners.empty();
  if (!moved) ResizeWorkers(false);  // retire extra slots before they get new workers
  supervisor_->ReplaceAll(std::move(reload_->listeners));
  if (!moved) ResizeWorkers(true);
  launcher_->CommitSpec();
  Log(LogLevel::kNotice) << "reload: new children are serving; old workers and children drain";
  ++reloads_ok_;
  last_reload_ = "ok";
  last_reload_at_ = clock_.Now();
  notifier_.Ready(PoolSummary());
  reload_.reset();
}

// The one place the running configuration changes: every part that decides
// with it gets the new one here.
void Master::SetConfig(Config config, const ApiLocation& api) {
  config_ = std::move(config);
  api_ = api;
  pool_->SetConfig(config_);
  broker_->SetConfig(config_);
  supervisor_->SetConfig(config_);
  SetLogLevel(LogLevelOf(config_));
}

// Brings the number of worker slots to config_.workers, the configured
// count (TTIN and TTOU change the slots, not the setting): removing (TTOU's
// way, draining the last socket first) or adding.
void Master::ResizeWorkers(bool grow) {
  size_t want = static_cast<size_t>(std::max(config_.workers, 1));
  while (!grow && supervisor_->slots() > want) supervisor_->RemoveSlot();
  while (grow && supervisor_->slots() < want && AddWorker()) {
  }
}

bool Master::AddWorker() {
  try {
    supervisor_->AddSlot(ListenReusePort(config_.host, config_.port));
    return true;
  } catch (const std::exception& e) {
    Log(LogLevel::kError) << "cannot add a worker: " << e.what();
    return false;
  }
}

void Master::OnTtin() {
  if (!stop_) AddWorker();
}

void Master::OnTtou() {
  if (!stop_) supervisor_->RemoveSlot();
}

void Master::OnUsr1() {
  std::string error;
  if (!ReopenLog(&error)) Log(LogLevel::kError) << error;
  // Workers reopen the file as `user`: a file logrotate just created must be theirs.
  if (auto identity = ChildIdentity(config_, geteuid()); identity && !config_.log_file.empty()) {
    if (!GiveFileTo(config_.log_file, *identity, &error)) Log(LogLevel::kWarn) << error;
  }
  supervisor_->Broadcast(ipc::Reopen{});
}

void Master::OnChild() { Reap(); }

void Master::Reap() {
  launcher_->PollTemplates();  // a forked child's pid before its exit
  ReapAll([this](pid_t pid, int status) {
    if (pool_->OnExit(pid, status) || supervisor_->OnExit(pid, status) ||
        launcher_->OnExit(pid, status))
      return;
    Log(LogLevel::kDebug) << "reaped unknown pid " << pid << ": " << DescribeWaitStatus(status);
  });
}

void Master::OnChildReady(uint64_t id) {
  pool_->OnReady(id);
  if (!announced_) {
    announced_ = true;
    std::string error;
    std::string status =
        config_.status_listen.empty()
            ? ""
            : ", status at " + ParseListenAddress(config_.status_listen, &error)->Url() + "/";
    Log(LogLevel::kNotice) << "serving " << api_.path << " at " << Url(config_, "/") << " (docs at "
                           << Url(config_, "/__docs__/") << status << ")";
  }
}

void Master::OnWorkerMessage(uint64_t worker_id, const ipc::Message& message) {
  if (const auto* m = std::get_if<ipc::Acquire>(&message)) {
    broker_->Acquire(worker_id, m->req,
                     std::chrono::ceil<Duration>(std::chrono::microseconds(m->waited_us)));
  } else if (const auto* m = std::get_if<ipc::Handed>(&message)) {
    broker_->Handed(*m);
  } else if (const auto* m = std::get_if<ipc::Release>(&message)) {
    // Collect exits first: a child that died mid-request must be seen as
    // dead, not put back in the idle list for the next request to hit.
    if (m->outcome != ipc::Outcome::kOk) Reap();
    broker_->Release(worker_id, *m,
                     [](const RChild& child) { return UnixSocketAccepts(child.socket_path); });
  } else if (const auto* m = std::get_if<ipc::Transfer>(&message)) {
    broker_->Transfer(worker_id, *m);
  } else if (const auto* m = std::get_if<ipc::Cancel>(&message)) {
    broker_->Cancel(worker_id, m->req);
  } else if (const auto* m = std::get_if<ipc::Stats>(&message)) {
    std::string error;
    if (!totals_.OnStats(worker_id, *m, &error))
      Log(LogLevel::kWarn) << "worker#" << worker_id << ": " << error;
  } else {
    Log(LogLevel::kWarn) << "worker#" << worker_id << ": unexpected message "
                         << ipc::FormatMessage(message);
  }
}

void Master::OnWorkerLost(uint64_t worker_id) {
  totals_.OnWorkerGone(worker_id);
  lease_table_->ClearWorker(worker_id);
  broker_->DropWorker(worker_id);
}

void Master::SendGrant(uint64_t worker_id, const ipc::Grant& grant) {
  supervisor_->Send(worker_id, grant);
}

void Master::SendDeny(uint64_t worker_id, const ipc::Deny& deny) {
  supervisor_->Send(worker_id, deny);
}

void Master::AfterEvent() {
  broker_->Dispatch();
  PublishSaturation();
  launcher_->SetHeadroom(pool_->Headroom());
  if (!stop_ && !pool_->fatal_error().empty()) {
    Log(LogLevel::kError) << pool_->fatal_error();
    BeginStop(false, kExitConfig);
  }
  if (!stop_ && !supervisor_->fatal_error().empty()) {
    Log(LogLevel::kError) << supervisor_->fatal_error();
    BeginStop(false, kExitConfig);
  }
  AdvanceReload();
  AdvanceStop();
  UpdateNotify();
#ifndef NDEBUG
  if (std::string wrong = pool_->VerifyInvariants(); !wrong.empty())
    Log(LogLevel::kError) << "invariant broken: " << wrong;
#endif
}

// While saturated, workers keep new requests to themselves (local waits,
// common/lease_table.h); when that ends, those that have some are asked for
// their ACQUIREs, so that a child free here or one spawned serves them. The
// table word is written before the waiters are read (see LeaseTable).
void Master::PublishSaturation() {
  lease_table_->PublishQueued(broker_->waiting());
  lease_table_->PublishWorkers(supervisor_->alive());
  bool saturated = broker_->Saturated();
  if (saturated == saturated_) return;
  saturated_ = saturated;
  lease_table_->PublishSaturated(saturated);
  if (!saturated)
    supervisor_->Broadcast(ipc::Flush{},
                           [this](uint64_t id) { return lease_table_->HasWaiters(id); });
}

// Graceful: workers stop accepting and finish what they hold; children stay
// up to serve them, and are stopped once the workers are gone. Fast: all at
// once. Either way, past the deadline everything left is killed.
void Master::BeginStop(bool graceful, int exit_code) {
  if (stop_) {
    if (!graceful && stop_->graceful) {
      stop_->graceful = false;
      stop_->deadline = std::min(stop_->deadline, clock_.Now() + config_.kill_timeout);
      supervisor_->StopAll(false);
    }
    return;
  }
  Duration grace = graceful ? config_.graceful_timeout : config_.kill_timeout;
  stop_ = Stop{graceful, exit_code, clock_.Now() + grace};
  notifier_.Stopping(graceful ? "stopping: in-flight requests finish" : "stopping");
  Log(LogLevel::kNotice) << (graceful ? "graceful" : "fast") << " stop: up to " << Seconds(grace)
                         << "s";
  supervisor_->StopAll(graceful);
  supervisor_->CloseListeners();
  launcher_->StopTemplates(false);  // running children need no template
}

void Master::AdvanceStop() {
  if (!stop_) return;
  if (!stop_->children_retired && (supervisor_->alive() == 0 || !stop_->graceful)) {
    stop_->children_retired = true;
    broker_->Close(ipc::DenyReason::kShuttingDown);
    pool_->RetireAll(SIGINT);
  }
  if (!stop_->escalated && clock_.Now() >= stop_->deadline) {
    stop_->escalated = true;
    Log(LogLevel::kWarn) << "stop deadline passed; killing what is left";
    supervisor_->KillAll();
    pool_->KillAll();
    launcher_->StopTemplates(true);
  }
  if (supervisor_->alive() == 0 && pool_->empty() && launcher_->TemplatesAlive() == 0)
    EndWhenNoChildLeft();
}

// What is left are orphans re-parented to the master (see reaper.h): a
// template's spares, which their intermediates kill as the template stops
// but which may not have been reaped yet, or what an R child left running.
// Nothing serves with them; none may outlive valved. Each one's exit wakes
// the loop (SIGCHLD), which comes back here until none is left.
void Master::EndWhenNoChildLeft() {
  if (!HasChildren()) {
    event_base_loopexit(base_.get(), nullptr);
    return;
  }
  if (size_t killed = KillChildren(); killed > 0)
    Log(LogLevel::kDebug) << "stopping: killed " << killed << " leftover process(es)";
}

void Master::Guard(const char* what, const std::function<void()>& body) {
  try {
    body();
    AfterEvent();
  } catch (const std::exception& e) {
    Log(LogLevel::kError) << what << ": " << e.what();
  }
}

}  // namespace valved::master
