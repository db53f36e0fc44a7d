#include "master/r_launcher.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <stdexcept>

#include "common/log.h"
#include "common/net.h"

namespace valved::master {
namespace {

std::string ChildName(uint64_t id) { return "child#" + std::to_string(id); }

}  // namespace

RLauncher::RLauncher(event_base* base, const Clock& clock, RLaunchSpec spec,
                     std::function<void(uint64_t)> on_ready,
                     std::function<void()> on_template_ready,
                     TemplateSupervisor::ForkedFn on_launched)
    : base_(base),
      clock_(clock),
      spec_(std::move(spec)),
      on_ready_(std::move(on_ready)),
      on_template_ready_(std::move(on_template_ready)),
      on_launched_(std::move(on_launched)) {
  if (spec_.fork) StartTemplate();
}

RLauncher::~RLauncher() = default;

void RLauncher::StartTemplate() {
  templates_.push_back(std::make_unique<TemplateSupervisor>(
      base_, clock_, spec_, ++template_generation_,
      [this] {
        if (on_template_ready_) on_template_ready_();
      },
      [this](uint64_t id, pid_t pid, const std::string& why) { OnForked(id, pid, why); }));
  templates_.back()->Start();
  TellSpares();
}

void RLauncher::SetHeadroom(size_t children) {
  if (children == headroom_) return;
  headroom_ = children;
  TellSpares();
}

// As many spares as the pool could still start, so that with them it never
// takes more memory than n_max children would (a spare holds ~10 MB of its
// own, a child more); but one even in a full pool, for the replacement of a
// recycled or crashed child. Only the current template forks; an earlier one
// kept for an abandoned reload needs none until it is current again.
void RLauncher::TellSpares() {
  TemplateSupervisor* current = Current();
  size_t wanted = std::min(spec_.spares, std::max<size_t>(headroom_, 1));
  for (const auto& t : templates_) t->SetSpares(t.get() == current ? wanted : 0);
}

TemplateSupervisor* RLauncher::Current() const {
  if (!spec_.fork || templates_.empty()) return nullptr;
  TemplateSupervisor* last = templates_.back().get();
  return SameProgram(last->spec(), spec_) ? last : nullptr;
}

void RLauncher::SetSpec(RLaunchSpec spec) {
  spec_ = std::move(spec);
  if (spec_.fork) StartTemplate();  // the API's files may have changed: load them again
}

// Back to the spec whose template still runs (an abandoned reload): it
// becomes current again, and the newer ones stop.
void RLauncher::RestoreSpec(RLaunchSpec spec) {
  spec_ = std::move(spec);
  if (!spec_.fork) return;
  for (size_t i = 0; i < templates_.size(); ++i) {
    TemplateSupervisor& t = *templates_[i];
    if (SameProgram(t.spec(), spec_) && t.state() != TemplateSupervisor::State::kStopping &&
        t.state() != TemplateSupervisor::State::kGone) {
      for (size_t j = i + 1; j < templates_.size(); ++j) templates_[j]->Stop();
      std::rotate(templates_.begin() + static_cast<long>(i),
                  templates_.begin() + static_cast<long>(i) + 1, templates_.end());
      TellSpares();
      return;
    }
  }
  StartTemplate();
}

void RLauncher::CommitSpec() {
  for (size_t i = 0; i + 1 < templates_.size(); ++i) templates_[i]->Stop();
}

bool RLauncher::CanLaunch() const {
  TemplateSupervisor* current = Current();
  return !current || current->state() != TemplateSupervisor::State::kStarting;
}

pid_t RLauncher::Launch(uint64_t id, const std::string& socket_path) {
  std::string token = RandomToken();
  TemplateSupervisor* current = Current();
  if (current && current->state() == TemplateSupervisor::State::kReady) {
    try {
      return LaunchForked(id, socket_path, token);
    } catch (const std::exception& e) {
      Log(LogLevel::kWarn) << ChildName(id) << ": cannot fork (" << e.what()
                           << "); starting it fresh";
      Forget(id);
    }
  }
  return LaunchFresh(id, socket_path, token);
}

pid_t RLauncher::LaunchFresh(uint64_t id, const std::string& socket_path,
                             const std::string& token) {
  auto env = REnvironment(spec_);
  env["VALVED_READY_TOKEN"] = token;
  env["VALVED_CHILD_ID"] = std::to_string(id);
  env["VALVED_WARMUP"] = spec_.warmup ? "1" : "0";
  RProcess process = StartRProcess(spec_, spec_.launcher_script,
                                   {socket_path, spec_.api_path, std::to_string(getpid())}, env);
  process.in.reset();  // R gets EOF on stdin
  sockets_[id] = socket_path;
  outputs_[id] = std::make_unique<ChildOutput>(base_, ChildName(id), std::move(process.out),
                                               std::move(process.err), "valved-ready " + token,
                                               [this, id] { on_ready_(id); });
  return process.pid;
}

// No answer, yet the child may be serving: a template that died just after
// its intermediate handed a spare the command. The socket names its owner.
void RLauncher::OnForked(uint64_t id, pid_t pid, const std::string& why) {
  if (auto it = sockets_.find(id); pid <= 0 && it != sockets_.end()) {
    if (pid_t owner = UnixSocketOwner(it->second); owner > 0) {
      Log(LogLevel::kWarn) << ChildName(id) << ": " << why << ", but pid " << owner
                           << " serves its socket: that is the child";
      pid = owner;
    }
  }
  if (on_launched_) on_launched_(id, pid, why);
}

void RLauncher::PollTemplates() {
  for (auto& t : templates_) t->Poll();
}

// A forked child's stdout and stderr are two FIFOs next to its socket, read
// like a fresh child's pipes (stderr at warn, stdout at info). The master
// holds a write end of each until the child is ready, so that reading never
// sees end-of-file before the child has opened it.
pid_t RLauncher::LaunchForked(uint64_t id, const std::string& socket_path,
                              const std::string& token) {
  sockets_[id] = socket_path;
  OutputFifo out = MakeOutputFifo(id, socket_path + ".out");
  OutputFifo err = MakeOutputFifo(id, socket_path + ".err");
  outputs_[id] =
      std::make_unique<ChildOutput>(base_, ChildName(id), std::move(out.read_end),
                                    std::move(err.read_end), "valved-ready " + token, [this, id] {
                                      fifo_holds_.erase(id);
                                      PollTemplates();  // its pid, if it is answered already
                                      on_ready_(id);
                                    });
  fifo_holds_[id] = {std::move(out.hold), std::move(err.hold)};
  Current()->Fork(id, socket_path, token, out.path, err.path);
  return kPidLater;
}

// Made for `user` when R runs as another user; removed by Forget().
RLauncher::OutputFifo RLauncher::MakeOutputFifo(uint64_t id, const std::string& path) {
  ::unlink(path.c_str());
  if (::mkfifo(path.c_str(), 0600) == -1)
    throw std::runtime_error("mkfifo " + path + ": " + ErrnoString(errno));
  fifos_.emplace(id, path);
  if (spec_.run_as && ::chown(path.c_str(), spec_.run_as->uid, spec_.run_as->gid) == -1)
    throw std::runtime_error("chown " + path + ": " + ErrnoString(errno));
  OutputFifo fifo{path, UniqueFd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC)),
                  UniqueFd(::open(path.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC))};
  if (!fifo.read_end || !fifo.hold)
    throw std::runtime_error("open " + path + ": " + ErrnoString(errno));
  return fifo;
}

// A fresh child leads its own process group once `valved run-as` ran; until
// then (ESRCH for the group) only the process itself can be signalled. A
// forked child is in its template's group: ESRCH for the group, so the
// process alone.
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
  fifo_holds_.erase(id);
  if (auto it = sockets_.find(id); it != sockets_.end()) {
    ::unlink(it->second.c_str());
    sockets_.erase(it);
  }
  auto [first, last] = fifos_.equal_range(id);
  for (auto it = first; it != last; ++it) ::unlink(it->second.c_str());
  fifos_.erase(first, last);
}

bool RLauncher::OnExit(pid_t pid, int wait_status) {
  for (auto it = templates_.begin(); it != templates_.end(); ++it) {
    if (!(*it)->OnExit(pid, wait_status)) continue;
    bool current = it + 1 == templates_.end();
    if (!current && (*it)->state() == TemplateSupervisor::State::kGone) templates_.erase(it);
    return true;
  }
  return false;
}

void RLauncher::Tick(Duration spawn_timeout, Duration kill_timeout) {
  for (auto& t : templates_) t->Tick(spawn_timeout, kill_timeout);
}

void RLauncher::StopTemplates(bool fast) {
  for (auto& t : templates_) fast ? t->Kill() : t->Stop();
}

size_t RLauncher::TemplatesAlive() const {
  return static_cast<size_t>(std::count_if(templates_.begin(), templates_.end(),
                                           [](const auto& t) { return t->alive(); }));
}

}  // namespace valved::master
