// Principle
//
// Every R child is in exactly one ChildState, and Transition() is the only
// code that changes it (pgbouncer's change_server_state). The pool decides
// when to spawn and stop; the Launcher performs the syscalls, so the whole
// table can be driven in tests with a fake launcher and a fake clock.
//
// Counting: every child that has a process counts towards n_max, so the
// machine holds at most n_max R processes, even while some are stopping. Only
// Spawning, Ready and Busy children count towards n_min: a retired child is
// already on its way out.
//
// Replacement is make-before-break (RChild::replacement goes kDue ->
// kSuccessorStarting -> kReplaced): a child due for replacement (it served
// max_requests, passed max_memory, or a reload asked for new code) keeps
// serving while its successor starts, and retires only when the successor is
// Ready. The pair
// counts as one child, so n_max may be passed by the successors being started
// (at most max_spawning of them) but a request never waits for an R start
// because of recycling or reload.
//
// Spawning: a queued request that no Ready or Spawning child will serve calls
// for one more child. At most max_spawning start at once: R start-up is
// CPU-bound, and starting many on few cores delays the first one to be ready
// (see README, "Choosing max_spawning"). Whichever child is ready first
// serves the oldest waiter.
//
// Concurrency: a child serves up to max_concurrency_per_child requests at
// once (default 1), one lease each, for APIs built on promises: while one
// request waits on a future, httpuv reads the next one from another
// connection. Busy means "at least one lease"; a request is given to the
// least loaded child, and a new child is called for only when no Ready, Busy
// or Spawning child has a free slot. n_max still counts processes.
//
// Boot failures back off exponentially (1 s, 2 s, 4 s ... 30 s), so a broken
// plumber file is never a fork bomb. If the API fails to load before any
// child was ever ready, the pool records a fatal error: the master reports
// the R error text and exits instead of retrying forever.

#include "master/child_pool.h"

#include <sys/wait.h>

#include <algorithm>
#include <csignal>

#include "common/exit_status.h"
#include "common/log.h"
#include "common/socket_paths.h"

namespace valved::master {
namespace {

bool HasSuccessor(const RChild& child) {
  return child.replacement == Replacement::kSuccessorStarting ||
         child.replacement == Replacement::kReplaced;
}

constexpr Duration kFirstBackoff = std::chrono::seconds(1);
constexpr Duration kMaxBackoff = std::chrono::seconds(30);

}  // namespace

ChildPool::ChildPool(const Config& config, Launcher& launcher, const Clock& clock,
                     std::string runtime_dir)
    : config_(config), launcher_(launcher), clock_(clock), runtime_dir_(std::move(runtime_dir)) {}

void ChildPool::Start() {
  size_t initial = static_cast<size_t>(std::max(config_.n_min, 1));
  while (LiveCount() < initial && CanSpawn()) Spawn();
}

void ChildPool::OnReady(uint64_t id) {
  RChild* found = FindMutable(id);
  if (!found || found->state != ChildState::kSpawning) return;
  RChild& child = *found;
  if (child.pid == Launcher::kPidLater) {
    child.ready_before_pid = true;  // OnLaunched() finishes this
    return;
  }
  ever_ready_ = true;
  if (child.generation == generation_ && reload_status_ == ReloadStatus::kProving)
    reload_status_ = ReloadStatus::kVerified;
  boot_failures_ = 0;
  auto took = std::chrono::duration_cast<Duration>(clock_.Now() - child.spawned_at);
  counters_.spawn_duration.Observe(took);
  Transition(child, ChildState::kReady,
             "ready in " + std::to_string(Seconds(took)).substr(0, 5) + "s");
  RetirePredecessorOf(child);
}

void ChildPool::RetirePredecessorOf(const RChild& child) {
  RChild* old = FindMutable(child.predecessor);
  if (!old || old->successor != child.id) return;
  old->replacement = Replacement::kReplaced;
  std::string reason = old->replacement_reason + "; replaced by child#" + std::to_string(child.id);
  if (old->state == ChildState::kReady) {
    Stop(*old, SIGINT, reason);
  } else if (old->state == ChildState::kBusy) {
    Transition(*old, ChildState::kDraining, reason);
  }
}

bool ChildPool::OnExit(pid_t pid, int wait_status) {
  RChild* child = FindByPid(pid);
  if (!child) return false;
  ChildState was = child->state;
  std::string how = DescribeWaitStatus(wait_status);
  if (was == ChildState::kSpawning) {
    HandleBootFailure(*child, wait_status);
  } else if (was != ChildState::kStopping && !retiring_) {
    ++counters_.crashes;
    Log(LogLevel::kError) << Name(*child) << ": " << how << " while " << ToString(was)
                          << (WIFSIGNALED(wait_status) && WTERMSIG(wait_status) == SIGKILL
                                  ? "; killed by someone else, or out of memory?"
                                  : "")
                          << (child->leases.empty()
                                  ? ""
                                  : "; its " + std::to_string(child->leases.size()) +
                                        " request(s) get a 502");
  }
  Transition(*child, ChildState::kDead, how);
  launcher_.Forget(child->id);
  children_.erase(child->id);
  return true;
}

// A forked child's pid arrives after the template forked it, while the
// master went on (a burst of spawns is forked in parallel). Until then the
// child cannot be signalled: one stopped meanwhile is killed now.
void ChildPool::OnLaunched(uint64_t id, pid_t pid, const std::string& why) {
  RChild* child = FindMutable(id);
  if (child && child->pid == pid) return;
  if (!child || child->pid != Launcher::kPidLater) {
    if (pid > 0) launcher_.Signal(pid, SIGKILL);  // not ours (any more): never leave it running
    return;
  }
  if (pid <= 0) {
    // Not a boot failure of the API: the template is restarted or written
    // off, and the next spawn starts fresh meanwhile, without a backoff.
    Log(LogLevel::kWarn) << "child#" << id << ": not forked (" << why << ")";
    ForgetSuccessor(*child);
    Transition(*child, ChildState::kDead, "not forked");
    launcher_.Forget(id);
    children_.erase(id);
    return;
  }
  child->pid = pid;
  LogSpawned(*child);
  if (child->state == ChildState::kStopping) Signal(*child, SIGKILL);
  if (child->ready_before_pid) OnReady(id);
}

void ChildPool::LogSpawned(const RChild& child) {
  Log(LogLevel::kNotice) << Name(child) << ": spawned"
                         << (child.predecessor
                                 ? " to replace child#" + std::to_string(child.predecessor)
                                 : "");
}

// The child that was to replace its predecessor will not: the predecessor is
// due again, and a later Reconcile() starts another successor.
void ChildPool::ForgetSuccessor(const RChild& child) {
  if (RChild* old = FindMutable(child.predecessor); old && old->successor == child.id) {
    old->replacement = Replacement::kDue;
    old->successor = 0;
  }
}

void ChildPool::HandleBootFailure(RChild& child, int wait_status) {
  ForgetSuccessor(child);  // a later Reconcile() tries again, after the backoff
  if (retiring_) return;
  ++counters_.boot_failures;
  std::string tail = launcher_.OutputTail(child.id);
  bool load_error = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == kApiLoadFailedExitCode;
  // A load error before the API was ever proven (at start-up, or by a
  // reload's first new child) is the API's fault: retrying cannot help.
  if (load_error && (!ever_ready_ || reload_status_ == ReloadStatus::kProving)) {
    std::string why = "the API " + config_.file + " failed to load in R:\n" + tail;
    if (!ever_ready_) {
      fatal_error_ = why;
    } else {
      AbandonReplacement(why, child.id);
    }
    return;
  }
  Log(LogLevel::kError) << Name(child) << ": failed to start (" << DescribeWaitStatus(wait_status)
                        << "); last output:\n"
                        << (tail.empty() ? "(none)" : tail);
  BackOff();
}

void ChildPool::BackOff() {
  ++boot_failures_;
  Duration delay = kFirstBackoff * (1 << std::min(boot_failures_ - 1, 5));
  delay = std::min(delay, kMaxBackoff);
  next_spawn_at_ = clock_.Now() + delay;
  Log(LogLevel::kWarn) << "children failed to start " << boot_failures_
                       << " time(s) in a row; next start in " << Seconds(delay) << "s";
}

// A child due for replacement only when no other is free: it should serve as
// little as possible past its limit. Then the fewest leases (R runs one
// handler at a time: spreading requests keeps each one's wait short), then
// most recently idle first (LIFO).
RChild* ChildPool::PickFree() {
  RChild* best = nullptr;
  auto better = [](const RChild& a, const RChild* b) {
    if (!b) return true;
    bool a_due = a.replacement != Replacement::kNone;
    if (a_due != (b->replacement != Replacement::kNone)) return !a_due;
    if (a.leases.size() != b->leases.size()) return a.leases.size() < b->leases.size();
    return a.state_since > b->state_since;
  };
  for (auto& [id, child] : children_) {
    bool serving = child->state == ChildState::kReady || child->state == ChildState::kBusy;
    if (serving && child->leases.size() < Concurrency() && better(*child, best)) best = child.get();
  }
  return best;
}

void ChildPool::Lease(RChild& child, LeaseRef lease) {
  child.leases.push_back(lease);
  if (table_) table_->Spend(child.id);
  CountRequest(child);
  if (child.state != ChildState::kReady) {
    Log(LogLevel::kDebug) << Name(child) << ": lease w" << lease.worker_id << "/" << lease.req
                          << " (" << child.leases.size() << " leases)";
    return;
  }
  child.leased_at = clock_.Now();
  // Routine: the reason is built only for a debug log, which would print it.
  Transition(child, ChildState::kBusy,
             LogEnabled(LogLevel::kDebug)
                 ? "lease w" + std::to_string(lease.worker_id) + "/" + std::to_string(lease.req)
                 : std::string());
}

void ChildPool::CountRequest(RChild& child) {
  ++child.requests;
  if (child.max_requests > 0 && child.requests >= static_cast<uint64_t>(child.max_requests))
    ScheduleReplacement(child, RecycleReason::kMaxRequests,
                        "served max_requests (" + std::to_string(child.requests) + ")");
}

// The worker spent the table's request already (LeaseTable::Claim). A child
// told to drain meanwhile keeps Draining and stops after this request, as it
// would have after a RELEASE; one due for replacement keeps serving until its
// successor is Ready, as with any lease.
bool ChildPool::Transfer(uint64_t child_id, LeaseRef from, LeaseRef to) {
  auto [child, held] = FindLease(child_id, from, "transfer");
  if (!child) return false;
  *held = to;
  CountRequest(*child);
  return true;
}

// The worker spent the table's requests already (LeaseTable::Claim).
bool ChildPool::CountHandovers(uint64_t child_id, uint64_t count) {
  RChild* child = FindMutable(child_id);
  if (!child) return false;
  for (uint64_t i = 0; i < count; ++i) CountRequest(*child);
  return true;
}

// The child holding `lease`, and where; {nullptr, {}} (logged) when the
// child or the lease is gone: a worker's message may cross a death.
std::pair<RChild*, std::vector<LeaseRef>::iterator> ChildPool::FindLease(uint64_t child_id,
                                                                         LeaseRef lease,
                                                                         const char* what) {
  RChild* child = FindMutable(child_id);
  if (child) {
    auto held = std::find(child->leases.begin(), child->leases.end(), lease);
    if (held != child->leases.end()) return {child, held};
  }
  Log(LogLevel::kDebug) << what << " of unknown lease w" << lease.worker_id << "/" << lease.req
                        << " on child#" << child_id << " ignored";
  return {nullptr, {}};
}

void ChildPool::Release(uint64_t child_id, LeaseRef lease, ipc::Outcome outcome,
                        const std::function<bool(const RChild&)>& still_accepts) {
  auto [child, held] = FindLease(child_id, lease, "release");
  if (!child) return;
  child->leases.erase(held);
  bool idle = child->leases.empty();
  if (idle)
    child->busy_total += std::chrono::duration_cast<Duration>(clock_.Now() - child->leased_at);
  const char* reason = outcome == ipc::Outcome::kOk ? "released ok" : "released broken";
  // A stuck or broken child takes its other requests with it: R runs one
  // handler at a time, so they could not have finished either.
  if (outcome == ipc::Outcome::kTimedOut) return Stop(*child, SIGKILL, "no response in time");
  if (outcome == ipc::Outcome::kBroken && !still_accepts(*child))
    return Stop(*child, SIGKILL, "released broken and its socket no longer accepts");
  if (!idle) {
    Log(LogLevel::kDebug) << Name(*child) << ": " << reason << " (" << child->leases.size()
                          << " leases left)";
    return;
  }
  if (child->state == ChildState::kDraining) return Stop(*child, SIGINT, reason);
  Transition(*child, ChildState::kReady, reason);
}

void ChildPool::RevokeLeasesOf(uint64_t worker_id) {
  for (auto& [id, child] : children_) {
    bool held = std::any_of(child->leases.begin(), child->leases.end(),
                            [&](const LeaseRef& l) { return l.worker_id == worker_id; });
    if (held) Stop(*child, SIGKILL, "its worker died mid-request");
  }
}

void ChildPool::Reconcile(size_t waiters) {
  SpawnSuccessors();
  size_t free = FreeSlots();
  size_t unserved = waiters > free ? waiters - free : 0;
  size_t want = std::max(static_cast<size_t>(config_.n_min), LiveCount() + unserved);
  while (LiveCount() < want && CanSpawn()) Spawn();
}

size_t ChildPool::FreeSlots() const {
  size_t free = 0;
  for (const auto& [id, child] : children_) {
    if (child->state == ChildState::kSpawning) free += Concurrency();
    bool serving = child->state == ChildState::kReady || child->state == ChildState::kBusy;
    if (serving && child->leases.size() < Concurrency())
      free += Concurrency() - child->leases.size();
  }
  return free;
}

bool ChildPool::CanSpawn() const {
  if (retiring_ || !fatal_error_.empty() || clock_.Now() < next_spawn_at_) return false;
  if (!launcher_.CanLaunch()) return false;
  if (Count(ChildState::kSpawning) >= MaxSpawning()) return false;
  size_t replaced = static_cast<size_t>(std::count_if(
      children_.begin(), children_.end(), [](const auto& kv) { return HasSuccessor(*kv.second); }));
  return children_.size() - replaced < static_cast<size_t>(config_.n_max);
}

// Oldest due child first; successors skip the n_max check (they take their
// predecessor's place) but not max_spawning or the backoff.
void ChildPool::SpawnSuccessors() {
  for (auto& [id, child] : children_) {
    if (child->replacement != Replacement::kDue || !IsLive(child->state)) continue;
    if (retiring_ || !fatal_error_.empty() || clock_.Now() < next_spawn_at_) return;
    if (!launcher_.CanLaunch() || Count(ChildState::kSpawning) >= MaxSpawning()) return;
    uint64_t old_id = child->id;
    RChild* successor = Spawn(old_id);
    if (!successor) continue;
    RChild& old = *FindMutable(old_id);
    old.replacement = Replacement::kSuccessorStarting;
    old.successor = successor->id;
  }
}

void ChildPool::ScheduleReplacement(RChild& child, RecycleReason why, std::string reason) {
  if (child.replacement != Replacement::kNone) return;
  switch (why) {
    case RecycleReason::kMaxRequests:
      ++counters_.recycled_max_requests;
      break;
    case RecycleReason::kMaxMemory:
      ++counters_.recycled_max_memory;
      break;
    case RecycleReason::kReload:
      ++counters_.recycled_reload;
      break;
  }
  Log(LogLevel::kInfo) << Name(child) << ": to be replaced: " << reason;
  child.replacement = Replacement::kDue;
  child.replacement_reason = std::move(reason);
  Publish(child);
}

void ChildPool::ReplaceAll(std::string_view reason) {
  reload_status_ = ReloadStatus::kProving;
  reload_error_.clear();
  ++generation_;
  for (auto& [id, child] : children_) {
    if (IsLive(child->state))
      ScheduleReplacement(*child, RecycleReason::kReload, std::string(reason));
  }
}

// The new API cannot load: keep the children that serve the old one, and
// stop the successors that are still starting.
void ChildPool::AbandonReplacement(const std::string& why, uint64_t failed_id) {
  reload_status_ = ReloadStatus::kAbandoned;
  reload_error_ = why;
  for (auto& [id, child] : children_) {
    child->replacement = Replacement::kNone;
    child->replacement_reason.clear();
    child->successor = 0;
    if (child->predecessor && child->state == ChildState::kSpawning && id != failed_id)
      Stop(*child, SIGKILL, "reload abandoned");
    child->predecessor = 0;
    Publish(*child);
  }
}

RChild* ChildPool::Spawn(uint64_t predecessor) {
  auto child = std::make_unique<RChild>();
  child->id = next_id_++;
  child->predecessor = predecessor;
  child->generation = generation_;
  child->socket_path = ChildSocketPath(runtime_dir_, child->id);
  child->spawned_at = child->state_since = clock_.Now();
  if (config_.max_requests > 0) {
    std::uniform_int_distribution<int> jitter(0, std::max(config_.max_requests_jitter, 0));
    child->max_requests = config_.max_requests + jitter(random_);
  }
  try {
    child->pid = launcher_.Launch(child->id, child->socket_path);
  } catch (const std::exception& e) {
    Log(LogLevel::kError) << "child#" << child->id << ": spawn failed: " << e.what();
    BackOff();
    return nullptr;
  }
  ++counters_.spawns;
  if (child->pid != Launcher::kPidLater) LogSpawned(*child);
  if (table_)
    table_->AddChild(child->id, child->max_requests > 0 ? static_cast<uint32_t>(child->max_requests)
                                                        : LeaseTable::kUnlimited);
  RChild* raw = child.get();
  children_.emplace(child->id, std::move(child));
  return raw;
}

void ChildPool::StopIdle() {
  std::vector<RChild*> idle;
  for (auto& [id, child] : children_) {
    if (child->state == ChildState::kReady && clock_.Now() - child->state_since >= config_.max_age)
      idle.push_back(child.get());
  }
  // Oldest idle first; stop only while more than n_min remain.
  std::sort(idle.begin(), idle.end(),
            [](RChild* a, RChild* b) { return a->state_since < b->state_since; });
  for (RChild* child : idle) {
    if (LiveCount() <= static_cast<size_t>(config_.n_min)) break;
    ++counters_.stopped_idle;
    Stop(*child, SIGINT, "idle for max_age");
  }
}

void ChildPool::ReplaceOversized(const std::function<int64_t(pid_t)>& resident_bytes) {
  if (config_.max_memory <= 0) return;
  for (auto& [id, child] : children_) {
    if (!IsLive(child->state) || child->state == ChildState::kSpawning) continue;
    int64_t rss = resident_bytes(child->pid);
    if (rss > config_.max_memory)
      ScheduleReplacement(*child, RecycleReason::kMaxMemory,
                          "RSS " + std::to_string(rss >> 20) + " MiB passed max_memory");
  }
}

void ChildPool::EnforceDeadlines() {
  TimePoint now = clock_.Now();
  for (auto& [id, child] : children_) {
    if (child->state == ChildState::kSpawning && now - child->spawned_at >= config_.spawn_timeout) {
      Log(LogLevel::kError) << Name(*child) << ": not ready after spawn_timeout; last output:\n"
                            << launcher_.OutputTail(child->id);
      Stop(*child, SIGKILL, "spawn_timeout");
      BackOff();
    } else if (child->state == ChildState::kStopping &&
               now - child->signalled_at >= config_.kill_timeout) {
      Log(LogLevel::kWarn) << Name(*child) << ": still running kill_timeout after stop; SIGKILL";
      Signal(*child, SIGKILL);  // and again kill_timeout later, if it somehow survives
    }
  }
}

void ChildPool::RetireAll(int signo) {
  retiring_ = true;
  for (auto& [id, child] : children_) {
    if (child->state == ChildState::kBusy) {
      Transition(*child, ChildState::kDraining, "shutting down");
    } else if (child->state == ChildState::kReady) {
      Stop(*child, signo, "shutting down");
    } else if (child->state == ChildState::kSpawning) {
      // It may not have exec'd R yet: Poco's forked child still runs the
      // master's signal handlers, which would swallow a catchable signal (and
      // report it as the master's own). It serves nothing yet, so SIGKILL.
      Stop(*child, SIGKILL, "shutting down while starting");
    }
  }
}

void ChildPool::KillAll() {
  retiring_ = true;
  for (auto& [id, child] : children_) {
    child->leases.clear();
    if (child->state != ChildState::kStopping)
      Transition(*child, ChildState::kStopping, "fast stop");
    Signal(*child, SIGKILL);
  }
}

void ChildPool::Stop(RChild& child, int signo, std::string_view reason) {
  child.leases.clear();
  Transition(child, ChildState::kStopping, reason);
  Signal(child, signo);
}

void ChildPool::Signal(RChild& child, int signo) {
  child.signalled_at = clock_.Now();
  launcher_.Signal(child.pid, signo);
}

void ChildPool::Transition(RChild& child, ChildState to, std::string_view reason) {
  ChildState from = child.state;
  if (!IsLegalTransition(from, to)) {
    Log(LogLevel::kError) << Name(child) << ": illegal transition " << ToString(from) << " -> "
                          << ToString(to) << " (" << reason << "); ignored";
    return;
  }
  child.state = to;
  child.state_since = clock_.Now();
  Publish(child);
  bool routine = (from == ChildState::kReady && to == ChildState::kBusy) ||
                 (from == ChildState::kBusy && to == ChildState::kReady);
  LogLevel level = routine ? LogLevel::kDebug : LogLevel::kNotice;
  if (!LogEnabled(level)) return;  // spares Name()'s strings on every lease
  Log(level) << Name(child) << ": " << ToString(from) << " -> " << ToString(to) << " (" << reason
             << ")";
}

// Open: it may take the next request as soon as its current one ends.
void ChildPool::Publish(const RChild& child) {
  if (!table_) return;
  if (child.state == ChildState::kDead) return table_->RemoveChild(child.id);
  bool serving = child.state == ChildState::kReady || child.state == ChildState::kBusy;
  table_->SetOpen(child.id, serving && child.replacement == Replacement::kNone);
}

size_t ChildPool::Count(ChildState state) const {
  return static_cast<size_t>(std::count_if(children_.begin(), children_.end(), [&](const auto& kv) {
    return kv.second->state == state;
  }));
}

size_t ChildPool::LeaseCount() const {
  size_t leases = 0;
  for (const auto& [id, child] : children_) leases += child->leases.size();
  return leases;
}

size_t ChildPool::LiveCount() const {
  return static_cast<size_t>(std::count_if(children_.begin(), children_.end(),
                                           [this](const auto& kv) { return Counts(*kv.second); }));
}

size_t ChildPool::Headroom() const {
  size_t n_max = static_cast<size_t>(std::max(config_.n_max, 0));
  size_t live = LiveCount();
  return retiring_ || live >= n_max ? 0 : n_max - live;
}

bool ChildPool::Counts(const RChild& child) const {
  return IsLive(child.state) && !HasSuccessor(child);
}

RChild* ChildPool::FindMutable(uint64_t id) {
  auto it = children_.find(id);
  return it == children_.end() ? nullptr : it->second.get();
}

const RChild* ChildPool::Find(uint64_t id) const {
  auto it = children_.find(id);
  return it == children_.end() ? nullptr : it->second.get();
}

RChild* ChildPool::FindByPid(pid_t pid) {
  for (auto& [id, child] : children_) {
    if (child->pid == pid) return child.get();
  }
  return nullptr;
}

std::string ChildPool::Name(const RChild& child) const {
  return "child#" + std::to_string(child.id) + " pid=" + std::to_string(child.pid);
}

std::string ChildPool::VerifyInvariants() const {
  for (const auto& [id, child] : children_) {
    bool leased = child->state == ChildState::kBusy || child->state == ChildState::kDraining;
    if (leased == child->leases.empty())
      return Name(*child) + ": leases do not match state " + ToString(child->state);
    for (auto l = child->leases.begin(); l != child->leases.end(); ++l) {
      if (std::find(l + 1, child->leases.end(), *l) != child->leases.end())
        return Name(*child) + ": lease w" + std::to_string(l->worker_id) + "/" +
               std::to_string(l->req) + " held twice";
    }
    if (child->state == ChildState::kDead) return Name(*child) + ": Dead child kept";
  }
  if (LiveCount() > static_cast<size_t>(config_.n_max))
    return "more than n_max live children: " + std::to_string(LiveCount());
  return "";
}

}  // namespace valved::master
