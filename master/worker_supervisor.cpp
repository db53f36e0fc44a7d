#include "master/worker_supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <stdexcept>

#include "common/exit_status.h"
#include "common/log.h"
#include "common/settings.h"

namespace valved::master {
namespace {

constexpr Duration kQuickDeath = std::chrono::seconds(2);
constexpr Duration kMaxRespawnDelay = std::chrono::seconds(5);

// Between fork and exec only async-signal-safe calls are allowed. Handlers
// installed by libevent would write into the master's own signal pipe, so
// the child resets them before unblocking signals, then execs.
[[noreturn]] void ExecWorker(const std::vector<char*>& argv, int channel_fd, int listen_fd,
                             const sigset_t& old_mask) {
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  fcntl(channel_fd, F_SETFD, 0);
  fcntl(listen_fd, F_SETFD, 0);
  execv(argv[0], argv.data());
  _exit(kExitOsErr);
}

}  // namespace

const char* ToString(WorkerState state) {
  switch (state) {
    case WorkerState::kStarting:
      return "Starting";
    case WorkerState::kRunning:
      return "Running";
    case WorkerState::kQuitting:
      return "Quitting";
    case WorkerState::kDead:
      return "Dead";
  }
  return "?";
}

WorkerSupervisor::WorkerSupervisor(event_base* base, const Config& config, const Clock& clock,
                                   std::string exe, std::vector<UniqueFd> listeners, Hooks hooks)
    : base_(base),
      config_(config),
      clock_(clock),
      exe_(std::move(exe)),
      listeners_(std::move(listeners)),
      hooks_(std::move(hooks)) {}

WorkerSupervisor::~WorkerSupervisor() = default;

void WorkerSupervisor::Start() {
  for (size_t i = 0; i < listeners_.size(); ++i) {
    auto worker = std::make_unique<Worker>();
    worker->id = i + 1;
    workers_.push_back(std::move(worker));
    Fork(*workers_.back());
  }
}

std::vector<std::string> WorkerSupervisor::WorkerArgs(const Worker& worker, int channel_fd) const {
  std::vector<std::string> args = {exe_, "worker", "--channel-fd=" + std::to_string(channel_fd),
                                   "--listen-fd=" + std::to_string(listeners_[worker.id - 1].get()),
                                   "--id=" + std::to_string(worker.id)};
  for (const auto& [key, value] : SettingsOf(config_)) args.push_back("--set=" + key + "=" + value);
  return args;
}

void WorkerSupervisor::Fork(Worker& worker) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == -1)
    throw std::runtime_error("socketpair() failed: " + ErrnoString(errno));
  UniqueFd ours(pair[0]), theirs(pair[1]);
  std::vector<std::string> args = WorkerArgs(worker, theirs.get());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  sigset_t all, old_mask;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old_mask);
  pid_t pid = fork();
  if (pid == 0) ExecWorker(argv, theirs.get(), listeners_[worker.id - 1].get(), old_mask);
  int fork_errno = errno;
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  if (pid == -1) throw std::runtime_error("fork() failed: " + ErrnoString(fork_errno));

  worker.pid = pid;
  worker.started_at = clock_.Now();
  worker.channel = std::make_unique<IpcChannel>(
      base_, std::move(ours), "worker#" + std::to_string(worker.id),
      [this, &worker](const ipc::Message& m) { OnMessage(worker, m); },
      [this, &worker](const std::string& reason) { OnChannelClosed(worker, reason); });
  SetState(worker, WorkerState::kStarting, "forked pid " + std::to_string(pid));
}

void WorkerSupervisor::OnMessage(Worker& worker, const ipc::Message& message) {
  if (const auto* hello = std::get_if<ipc::Hello>(&message)) {
    if (hello->version != ipc::kProtocolVersion) {
      Log(LogLevel::kError) << "worker#" << worker.id << ": protocol version " << hello->version
                            << ", master speaks " << ipc::kProtocolVersion << "; stopping it";
      worker.channel->Shutdown();
      ::kill(worker.pid, SIGKILL);
      return;
    }
    worker.channel->Send(ipc::Welcome{});
    if (worker.state == WorkerState::kStarting) SetState(worker, WorkerState::kRunning, "hello");
    if (stopping_) worker.channel->Send(ipc::Quit{});
    return;
  }
  hooks_.on_message(worker.id, message);
}

void WorkerSupervisor::OnChannelClosed(Worker& worker, const std::string& reason) {
  Log(worker.state == WorkerState::kQuitting ? LogLevel::kDebug : LogLevel::kWarn)
      << "worker#" << worker.id << " pid=" << worker.pid << ": channel closed (" << reason << ")";
  // A worker without a channel can't get leases; make sure it is gone, and
  // the reaper re-forks the slot.
  if (worker.state != WorkerState::kDead) ::kill(worker.pid, SIGKILL);
  hooks_.on_lost(worker.id);
}

bool WorkerSupervisor::OnExit(pid_t pid, int wait_status) {
  for (auto& worker : workers_) {
    if (worker->pid != pid || worker->state == WorkerState::kDead) continue;
    bool expected = worker->state == WorkerState::kQuitting;
    if (!expected) {
      Log(LogLevel::kError) << "worker#" << worker->id << " pid=" << pid << ": "
                            << DescribeWaitStatus(wait_status) << "; re-forking";
    }
    if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == kExitConfig)
      fatal_error_ = "worker#" + std::to_string(worker->id) + " cannot run (exit code 78)";
    if (worker->channel && worker->channel->open()) hooks_.on_lost(worker->id);
    worker->channel.reset();
    bool quick = clock_.Now() - worker->started_at < kQuickDeath;
    worker->quick_deaths = quick ? worker->quick_deaths + 1 : 0;
    // The first death re-forks at once; a worker that keeps dying backs off.
    Duration delay =
        std::chrono::milliseconds(quick ? 100 << std::min(worker->quick_deaths, 6) : 0);
    worker->respawn_at = clock_.Now() + std::min(delay, kMaxRespawnDelay);
    SetState(*worker, WorkerState::kDead, DescribeWaitStatus(wait_status));
    if (!stopping_ && fatal_error_.empty() && delay.count() == 0) Fork(*worker);
    return true;
  }
  return false;
}

void WorkerSupervisor::RespawnDue() {
  if (stopping_ || !fatal_error_.empty()) return;
  for (auto& worker : workers_) {
    if (worker->state == WorkerState::kDead && clock_.Now() >= worker->respawn_at) Fork(*worker);
  }
}

void WorkerSupervisor::Send(uint64_t worker_id, const ipc::Message& message) {
  if (worker_id == 0 || worker_id > workers_.size()) return;
  Worker& worker = *workers_[worker_id - 1];
  if (worker.channel) worker.channel->Send(message);
}

void WorkerSupervisor::StopAll(bool graceful) {
  stopping_ = true;
  for (auto& worker : workers_) {
    if (worker->state == WorkerState::kDead) continue;
    if (worker->channel)
      worker->channel->Send(graceful ? ipc::Message(ipc::Quit{}) : ipc::Message(ipc::Terminate{}));
    if (worker->state != WorkerState::kQuitting)
      SetState(*worker, WorkerState::kQuitting, graceful ? "QUIT sent" : "TERMINATE sent");
  }
}

void WorkerSupervisor::KillAll() {
  stopping_ = true;
  for (auto& worker : workers_) {
    if (worker->state != WorkerState::kDead) ::kill(worker->pid, SIGKILL);
  }
}

void WorkerSupervisor::CloseListeners() { listeners_.clear(); }

size_t WorkerSupervisor::alive() const {
  size_t n = 0;
  for (const auto& worker : workers_) n += worker->state != WorkerState::kDead;
  return n;
}

void WorkerSupervisor::SetState(Worker& worker, WorkerState to, const std::string& reason) {
  Log(LogLevel::kNotice) << "worker#" << worker.id << " pid=" << worker.pid << ": "
                         << ToString(worker.state) << " -> " << ToString(to) << " (" << reason
                         << ")";
  worker.state = to;
}

}  // namespace valved::master
