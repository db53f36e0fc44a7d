#include "tests/integration/valved_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

extern char** environ;

namespace valved::itest {
namespace fs = std::filesystem;

namespace {

constexpr Millis kPollInterval(25);

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string ReadWholeFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<std::string> SplitLines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::string Abbreviate(const std::string& text, size_t max = 300) {
  return text.size() <= max ? text : text.substr(0, max) + "...";
}

/// Whether `args` already mention one of `flags` (as "-p", "--port=..." or a
/// `--set key=` override naming `key`).
bool Mentions(const std::vector<std::string>& args, std::initializer_list<const char*> flags,
              const std::string& key) {
  for (size_t i = 0; i < args.size(); ++i) {
    for (const char* flag : flags) {
      std::string f = flag;
      if (args[i] == f || args[i].rfind(f + "=", 0) == 0) return true;
    }
    if (args[i] == "--set" && i + 1 < args.size() && args[i + 1].rfind(key + "=", 0) == 0) {
      return true;
    }
    if (args[i].rfind("--set=" + key + "=", 0) == 0) return true;
  }
  return false;
}

/// The test process adopts every orphan of the processes it starts, so that
/// teardown can see what valved left behind.
void BecomeSubreaper() {
  static bool done = [] {
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) == -1) {
      std::cerr << "prctl(PR_SET_CHILD_SUBREAPER) failed: " << std::strerror(errno) << "\n";
    }
    return true;
  }();
  (void)done;
}

bool KeepTempDirs() {
  const char* keep = std::getenv("VALVED_TEST_KEEP");
  return keep && *keep && std::string(keep) != "0";
}

}  // namespace

// ---------------------------------------------------------------- waiting

bool Eventually(Millis deadline, const std::function<bool()>& predicate,
                const std::string& message) {
  auto start = SteadyClock::now();
  auto end = start + deadline;
  while (true) {
    if (predicate()) return true;
    if (SteadyClock::now() >= end) break;
    std::this_thread::sleep_for(kPollInterval);
  }
  ADD_FAILURE() << "not true within " << deadline.count() / 1000.0 << "s: " << message;
  return false;
}

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// ---------------------------------------------------------------- paths

std::string ValvedBinary() {
  const char* env = std::getenv("VALVED_TEST_BINARY");
  return env && *env ? env : VALVED_BINARY;
}

std::string Fixture(const std::string& name) { return std::string(VALVED_FIXTURES) + "/" + name; }

std::string Example(const std::string& name) { return std::string(VALVED_EXAMPLES) + "/" + name; }

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd == -1) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

// ---------------------------------------------------------------- /proc

std::string ProcInfo::Describe() const {
  std::ostringstream out;
  out << "pid " << pid << " (" << state << ", ppid " << ppid << "):";
  for (const std::string& arg : argv) out << " " << arg;
  return out.str();
}

std::optional<ProcInfo> ReadProc(pid_t pid) {
  fs::path base = fs::path("/proc") / std::to_string(pid);
  std::string stat = ReadWholeFile(base / "stat");
  // "pid (comm) S ppid ...": comm may hold spaces and ')', so split at the last ')'.
  size_t close = stat.rfind(')');
  if (close == std::string::npos || close + 2 >= stat.size()) return std::nullopt;
  ProcInfo info;
  info.pid = pid;
  std::istringstream rest(stat.substr(close + 2));
  rest >> info.state >> info.ppid;
  std::string skipped;  // pgrp, session, tty_nr, tpgid, flags
  for (int i = 0; i < 5; ++i) rest >> skipped;
  rest >> info.minor_faults;
  if (!rest) return std::nullopt;
  std::string cmdline = ReadWholeFile(base / "cmdline");
  // A process title (valved: worker 2) leaves the rest of argv's room as NULs.
  while (!cmdline.empty() && cmdline.back() == '\0') cmdline.pop_back();
  size_t start = 0;
  while (start < cmdline.size()) {
    size_t end = cmdline.find('\0', start);
    if (end == std::string::npos) end = cmdline.size();
    info.argv.push_back(cmdline.substr(start, end - start));
    start = end + 1;
  }
  return info;
}

std::vector<ProcInfo> ChildrenOf(pid_t ppid) {
  std::vector<ProcInfo> children;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename();
    if (name.empty() || !std::all_of(name.begin(), name.end(), ::isdigit)) continue;
    std::optional<ProcInfo> info = ReadProc(static_cast<pid_t>(std::stol(name)));
    if (info && info->ppid == ppid) children.push_back(std::move(*info));
  }
  return children;
}

bool IsAlive(pid_t pid) {
  std::optional<ProcInfo> info = ReadProc(pid);
  return info && !info->IsZombie();
}

// ---------------------------------------------------------------- HTTP

std::string HttpResponse::Header(const std::string& name) const {
  std::string key = Lower(name);
  for (const auto& [k, v] : headers) {
    if (k == key) return v;
  }
  return "";
}

bool HttpResponse::HasHeader(const std::string& name) const {
  std::string key = Lower(name);
  return std::any_of(headers.begin(), headers.end(), [&](const auto& h) { return h.first == key; });
}

std::string HttpResponse::Describe() const {
  if (status == 0) return "no response: " + error;
  std::ostringstream out;
  out << status << " " << reason << " after " << seconds << "s (" << body.size()
      << " bytes): " << Abbreviate(body);
  return out.str();
}

HttpConnection::HttpConnection(int port, Millis timeout) : port_(port), timeout_(timeout) {}

HttpConnection::~HttpConnection() { Close(); }

bool HttpConnection::Connect() {
  if (fd_ != -1) return true;
  buffer_.clear();
  eof_ = false;
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd_ == -1) {
    error_ = std::string("socket: ") + std::strerror(errno);
    return false;
  }
  timeval tv{};
  tv.tv_sec = timeout_.count() / 1000;
  tv.tv_usec = (timeout_.count() % 1000) * 1000;
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect() too
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<uint16_t>(port_));
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == -1) {
    error_ = "connect to 127.0.0.1:" + std::to_string(port_) + ": " + std::strerror(errno);
    Close();
    return false;
  }
  return true;
}

void HttpConnection::Close() {
  if (fd_ != -1) close(fd_);
  fd_ = -1;
}

bool HttpConnection::SendRaw(const std::string& bytes) {
  if (!Connect()) return false;
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n == -1) {
      if (errno == EINTR) continue;
      error_ = std::string("send: ") + std::strerror(errno);
      return false;
    }
    sent += static_cast<size_t>(n);
  }
  return true;
}

bool HttpConnection::ReadMore() {
  if (fd_ == -1 || eof_) return false;
  pollfd pfd{fd_, POLLIN, 0};
  int ready = poll(&pfd, 1, static_cast<int>(timeout_.count()));
  if (ready == 0) {
    error_ = "timeout after " + std::to_string(timeout_.count()) + " ms";
    return false;
  }
  if (ready == -1) {
    error_ = std::string("poll: ") + std::strerror(errno);
    return false;
  }
  char chunk[16384];
  ssize_t n = recv(fd_, chunk, sizeof chunk, 0);
  if (n == 0) {
    eof_ = true;
    error_ = "connection closed by valved";
    return false;
  }
  if (n == -1) {
    error_ = std::string("recv: ") + std::strerror(errno);
    return false;
  }
  buffer_.append(chunk, static_cast<size_t>(n));
  return true;
}

bool HttpConnection::ReadLine(std::string* line) {
  while (true) {
    size_t end = buffer_.find('\n');
    if (end != std::string::npos) {
      *line = buffer_.substr(0, end);
      if (!line->empty() && line->back() == '\r') line->pop_back();
      buffer_.erase(0, end + 1);
      return true;
    }
    if (!ReadMore()) return false;
  }
}

bool HttpConnection::ReadExactly(size_t n, std::string* out) {
  while (buffer_.size() < n) {
    if (!ReadMore()) return false;
  }
  out->append(buffer_, 0, n);
  buffer_.erase(0, n);
  return true;
}

bool HttpConnection::ReadChunked(std::string* out) {
  while (true) {
    std::string size_line;
    if (!ReadLine(&size_line)) return false;
    size_t size = std::strtoul(size_line.c_str(), nullptr, 16);
    if (size == 0) {
      std::string trailer;
      do {
        if (!ReadLine(&trailer)) return false;
      } while (!trailer.empty());
      return true;
    }
    std::string crlf;
    if (!ReadExactly(size, out) || !ReadLine(&crlf)) return false;
  }
}

HttpResponse HttpConnection::ReadResponse(const std::string& method) {
  HttpResponse response;
  auto start = SteadyClock::now();
  std::string line;
  bool http10 = false;
  do {  // skip interim 1xx responses other than 101
    response.headers.clear();
    if (!ReadLine(&line)) {
      response.error = error_;
      Close();
      return response;
    }
    std::istringstream status_line(line);
    std::string version;
    status_line >> version >> response.status;
    std::getline(status_line >> std::ws, response.reason);
    if (version.rfind("HTTP/1.", 0) != 0 || response.status < 100) {
      response.status = 0;
      response.error = "bad status line: " + Abbreviate(line);
      Close();
      return response;
    }
    http10 = version == "HTTP/1.0";
    while (ReadLine(&line) && !line.empty()) {
      size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      std::string value = line.substr(colon + 1);
      value.erase(0, value.find_first_not_of(" \t"));
      while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.pop_back();
      response.headers.emplace_back(Lower(line.substr(0, colon)), value);
    }
  } while (response.status >= 100 && response.status < 200 && response.status != 101);

  bool ok = true;
  std::string length = response.Header("content-length");
  bool no_body =
      method == "HEAD" || response.status == 204 || response.status == 304 || response.status < 200;
  if (no_body) {
  } else if (Lower(response.Header("transfer-encoding")).find("chunked") != std::string::npos) {
    ok = ReadChunked(&response.body);
  } else if (!length.empty()) {
    ok = ReadExactly(std::strtoull(length.c_str(), nullptr, 10), &response.body);
  } else {
    while (ReadMore()) {
    }
    response.body = std::move(buffer_);
    buffer_.clear();
    ok = eof_;
  }
  response.seconds = SecondsSince(start);
  if (!ok) {
    response.error = "incomplete body: " + error_;
    response.status = 0;
  }
  std::string connection = Lower(response.Header("connection"));
  if (!ok || connection.find("close") != std::string::npos ||
      (http10 && connection.find("keep-alive") == std::string::npos)) {
    Close();
  }
  return response;
}

HttpResponse HttpConnection::Send(const HttpRequest& request) {
  auto start = SteadyClock::now();
  std::ostringstream out;
  out << request.method << " " << request.target << " HTTP/1.1\r\n";
  out << "Host: 127.0.0.1:" << port_ << "\r\n";
  for (const auto& [name, value] : request.headers) out << name << ": " << value << "\r\n";
  if (!request.body.empty() || request.method == "POST" || request.method == "PUT") {
    out << "Content-Length: " << request.body.size() << "\r\n";
  }
  if (!request.keep_alive) out << "Connection: close\r\n";
  out << "\r\n" << request.body;
  if (!SendRaw(out.str())) {
    HttpResponse response;
    response.error = error_;
    Close();
    return response;
  }
  HttpResponse response = ReadResponse(request.method);
  response.seconds = SecondsSince(start);
  return response;
}

std::string HttpConnection::ReadUntilClose() {
  while (ReadMore()) {
  }
  std::string all = std::move(buffer_);
  buffer_.clear();
  return all;
}

bool HttpConnection::PeerClosed() {
  if (fd_ == -1 || eof_) return true;
  pollfd pfd{fd_, POLLIN, 0};
  if (poll(&pfd, 1, 0) <= 0) return false;
  char byte;
  ssize_t n = recv(fd_, &byte, 1, MSG_PEEK);
  return n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR);
}

HttpResponse HttpGet(int port, const std::string& target, Millis timeout) {
  HttpConnection connection(port, timeout);
  HttpRequest request;
  request.target = target;
  return connection.Send(request);
}

HttpResponse HttpPost(int port, const std::string& target, const std::string& body,
                      const std::string& content_type, Millis timeout) {
  HttpConnection connection(port, timeout);
  HttpRequest request;
  request.method = "POST";
  request.target = target;
  request.headers = {{"Content-Type", content_type}};
  request.body = body;
  return connection.Send(request);
}

std::optional<double> JsonNumber(const std::string& body, const std::string& field) {
  std::regex pattern("\"" + field + "\"\\s*:\\s*\\[?\\s*(-?[0-9][0-9.eE+-]*)");
  std::smatch match;
  if (!std::regex_search(body, match, pattern)) return std::nullopt;
  return std::strtod(match[1].str().c_str(), nullptr);
}

// ---------------------------------------------------------------- valved

std::string DescribeStatus(int wait_status) {
  if (WIFEXITED(wait_status)) return "exited with code " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    return "killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "wait status " + std::to_string(wait_status);
}

int RunResult::ExitCode() const {
  return exited && WIFEXITED(wait_status) ? WEXITSTATUS(wait_status) : -1;
}

std::string RunResult::Describe() const {
  std::string what = exited ? DescribeStatus(wait_status) : "still running at the deadline";
  return what + " after " + std::to_string(seconds) + "s; output:\n" + output;
}

Valved::Valved(std::string name, fs::path log_path, int port)
    : name_(std::move(name)), log_path_(std::move(log_path)), port_(port) {}

Valved::~Valved() {
  // Teardown normally reaps the master; this is the last resort for a
  // fixture that was torn down early (a fatal failure in SetUp).
  if (pid_ > 0 && !wait_status_) KillGroup();
}

bool Valved::Spawn(const std::string& binary, const std::vector<std::string>& args,
                   const std::map<std::string, std::string>& env, const fs::path& dir) {
  // Everything posix_spawn needs is built before it runs.
  std::vector<std::string> argv_storage = {binary};
  argv_storage.insert(argv_storage.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& arg : argv_storage) argv.push_back(arg.data());
  argv.push_back(nullptr);

  std::map<std::string, std::string> merged;
  for (char** e = environ; *e; ++e) {
    std::string entry = *e;
    size_t eq = entry.find('=');
    if (eq != std::string::npos) merged[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_storage;
  for (const auto& [k, v] : merged) env_storage.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (std::string& entry : env_storage) envp.push_back(entry.data());
  envp.push_back(nullptr);

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  posix_spawn_file_actions_addchdir_np(&actions, dir.c_str());

  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults, mask;
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGCHLD}) {
    sigaddset(&defaults, sig);
  }
  sigemptyset(&mask);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &mask);
  posix_spawnattr_setpgroup(&attr, 0);  // its own group: teardown can kill all of it
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  int rc = posix_spawn(&pid_, binary.c_str(), &actions, &attr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    ADD_FAILURE() << "posix_spawn(" << binary << ") failed: " << std::strerror(rc);
    pid_ = -1;
    return false;
  }
  return true;
}

bool Valved::Running() {
  if (pid_ <= 0 || wait_status_) return false;
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    wait_status_ = status;
    return false;
  }
  return true;
}

void Valved::Signal(int signo) {
  if (Running()) kill(pid_, signo);
}

std::optional<int> Valved::WaitExit(Millis timeout) {
  auto end = SteadyClock::now() + timeout;
  while (Running()) {
    if (SteadyClock::now() >= end) return std::nullopt;
    std::this_thread::sleep_for(Millis(10));
  }
  return wait_status_;
}

void Valved::KillGroup() {
  if (pid_ <= 0) return;
  kill(-pid_, SIGKILL);  // the group the harness created, with every process valved started in it
  if (!wait_status_) {
    int status = 0;
    if (waitpid(pid_, &status, 0) == pid_) wait_status_ = status;
  }
}

std::string Valved::Log() const { return ReadWholeFile(log_path_); }

std::vector<std::string> Valved::LogLines(const std::regex& pattern) const {
  std::vector<std::string> matching;
  for (const std::string& line : SplitLines(Log())) {
    if (std::regex_search(line, pattern)) matching.push_back(line);
  }
  return matching;
}

bool Valved::WaitServing(Millis timeout) {
  static const std::regex kServing(R"(\[notice\] master\[\d+\]: serving .* at http://)");
  auto end = SteadyClock::now() + timeout;
  while (true) {
    if (!LogLines(kServing).empty()) return true;
    if (!Running()) {
      ADD_FAILURE() << name_ << " " << DescribeStatus(*wait_status_) << " before serving";
      return false;
    }
    if (SteadyClock::now() >= end) {
      ADD_FAILURE() << name_ << " not serving after " << timeout.count() / 1000.0 << "s";
      return false;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

// A forked child has its template's command line (template.R launcher.R
// ...): templates are told apart by the pids the log gives them.
std::vector<ProcInfo> Valved::RChildren() const {
  std::vector<ProcInfo> r;
  if (pid_ <= 0) return r;
  std::vector<pid_t> templates = TemplatePids();
  auto is_template = [&](pid_t pid) {
    return std::find(templates.begin(), templates.end(), pid) != templates.end();
  };
  // A forked child is the master's once the template's intermediate process
  // has exited; on a loaded machine it can be ready (and serving) before that.
  // The template's spares (r/template.R) are such grandchildren too, but the
  // master has never heard of them: only pids the log names are children.
  std::vector<ProcInfo> candidates = ChildrenOf(pid_);
  static const std::regex kChildPid(R"(child#\d+ pid=(\d+): )");
  std::set<pid_t> logged;
  for (const std::string& line : LogLines(kChildPid)) {
    std::smatch match;
    if (std::regex_search(line, match, kChildPid)) logged.insert(std::stoi(match[1].str()));
  }
  for (pid_t t : templates) {
    for (const ProcInfo& middle : ChildrenOf(t)) {
      for (ProcInfo& child : ChildrenOf(middle.pid)) {
        if (logged.count(child.pid)) candidates.push_back(std::move(child));
      }
    }
  }
  for (ProcInfo& child : candidates) {
    bool runs_launcher = std::any_of(child.argv.begin(), child.argv.end(), [](const auto& arg) {
      return arg.find("launcher.R") != std::string::npos;
    });
    if (runs_launcher && !is_template(child.pid) && !child.IsZombie())
      r.push_back(std::move(child));
  }
  return r;
}

std::vector<pid_t> Valved::TemplatePids() const {
  static const std::regex kTemplate(R"(template#\d+ pid=(\d+): loading)");
  std::vector<pid_t> pids;
  for (const std::string& line : LogLines(kTemplate)) {
    std::smatch match;
    if (std::regex_search(line, match, kTemplate)) pids.push_back(std::stoi(match[1].str()));
  }
  return pids;
}

std::vector<pid_t> Valved::RChildPids() const {
  std::vector<pid_t> pids;
  for (const ProcInfo& child : RChildren()) pids.push_back(child.pid);
  std::sort(pids.begin(), pids.end());
  return pids;
}

std::vector<pid_t> Valved::ReadyRChildPids() const {
  static const std::regex kReady(R"(child#\d+ pid=(\d+): Spawning -> Ready)");
  std::vector<pid_t> ready;
  std::string log = Log();
  std::vector<pid_t> running = RChildPids();
  for (auto it = std::sregex_iterator(log.begin(), log.end(), kReady); it != std::sregex_iterator();
       ++it) {
    pid_t pid = static_cast<pid_t>(std::stol((*it)[1]));
    if (std::find(running.begin(), running.end(), pid) != running.end()) ready.push_back(pid);
  }
  std::sort(ready.begin(), ready.end());
  ready.erase(std::unique(ready.begin(), ready.end()), ready.end());
  return ready;
}

std::vector<ProcInfo> Valved::Workers() const {
  std::vector<ProcInfo> workers;
  if (pid_ <= 0) return workers;
  for (ProcInfo& child : ChildrenOf(pid_)) {
    bool titled = !child.argv.empty() && child.argv[0].rfind("valved: worker", 0) == 0;
    bool is_worker = titled || (child.argv.size() > 1 && child.argv[1] == "worker");
    if (is_worker && !child.IsZombie()) {
      workers.push_back(std::move(child));
    }
  }
  return workers;
}

std::vector<ProcInfo> Valved::ZombieChildren() const {
  std::vector<ProcInfo> zombies;
  if (pid_ <= 0) return zombies;
  for (ProcInfo& child : ChildrenOf(pid_)) {
    if (child.IsZombie()) zombies.push_back(std::move(child));
  }
  return zombies;
}

std::vector<fs::path> Valved::RuntimeDirs(const fs::path& dir) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    if (entry.path().filename().string().rfind("valved.", 0) == 0 && entry.is_directory()) {
      dirs.push_back(entry.path());
    }
  }
  return dirs;
}

// ---------------------------------------------------------------- fixture

void ValvedTest::SetUp() {
  BecomeSubreaper();
  std::string pattern = (fs::temp_directory_path() / "valved-test.XXXXXX").string();
  ASSERT_NE(mkdtemp(pattern.data()), nullptr) << "mkdtemp: " << std::strerror(errno);
  dir_ = pattern;
}

Valved& ValvedTest::Start(const std::vector<std::string>& args,
                          const std::map<std::string, std::string>& extra_env) {
  int port = FreePort();
  std::vector<std::string> all;
  if (!Mentions(args, {"-h", "--host"}, "host")) all.insert(all.end(), {"-h", "127.0.0.1"});
  if (!Mentions(args, {"-p", "--port"}, "port"))
    all.insert(all.end(), {"-p", std::to_string(port)});
  if (!Mentions(args, {"--runtime-dir"}, "runtime_dir")) {
    all.insert(all.end(), {"--set", "runtime_dir=" + dir_.string()});
  }
  if (!Mentions(args, {"--kill-timeout"}, "kill_timeout")) {
    all.insert(all.end(), {"--set", "kill_timeout=3s"});
  }
  if (!Mentions(args, {"--graceful-timeout"}, "graceful_timeout")) {
    all.insert(all.end(), {"--set", "graceful_timeout=20s"});
  }
  if (!Mentions(args, {"--log-level"}, "log_level")) {
    all.insert(all.end(), {"--set", "log_level=info"});
  }
  if (geteuid() == 0 && !Mentions(args, {"--allow-root", "--user"}, "allow_root")) {
    all.push_back("--allow-root");
  }
  all.insert(all.end(), args.begin(), args.end());
  // Explicit -p overrides the free port picked above.
  for (size_t i = 0; i + 1 < all.size(); ++i) {
    if (all[i] == "-p" || all[i] == "--port") port = std::atoi(all[i + 1].c_str());
  }

  std::string name = "valved" + (instances_.empty() ? "" : "-" + std::to_string(instances_.size()));
  auto valved = std::make_unique<Valved>(name, dir_ / (name + ".log"), port);
  std::map<std::string, std::string> env = {{"VALVED_LAUNCHER", LauncherCopy()},
                                            {"VALVED_TEST_DIR", dir_.string()}};
  env.insert(extra_env.begin(), extra_env.end());
  valved->Spawn(ValvedBinary(), all, env, dir_);
  instances_.push_back(std::move(valved));
  return *instances_.back();
}

// R reads the launcher as whatever user it runs as (a test may pick nobody),
// and the checkout may sit where only root can read (/root): each test gets
// its own world-readable copy.
// The template (spawn_method: fork) is found next to the launcher.
std::string ValvedTest::LauncherCopy() {
  std::filesystem::path source = VALVED_LAUNCHER_PATH;
  for (const char* name : {"launcher.R", "template.R"}) {
    std::filesystem::path copy = dir_ / name;
    if (std::filesystem::exists(copy)) continue;
    std::filesystem::copy_file(source.parent_path() / name, copy);
    std::filesystem::permissions(copy, std::filesystem::perms(0644));
  }
  return (dir_ / "launcher.R").string();
}

Valved* ValvedTest::StartServing(const std::vector<std::string>& args, Millis timeout) {
  Valved& valved = Start(args);
  return valved.WaitServing(timeout) ? &valved : nullptr;
}

RunResult ValvedTest::RunToExit(const std::vector<std::string>& args, Millis timeout) {
  return Run(ValvedBinary(), args, timeout,
             {{"VALVED_LAUNCHER", LauncherCopy()}, {"VALVED_TEST_DIR", dir_.string()}});
}

RunResult ValvedTest::RunProgram(const std::string& program, const std::vector<std::string>& args,
                                 Millis timeout, const std::map<std::string, std::string>& env) {
  RunResult result = Run(program, args, timeout, env);
  // A program that forks (chromium) leaves its exited descendants to the test
  // process, the subreaper: reap them, and let the others finish exiting.
  Eventually(
      timeout,
      [&] {
        for (const ProcInfo& stray : StrayChildren())
          if (stray.IsZombie()) waitpid(stray.pid, nullptr, WNOHANG);
        return StrayChildren().empty();
      },
      "every process " + program + " started has exited");
  return result;
}

RunResult ValvedTest::Run(const std::string& program, const std::vector<std::string>& args,
                          Millis timeout, const std::map<std::string, std::string>& env) {
  std::string name = "run-" + std::to_string(++run_count_);
  Valved valved(name, dir_ / (name + ".log"), 0);
  RunResult result;
  auto start = SteadyClock::now();
  if (!valved.Spawn(program, args, env, dir_)) return result;
  std::optional<int> status = valved.WaitExit(timeout);
  if (!status) {
    valved.KillGroup();
    status = valved.wait_status();
  } else {
    result.exited = true;
  }
  result.wait_status = status.value_or(0);
  result.seconds = SecondsSince(start);
  result.output = valved.Log();
  return result;
}

std::optional<int> ValvedTest::Stop(Valved& valved, Millis timeout) {
  if (!valved.Running()) return valved.wait_status();
  valved.Signal(SIGTERM);
  std::optional<int> status = valved.WaitExit(timeout);
  if (!status) {
    ADD_FAILURE() << valved.name() << " pid " << valved.pid() << " still running "
                  << timeout.count() / 1000.0 << "s after SIGTERM; killing its process group";
    valved.KillGroup();
    return std::nullopt;
  }
  return status;
}

void ValvedTest::ExpectLogErrors(const std::string& pattern) {
  expected_errors_.emplace_back(pattern);
}

std::vector<std::string> ValvedTest::MarkerFiles(const std::string& prefix) const {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    std::string name = entry.path().filename();
    if (name.rfind(prefix, 0) == 0) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<pid_t> ValvedTest::MarkerPids(const std::string& prefix) const {
  std::vector<pid_t> pids;
  for (const std::string& name : MarkerFiles(prefix)) {
    pids.push_back(static_cast<pid_t>(std::atol(name.c_str() + prefix.size())));
  }
  return pids;
}

std::vector<ProcInfo> ValvedTest::StrayChildren() const {
  std::vector<ProcInfo> strays;
  for (ProcInfo& child : ChildrenOf(getpid())) {
    bool is_master = std::any_of(instances_.begin(), instances_.end(), [&](const auto& v) {
      return v->pid() == child.pid && !v->wait_status();
    });
    if (!is_master) strays.push_back(std::move(child));
  }
  return strays;
}

void ValvedTest::CheckInstance(Valved& valved) {
  if (valved.pid() <= 0) return;
  if (valved.Running()) {
    std::optional<int> status = Stop(valved);
    if (status && !(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)) {
      ADD_FAILURE() << valved.name() << " " << DescribeStatus(*status) << " on SIGTERM at teardown";
    }
  }
  CheckLogErrors(valved);
}

void ValvedTest::CheckLogErrors(const Valved& valved) {
  // The later lines of a multi-line message are indented by two spaces after
  // the prefix; they share the verdict of the message's first line.
  static const std::regex kContinuation(R"(^\S+ \[error\] [^ ]+: {2})");
  bool last_expected = false;
  for (const std::string& line : SplitLines(valved.Log())) {
    // A sanitizer build (-DVALVED_SANITIZE=ON) reports on stderr, into this log.
    if (line.find("ERROR: AddressSanitizer") != std::string::npos ||
        line.find("ERROR: LeakSanitizer") != std::string::npos ||
        line.find("runtime error:") != std::string::npos)
      ADD_FAILURE() << valved.name() << ": sanitizer report: " << line;
    if (line.find("[error]") == std::string::npos) continue;
    bool expected =
        std::regex_search(line, kContinuation)
            ? last_expected
            : std::any_of(expected_errors_.begin(), expected_errors_.end(),
                          [&](const std::regex& re) { return std::regex_search(line, re); });
    last_expected = expected;
    if (!expected) ADD_FAILURE() << valved.name() << ": unexpected error in the log: " << line;
  }
}

void ValvedTest::CheckStrays() {
  // Orphans (a SIGKILLed master's R children and workers) must leave by
  // themselves; give them a bounded time. Anything else is a leak at once.
  Millis grace = expect_orphans_ ? Millis(15'000) : Millis(0);
  auto end = SteadyClock::now() + grace;
  std::vector<ProcInfo> alive;
  while (true) {
    alive.clear();
    std::vector<ProcInfo> strays = StrayChildren();
    for (ProcInfo& p : strays) {
      if (!p.IsZombie()) alive.push_back(p);
    }
    if (!expect_orphans_ && !strays.empty()) {
      for (const ProcInfo& p : strays)
        ADD_FAILURE() << "valved left a process behind: " << p.Describe();
      break;
    }
    if (alive.empty() || SteadyClock::now() >= end) break;
    std::this_thread::sleep_for(kPollInterval);
  }
  for (const ProcInfo& p : alive) {
    if (expect_orphans_) ADD_FAILURE() << "orphan still running after 15s: " << p.Describe();
    kill(p.pid, SIGKILL);
  }
  // Reap whatever was re-parented to us; every master was reaped already.
  for (const ProcInfo& p : StrayChildren()) waitpid(p.pid, nullptr, 0);
}

void ValvedTest::PrintLogs() const {
  std::cerr << "---- test directory: " << dir_.string() << "\n";
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir_, ec)) {
    if (entry.path().extension() != ".log") continue;
    std::cerr << "---- " << entry.path().filename().string() << "\n"
              << ReadWholeFile(entry.path()) << "---- end of " << entry.path().filename().string()
              << "\n";
  }
}

void ValvedTest::TearDown() {
  for (auto& valved : instances_) CheckInstance(*valved);
  CheckStrays();
  if (!expect_runtime_dir_left_) {
    for (const fs::path& left : Valved::RuntimeDirs(dir_)) {
      ADD_FAILURE() << "runtime directory left behind: " << left.string();
    }
  }
  if (HasFailure()) PrintLogs();
  instances_.clear();
  if (KeepTempDirs()) {
    std::cerr << "VALVED_TEST_KEEP: kept " << dir_.string() << "\n";
  } else if (!dir_.empty()) {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
}

}  // namespace valved::itest
