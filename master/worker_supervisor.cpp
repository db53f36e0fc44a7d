// Principle
//
// A slot is a place for one worker: a listening socket that the master keeps
// open for the server's whole life. A worker is a process serving a slot; it
// has its own id (never reused, so a lease names exactly one process). A slot
// without a Starting or Running worker gets a new one: at once after the first
// death, with a growing delay if workers keep dying soon after start. Quitting
// workers (TTOU, reload, shutdown) finish what they hold while a new worker
// may already serve the same slot: both accept from the same socket.

#include "master/worker_supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <stdexcept>

#include "common/exit_status.h"
#include "common/log.h"
#include "common/net.h"
#include "common/settings.h"

namespace valved::master {
namespace {

constexpr Duration kQuickDeath = std::chrono::seconds(2);
constexpr Duration kMaxRespawnDelay = std::chrono::seconds(5);

// Between fork and exec only async-signal-safe calls are allowed. Handlers
// installed by libevent would write into the master's own signal pipe, so
// the child resets them before unblocking signals, then execs.
[[noreturn]] void ExecWorker(const std::vector<char*>& argv, int channel_fd, int listen_fd,
                             int lease_table_fd, const sigset_t& old_mask) {
  for (int sig = 1; sig < NSIG; ++sig) signal(sig, SIG_DFL);
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  fcntl(channel_fd, F_SETFD, 0);
  fcntl(listen_fd, F_SETFD, 0);
  if (lease_table_fd >= 0) fcntl(lease_table_fd, F_SETFD, 0);
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
                                   std::string exe, std::vector<UniqueFd> listeners, Hooks hooks,
                                   std::string runtime_dir, int lease_table_fd)
    : base_(base),
      config_(config),
      clock_(clock),
      exe_(std::move(exe)),
      runtime_dir_(std::move(runtime_dir)),
      lease_table_fd_(lease_table_fd),
      hooks_(std::move(hooks)),
      graveyard_(base) {
  for (UniqueFd& listener : listeners) slots_.push_back(Slot{std::move(listener)});
}

WorkerSupervisor::~WorkerSupervisor() = default;

void WorkerSupervisor::Start() {
  for (size_t slot = 0; slot < slots_.size(); ++slot) Fork(slot);
}

std::vector<std::string> WorkerSupervisor::WorkerArgs(const Worker& worker, int channel_fd) const {
  std::vector<std::string> args = {
      exe_, "worker", "--channel-fd=" + std::to_string(channel_fd),
      "--listen-fd=" + std::to_string(slots_[worker.slot].listener.get()),
      "--id=" + std::to_string(worker.id)};
  if (!runtime_dir_.empty()) args.push_back("--runtime-dir=" + runtime_dir_);
  if (lease_table_fd_ >= 0) args.push_back("--lease-table-fd=" + std::to_string(lease_table_fd_));
  for (const auto& [key, value] : SettingsOf(config_)) args.push_back("--set=" + key + "=" + value);
  return args;
}

void WorkerSupervisor::Fork(size_t slot) {
  int pair[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) == -1)
    throw std::runtime_error("socketpair() failed: " + ErrnoString(errno));
  UniqueFd ours(pair[0]), theirs(pair[1]);
  auto worker = std::make_unique<Worker>();
  worker->id = next_id_++;
  worker->slot = slot;
  std::vector<std::string> args = WorkerArgs(*worker, theirs.get());
  std::vector<char*> argv;
  for (std::string& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);

  sigset_t all, old_mask;
  sigfillset(&all);
  sigprocmask(SIG_SETMASK, &all, &old_mask);
  pid_t pid = fork();
  if (pid == 0)
    ExecWorker(argv, theirs.get(), slots_[slot].listener.get(), lease_table_fd_, old_mask);
  int fork_errno = errno;
  sigprocmask(SIG_SETMASK, &old_mask, nullptr);
  if (pid == -1) throw std::runtime_error("fork() failed: " + ErrnoString(fork_errno));

  Worker& w = *worker;
  w.pid = pid;
  w.started_at = clock_.Now();
  w.channel = std::make_unique<IpcChannel>(
      base_, std::move(ours), "worker#" + std::to_string(w.id),
      [this, &w](const ipc::Message& m) { OnMessage(w, m); },
      [this, &w](const std::string& reason) { OnChannelClosed(w, reason); });
  workers_.push_back(std::move(worker));
  Log(LogLevel::kNotice) << "worker#" << w.id << " pid=" << pid << ": forked for slot " << slot + 1;
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
    return;
  }
  hooks_.on_message(worker.id, message);
}

void WorkerSupervisor::OnChannelClosed(Worker& worker, const std::string& reason) {
  bool expected = worker.state == WorkerState::kQuitting;
  Log(expected ? LogLevel::kDebug : LogLevel::kWarn)
      << "worker#" << worker.id << " pid=" << worker.pid << ": channel closed (" << reason << ")";
  // A worker without a channel can't get leases; make sure it is gone, and
  // the reaper re-forks the slot.
  if (!expected) ::kill(worker.pid, SIGKILL);
  hooks_.on_lost(worker.id);
}

bool WorkerSupervisor::OnExit(pid_t pid, int wait_status) {
  auto it = std::find_if(workers_.begin(), workers_.end(),
                         [pid](const auto& w) { return w->pid == pid; });
  if (it == workers_.end()) return false;
  Worker& worker = **it;
  if (worker.state != WorkerState::kQuitting) {
    Log(LogLevel::kError) << "worker#" << worker.id << " pid=" << pid << ": "
                          << DescribeWaitStatus(wait_status) << "; its slot gets a new worker";
    NoteDeath(worker, wait_status);
  }
  if (worker.channel && worker.channel->open()) hooks_.on_lost(worker.id);
  SetState(worker, WorkerState::kDead, DescribeWaitStatus(wait_status));
  graveyard_.Bury(std::move(*it));
  workers_.erase(it);
  RespawnDue();
  return true;
}

// The first death re-forks at once; a worker that keeps dying backs off.
void WorkerSupervisor::NoteDeath(Worker& worker, int wait_status) {
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == kExitConfig)
    fatal_error_ = "worker#" + std::to_string(worker.id) + " cannot run (exit code 78)";
  if (worker.slot >= slots_.size()) return;
  Slot& slot = slots_[worker.slot];
  bool quick = clock_.Now() - worker.started_at < kQuickDeath;
  slot.quick_deaths = quick ? slot.quick_deaths + 1 : 0;
  Duration delay{quick ? 100 << std::min(slot.quick_deaths - 1, 6) : 0};
  if (slot.quick_deaths == 1) delay = Duration{0};
  slot.respawn_at = clock_.Now() + std::min(delay, kMaxRespawnDelay);
}

bool WorkerSupervisor::SlotHasWorker(size_t slot) const {
  return std::any_of(workers_.begin(), workers_.end(), [slot](const auto& w) {
    return w->slot == slot && w->state != WorkerState::kQuitting && w->state != WorkerState::kDead;
  });
}

void WorkerSupervisor::RespawnDue() {
  if (stopping_ || !fatal_error_.empty()) return;
  for (size_t slot = 0; slot < slots_.size(); ++slot) {
    if (!SlotHasWorker(slot) && clock_.Now() >= slots_[slot].respawn_at) Fork(slot);
  }
}

void WorkerSupervisor::Send(uint64_t worker_id, const ipc::Message& message) {
  Worker* worker = Find(worker_id);
  if (worker && worker->channel) worker->channel->Send(message);
}

void WorkerSupervisor::Broadcast(const ipc::Message& message,
                                 const std::function<bool(uint64_t worker_id)>& to) {
  for (auto& worker : workers_) {
    if (worker->channel && (!to || to(worker->id))) worker->channel->Send(message);
  }
}

void WorkerSupervisor::Quit(Worker& worker, bool graceful) {
  if (worker.channel)
    worker.channel->Send(graceful ? ipc::Message(ipc::Quit{}) : ipc::Message(ipc::Terminate{}));
  if (worker.state != WorkerState::kQuitting)
    SetState(worker, WorkerState::kQuitting, graceful ? "QUIT sent" : "TERMINATE sent");
}

void WorkerSupervisor::StopAll(bool graceful) {
  stopping_ = true;
  for (auto& worker : workers_) Quit(*worker, graceful);
}

void WorkerSupervisor::KillAll() {
  stopping_ = true;
  for (auto& worker : workers_) ::kill(worker->pid, SIGKILL);
}

void WorkerSupervisor::CloseListeners() {
  for (Slot& slot : slots_) slot.listener.reset();
}

void WorkerSupervisor::AddSlot(UniqueFd listener) {
  slots_.push_back(Slot{std::move(listener)});
  Steer(slots_.size());
  Fork(slots_.size() - 1);
}

void WorkerSupervisor::Steer(size_t first_n) {
  if (slots_.empty() || !slots_[0].listener) return;
  if (!SteerReusePort(slots_[0].listener.get(), first_n))
    Log(LogLevel::kWarn) << "cannot steer connections to " << first_n
                         << " listening sockets: " << ErrnoString(errno);
}

void WorkerSupervisor::RemoveSlot() {
  if (slots_.size() <= 1) {
    Log(LogLevel::kWarn) << "TTOU: only one worker left; keeping it";
    return;
  }
  size_t last = slots_.size() - 1;
  // New connections go to the other sockets from now on; the quitting worker
  // takes what is already queued on its own before it closes it.
  Steer(last);
  for (auto& worker : workers_) {
    if (worker->slot == last) Quit(*worker, true);
  }
  // The quitting worker keeps its own copy of the socket until it exits.
  slots_.pop_back();
}

void WorkerSupervisor::ReplaceAll(std::vector<UniqueFd> listeners) {
  std::vector<Worker*> old;
  for (auto& worker : workers_) old.push_back(worker.get());
  if (!listeners.empty()) {
    slots_.clear();
    for (UniqueFd& listener : listeners) slots_.push_back(Slot{std::move(listener)});
  }
  // New workers first, so every slot keeps accepting while the old ones finish.
  for (size_t slot = 0; slot < slots_.size(); ++slot) Fork(slot);
  for (Worker* worker : old) Quit(*worker, true);
}

WorkerSupervisor::Worker* WorkerSupervisor::Find(uint64_t worker_id) {
  for (auto& worker : workers_) {
    if (worker->id == worker_id) return worker.get();
  }
  return nullptr;
}

void WorkerSupervisor::SetState(Worker& worker, WorkerState to, const std::string& reason) {
  Log(LogLevel::kNotice) << "worker#" << worker.id << " pid=" << worker.pid << ": "
                         << ToString(worker.state) << " -> " << ToString(to) << " (" << reason
                         << ")";
  worker.state = to;
}

std::vector<WorkerInfo> WorkerSupervisor::Workers() const {
  std::vector<WorkerInfo> out;
  for (const auto& w : workers_) out.push_back({w->id, w->slot, w->pid, w->state, w->started_at});
  return out;
}

}  // namespace valved::master
