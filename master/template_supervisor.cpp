// Principle: the template is a helper, never a dependency. Whatever happens
// to it (it cannot load the API, it dies, it hangs, it refuses to be forked),
// children can still start fresh, and the pool's own rules (boot failures,
// a reload abandoned when the API cannot load) apply to them as they do
// without a template. So a template failure is logged and the generation
// goes on; only waiting for a template that is still loading holds spawning
// back (RLauncher::CanLaunch()).
//
// The template is signalled by pid, never by process group: the children it
// forks stay in its process group.
#include "master/template_supervisor.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <stdexcept>

#include "common/exit_status.h"
#include "common/log.h"

namespace valved::master {
namespace {

/// The exit status of template.R (and launcher.R) when the API cannot load.
constexpr int kApiLoadFailed = 3;
/// Failed starts in a row before the generation gives up on its template.
constexpr int kMaxFailures = 3;
constexpr Duration kFirstBackoff = std::chrono::seconds(1);
/// How long a fork request may wait for the template's answer: a fork
/// takes milliseconds; a template that needs longer is wedged.
constexpr Duration kForkReplyTime = std::chrono::seconds(3);
constexpr size_t kMaxLine = 4096;
/// R grows its node trigger, at a full collection, once more than this
/// share of it is in use (R_GC_GROWFRAC, read at R's start; R's default is
/// 0.70, its largest 0.75). The trigger the template ends its load with
/// sets how much of R's heap each forked child makes its own
/// (r/template.R, settle_heap()): with 0.75 it was 15 % smaller and a child
/// of bench/model_api.R held ~5 MB less after 1,000 requests.
constexpr const char* kGrowFracVar = "R_GC_GROWFRAC";
constexpr const char* kTemplateGrowFrac = "0.75";

bool StartsWith(const std::string& s, std::string_view prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

}  // namespace

const char* ToString(TemplateSupervisor::State state) {
  switch (state) {
    case TemplateSupervisor::State::kStarting:
      return "Starting";
    case TemplateSupervisor::State::kReady:
      return "Ready";
    case TemplateSupervisor::State::kBackoff:
      return "Backoff";
    case TemplateSupervisor::State::kStopping:
      return "Stopping";
    case TemplateSupervisor::State::kGone:
      return "Gone";
  }
  return "?";
}

TemplateSupervisor::TemplateSupervisor(event_base* base, const Clock& clock, RLaunchSpec spec,
                                       uint64_t generation, std::function<void()> on_ready,
                                       ForkedFn on_forked)
    : base_(base),
      clock_(clock),
      spec_(std::move(spec)),
      generation_(generation),
      on_ready_(std::move(on_ready)),
      on_forked_(std::move(on_forked)) {}

// RAII: a template outlives its supervisor only until it is killed here; the
// master's reaper collects it (an unknown pid by then).
TemplateSupervisor::~TemplateSupervisor() {
  if (pid_ > 0) ::kill(pid_, SIGKILL);
}

std::string TemplateSupervisor::Name() const {
  return "template#" + std::to_string(generation_) + " pid=" + std::to_string(pid_);
}

void TemplateSupervisor::Start() {
  token_ = RandomToken();
  auto env = REnvironment(spec_);
  env["VALVED_READY_TOKEN"] = token_;
  if (std::getenv(kGrowFracVar) == nullptr) env[kGrowFracVar] = kTemplateGrowFrac;
  RProcess process;
  try {
    process = StartRProcess(spec_, spec_.template_script,
                            {spec_.launcher_script, spec_.api_path, std::to_string(getpid())}, env);
  } catch (const std::exception& e) {
    Failed(e.what(), true);
    return;
  }
  pid_ = process.pid;
  commands_ = std::move(process.in);
  replies_ = std::move(process.out);
  fcntl(commands_.get(), F_SETFL, fcntl(commands_.get(), F_GETFL) | O_NONBLOCK);
  fcntl(replies_.get(), F_SETFL, fcntl(replies_.get(), F_GETFL) | O_NONBLOCK);
  replies_event_.reset(event_new(base_, replies_.get(), EV_READ | EV_PERSIST, OnReadable, this));
  event_add(replies_event_.get(), nullptr);
  stderr_ = std::make_unique<ChildOutput>(base_, "template#" + std::to_string(generation_),
                                          UniqueFd(), std::move(process.err), "", nullptr);
  partial_.clear();
  spares_sent_.reset();
  state_ = State::kStarting;
  since_ = clock_.Now();
  Log(LogLevel::kNotice) << Name() << ": loading " << spec_.api_path << " to fork children from";
}

void TemplateSupervisor::OnReadable(evutil_socket_t, short, void* arg) {
  static_cast<TemplateSupervisor*>(arg)->ReadReplies();
}

void TemplateSupervisor::ReadReplies() {
  char buf[4096];
  while (replies_) {
    ssize_t n = ::read(replies_.get(), buf, sizeof buf);
    if (n == -1 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0 || errno != EAGAIN) replies_event_.reset();
      return;
    }
    partial_.append(buf, static_cast<size_t>(n));
    TakeLines();
  }
}

void TemplateSupervisor::TakeLines() {
  size_t nl;
  while ((nl = partial_.find('\n')) != std::string::npos) {
    std::string line = partial_.substr(0, nl);
    partial_.erase(0, nl + 1);
    HandleLine(line);
  }
  if (partial_.size() > kMaxLine) HandleLine(std::exchange(partial_, {}));
}

void TemplateSupervisor::HandleLine(const std::string& line) {
  constexpr std::string_view kForked = "valved-forked ";
  constexpr std::string_view kForkFailed = "valved-fork-failed ";
  if (StartsWith(line, kForked)) return HandleForkReply(line.substr(kForked.size()), true);
  if (StartsWith(line, kForkFailed)) return HandleForkReply(line.substr(kForkFailed.size()), false);
  if (state_ == State::kStarting && line == "valved-ready " + token_) {
    state_ = State::kReady;
    failures_ = 0;
    auto took = std::chrono::duration_cast<Duration>(clock_.Now() - since_);
    Log(LogLevel::kNotice) << Name() << ": Starting -> Ready (loaded and warmed up in "
                           << std::to_string(Seconds(took)).substr(0, 5) << "s)";
    SendSpares();
    if (on_ready_) on_ready_();
    return;
  }
  if (StartsWith(line, "valved-no-fork ")) {
    Log(LogLevel::kNotice) << Name() << ": the API asks not to be forked (" << line.substr(15)
                           << "); its children start fresh";
    Failed("", true);
    return;
  }
  if (!line.empty()) Log(LogLevel::kInfo) << "template#" << generation_ << ": R: " << line;
}

void TemplateSupervisor::HandleForkReply(const std::string& rest, bool forked) {
  size_t space = rest.find(' ');
  uint64_t id = std::strtoull(rest.c_str(), nullptr, 10);
  std::string detail = space == std::string::npos ? "" : rest.substr(space + 1);
  if (pending_.erase(id) == 0) {
    Log(LogLevel::kWarn) << Name() << ": answer to no fork request: " << rest;
    return;
  }
  long pid = forked ? std::strtol(detail.c_str(), nullptr, 10) : 0;
  if (pid > 0) return on_forked_(id, static_cast<pid_t>(pid), "");
  std::string why = "the template could not fork: " + (forked ? "bad pid " + detail : detail);
  // No memory, no processes left? Restart it after the backoff, give up
  // after kMaxFailures; children start fresh meanwhile.
  Failed(why, false);
  on_forked_(id, -1, why);
}

void TemplateSupervisor::FailPending(const std::string& why) {
  auto pending = std::exchange(pending_, {});
  for (const auto& [id, deadline] : pending) on_forked_(id, -1, why);
}

void TemplateSupervisor::Fork(uint64_t id, const std::string& socket_path, const std::string& token,
                              const std::string& stdout_fifo, const std::string& stderr_fifo) {
  if (state_ != State::kReady) throw std::runtime_error("the template is not ready");
  std::string command = "fork\t" + std::to_string(id);
  for (const std::string* field : {&socket_path, &token, &stdout_fifo, &stderr_fifo}) {
    if (field->find_first_of("\t\n") != std::string::npos)
      throw std::runtime_error("a path holds a tab or a newline: cannot ask the template");
    command += "\t" + *field;
  }
  command += "\n";
  if (!Command(command)) {
    if (errno == EAGAIN)  // thousands of commands behind: it is wedged
      throw std::runtime_error("the template's command pipe is full");
    Failed("cannot write to its stdin: " + ErrnoString(errno), false);
    throw std::runtime_error("the template does not take commands");
  }
  pending_[id] = clock_.Now() + kForkReplyTime;
}

// One write() per command: the pipe keeps it whole (under PIPE_BUF), and
// template.R reads lines.
bool TemplateSupervisor::Command(const std::string& line) {
  if (!commands_) {
    errno = EPIPE;
    return false;
  }
  ssize_t written = ::write(commands_.get(), line.data(), line.size());
  return written == static_cast<ssize_t>(line.size());
}

void TemplateSupervisor::SetSpares(size_t n) {
  spares_ = n;
  SendSpares();
}

// A lost command is harmless (the template keeps the spares it has, and a
// fork without one forks the child itself): it is sent again at the next
// change.
void TemplateSupervisor::SendSpares() {
  if (state_ != State::kReady || spares_sent_ == spares_) return;
  if (Command("spares\t" + std::to_string(spares_) + "\n")) spares_sent_ = spares_;
}

bool TemplateSupervisor::OnExit(pid_t pid, int wait_status) {
  if (pid <= 0 || pid != pid_) return false;
  ReadReplies();  // what its intermediates answered before it exited
  pid_ = -1;
  std::string how = DescribeWaitStatus(wait_status);
  std::string tail = stderr_ ? stderr_->Tail() : "";
  CloseChannels();
  NoteExit(how, tail, wait_status);
  // After the state left kReady: the pool may spawn again at once, fresh.
  FailPending("the template exited");
  return true;
}

void TemplateSupervisor::NoteExit(const std::string& how, const std::string& tail,
                                  int wait_status) {
  if (state_ != State::kStarting && state_ != State::kReady) {  // stopped, or failed already
    Log(LogLevel::kInfo) << "template#" << generation_ << ": exited (" << how << ")";
    if (state_ == State::kStopping) state_ = State::kGone;
    return;
  }
  if (state_ == State::kStarting && WIFEXITED(wait_status) &&
      WEXITSTATUS(wait_status) == kApiLoadFailed) {
    // Not an error of its own: the fresh child started next reports it.
    Log(LogLevel::kWarn) << "template#" << generation_ << ": cannot load the API";
    Failed("", true);
    return;
  }
  Failed(how + (tail.empty() ? "" : "; last output:\n" + tail), false);
}

// A template that cannot load the API gives up at once: fresh children will
// fail the same way and the pool reports it (fatal at start-up, an abandoned
// reload later), exactly as without a template.
void TemplateSupervisor::Failed(const std::string& why, bool give_up) {
  if (pid_ > 0) ::kill(pid_, SIGKILL);  // the reaper calls OnExit(), which finds kGone
  if (!why.empty()) Log(LogLevel::kError) << "template#" << generation_ << ": " << why;
  ++failures_;
  if (give_up || failures_ >= kMaxFailures) {
    if (state_ != State::kGone)
      Log(LogLevel::kWarn) << "template#" << generation_
                           << ": not forking any more; this generation's children start fresh";
    state_ = State::kGone;
    return;
  }
  Duration delay = kFirstBackoff * (1 << (failures_ - 1));
  restart_at_ = clock_.Now() + delay;
  state_ = State::kBackoff;
  Log(LogLevel::kWarn) << "template#" << generation_ << ": restarting in " << Seconds(delay)
                       << "s; children start fresh meanwhile";
}

void TemplateSupervisor::Tick(Duration spawn_timeout, Duration kill_timeout) {
  TimePoint now = clock_.Now();
  if (state_ == State::kBackoff && now >= restart_at_ && pid_ <= 0) {
    Start();
  } else if (state_ == State::kStarting && now - since_ >= spawn_timeout) {
    Failed("not ready after spawn_timeout", false);
  } else if (state_ == State::kReady && !pending_.empty() && now >= pending_.begin()->second) {
    // Ids grow with time: the first pending request is the oldest.
    Failed("no answer to a fork request within " +
               std::to_string(
                   std::chrono::duration_cast<std::chrono::seconds>(kForkReplyTime).count()) +
               "s",
           false);
  } else if (state_ == State::kStopping && pid_ > 0 && now - since_ >= kill_timeout) {
    Log(LogLevel::kWarn) << Name() << ": still running kill_timeout after stop; SIGKILL";
    ::kill(pid_, SIGKILL);
    since_ = now;
  }
}

void TemplateSupervisor::Stop() {
  if (state_ == State::kStopping) return;
  // Still loading: it reads no commands yet, and has nothing to finish.
  if (state_ == State::kStarting && pid_ > 0) ::kill(pid_, SIGKILL);
  // `stop`, then EOF: template.R leaves its command loop and exits 0 (while
  // it paces its spares it reads without blocking, which cannot see EOF).
  if (state_ == State::kReady) Command("stop\n");
  state_ = pid_ > 0 ? State::kStopping : State::kGone;
  since_ = clock_.Now();
  commands_.reset();
}

void TemplateSupervisor::Kill() {
  Stop();
  if (pid_ > 0) ::kill(pid_, SIGKILL);
}

void TemplateSupervisor::CloseChannels() {
  replies_event_.reset();
  replies_.reset();
  commands_.reset();
  stderr_.reset();
}

}  // namespace valved::master
