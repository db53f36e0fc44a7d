// The integration-test harness: runs the real valved binary with real R
// children and talks to it over loopback TCP.
//
// Principle. A test owns a temporary directory (the runtime_dir, the logs and
// the fixtures' marker files), starts valved in its own process group with
// its stdout and stderr in a log file, and waits only with bounded Eventually()
// loops, never with fixed sleeps. The test process is a child subreaper
// (prctl PR_SET_CHILD_SUBREAPER), so any process valved leaves behind (an R
// child, a worker, a zombie) is re-parented to the test, where teardown finds
// it, reports it and kills it. Processes are told apart through /proc
// (parent pid and command line), never by name.
//
// Teardown, for every valved a test started: SIGTERM, a bounded wait, then
// SIGKILL of the process group it started and a test failure. Then: no process
// may be left behind, no runtime directory may remain, and the log may hold
// no `[error]` line the test did not declare expected. On failure the logs
// are printed; VALVED_TEST_KEEP=1 keeps the temporary directory.
#pragma once

#include <gtest/gtest.h>
#include <sys/types.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace valved::itest {

using Millis = std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

// ---------------------------------------------------------------- waiting

/// Polls `predicate` every 25 ms until it holds or `deadline` has passed.
/// Returns whether it held; on timeout, records a non-fatal failure naming
/// `message`. Use as `ASSERT_TRUE(Eventually(30s, [&] { ... }, "what"))`.
bool Eventually(Millis deadline, const std::function<bool()>& predicate,
                const std::string& message);

/// Seconds since `start`, for reporting and loose timing bounds.
double SecondsSince(SteadyClock::time_point start);

// ---------------------------------------------------------------- paths

/// The valved binary: $VALVED_TEST_BINARY, else the one CMake built.
std::string ValvedBinary();
/// A file or directory under tests/fixtures/.
std::string Fixture(const std::string& name);
/// A file under examples/.
std::string Example(const std::string& name);

/// A free TCP port on 127.0.0.1 (bound to port 0, read back, closed).
int FreePort();

// ---------------------------------------------------------------- /proc

struct ProcInfo {
  pid_t pid = 0;
  pid_t ppid = 0;
  char state = '?';               ///< R, S, D, Z, ... from /proc/<pid>/stat
  long minor_faults = 0;          ///< minflt, from /proc/<pid>/stat
  std::vector<std::string> argv;  ///< from /proc/<pid>/cmdline
  bool IsZombie() const { return state == 'Z' || state == 'X'; }
  std::string Describe() const;  ///< "pid 812 (Z): Rscript launcher.R ..."
};

std::optional<ProcInfo> ReadProc(pid_t pid);
/// Every process whose parent is `ppid`, zombies included.
std::vector<ProcInfo> ChildrenOf(pid_t ppid);
/// Whether `pid` exists and is not a zombie.
bool IsAlive(pid_t pid);

// ---------------------------------------------------------------- HTTP

struct HttpResponse {
  int status = 0;     ///< 0: no response (see error)
  std::string error;  ///< why there is no response: timeout, reset, parse error
  std::string reason;
  std::vector<std::pair<std::string, std::string>> headers;  ///< names lower-cased
  std::string body;
  double seconds = 0;  ///< from sending the request to the end of the response

  /// The first header called `name` (any case), or "".
  std::string Header(const std::string& name) const;
  bool HasHeader(const std::string& name) const;
  /// "200 (12 bytes): {...}" or "no response: timeout", for failure messages.
  std::string Describe() const;
};

struct HttpRequest {
  std::string method = "GET";
  std::string target = "/";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  bool keep_alive = false;  ///< false adds "Connection: close"
};

/// A tiny blocking HTTP/1.1 client over one loopback TCP connection. Every
/// read and write is bounded by the timeout given at construction.
class HttpConnection {
 public:
  explicit HttpConnection(int port, Millis timeout = Millis(60'000));
  ~HttpConnection();
  HttpConnection(const HttpConnection&) = delete;
  HttpConnection& operator=(const HttpConnection&) = delete;

  /// Connects if not connected. Returns false (and sets error()) on failure.
  bool Connect();
  /// Sends `request` (with Host, Content-Length and, unless keep_alive,
  /// Connection: close) and reads one response.
  HttpResponse Send(const HttpRequest& request);
  /// Writes raw bytes as they are; for malformed or pipelined requests.
  bool SendRaw(const std::string& bytes);
  /// Reads one response; `method` tells whether a body can follow (HEAD).
  HttpResponse ReadResponse(const std::string& method = "GET");
  /// Reads until the peer closes or the timeout passes; returns what came.
  std::string ReadUntilClose();
  /// Whether the peer has closed the connection (a non-blocking check).
  bool PeerClosed();
  void Close();
  bool connected() const { return fd_ != -1; }
  const std::string& error() const { return error_; }

 private:
  bool ReadMore();  ///< appends to buffer_; false on EOF, error or timeout
  bool ReadLine(std::string* line);
  bool ReadExactly(size_t n, std::string* out);
  bool ReadChunked(std::string* out);

  int port_;
  Millis timeout_;
  int fd_ = -1;
  std::string buffer_;
  std::string error_;
  bool eof_ = false;
};

/// One request on a fresh connection (Connection: close).
HttpResponse HttpGet(int port, const std::string& target, Millis timeout = Millis(60'000));
HttpResponse HttpPost(int port, const std::string& target, const std::string& body,
                      const std::string& content_type = "application/json",
                      Millis timeout = Millis(60'000));

/// The number in a plumber JSON field such as `"pid":[812]` or `"pid":812`.
std::optional<double> JsonNumber(const std::string& body, const std::string& field);

// ---------------------------------------------------------------- valved

/// The result of a valved run that was expected to end by itself.
struct RunResult {
  bool exited = false;  ///< false: still running at the deadline (then killed)
  int wait_status = 0;  ///< raw waitpid() status
  std::string output;   ///< stdout and stderr together
  double seconds = 0;
  /// The exit code, or -1 when it did not exit normally.
  int ExitCode() const;
  std::string Describe() const;  ///< "exited with code 78" / "killed by signal 9"
};

/// One running valved master, started by ValvedTest::Start().
class Valved {
 public:
  Valved(std::string name, std::filesystem::path log_path, int port);
  ~Valved();
  Valved(const Valved&) = delete;
  Valved& operator=(const Valved&) = delete;

  /// Starts `binary args...` in its own process group, in `dir`, with stdin
  /// from /dev/null, stdout and stderr to the log file and `env` added.
  bool Spawn(const std::string& binary, const std::vector<std::string>& args,
             const std::map<std::string, std::string>& env, const std::filesystem::path& dir);

  pid_t pid() const { return pid_; }
  int port() const { return port_; }
  const std::string& name() const { return name_; }
  const std::filesystem::path& log_path() const { return log_path_; }
  /// Whether the master is still running (reaps it if it has exited).
  bool Running();
  /// The exit status once reaped.
  std::optional<int> wait_status() const { return wait_status_; }

  /// Sends `signo` to the master only.
  void Signal(int signo);
  /// Waits up to `timeout` for the master to exit; returns its waitpid()
  /// status, or nullopt if it is still running.
  std::optional<int> WaitExit(Millis timeout);
  /// SIGKILL to the whole process group the harness started, then reaps.
  void KillGroup();

  /// Everything valved has written to stdout and stderr so far.
  std::string Log() const;
  /// Log lines that match `pattern`.
  std::vector<std::string> LogLines(const std::regex& pattern) const;
  /// Waits for the `serving ... at http://...` line; fails fast if valved exits.
  bool WaitServing(Millis timeout);

  /// The master's live R children, fresh or forked (not zombies, not templates).
  std::vector<ProcInfo> RChildren() const;
  /// Every template (spawn_method: fork) the log reports started, live or not.
  std::vector<pid_t> TemplatePids() const;
  std::vector<pid_t> RChildPids() const;
  /// RChildPids() that the log reports ready ("child#3 pid=812: Spawning -> Ready").
  std::vector<pid_t> ReadyRChildPids() const;
  /// The master's live children running `valved worker` (titled "valved: worker N").
  std::vector<ProcInfo> Workers() const;
  /// The master's children that are zombies (exited, not reaped yet).
  std::vector<ProcInfo> ZombieChildren() const;
  /// The `valved.<pid>.XXXXXX` runtime directories under `dir`.
  static std::vector<std::filesystem::path> RuntimeDirs(const std::filesystem::path& dir);

 private:
  std::string name_;
  std::filesystem::path log_path_;
  int port_;
  pid_t pid_ = -1;
  std::optional<int> wait_status_;
};

/// Describes a waitpid() status: "exited with code 0", "killed by signal 9".
std::string DescribeStatus(int wait_status);

/// The fixture: a temporary directory per test and the teardown checks.
class ValvedTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;

  /// The test's temporary directory (runtime_dir, logs, marker files).
  const std::filesystem::path& dir() const { return dir_; }

  /// Starts valved on a free port with `args` plus, unless `args` already
  /// name them: -h 127.0.0.1, -p PORT, runtime_dir = dir(), kill_timeout 3s,
  /// graceful_timeout 20s, log_level info, and --allow-root when the test runs
  /// as root. Returns the instance (owned by the fixture); fails the test if
  /// it cannot be started.
  Valved& Start(const std::vector<std::string>& args,
                const std::map<std::string, std::string>& extra_env = {});
  /// A world-readable copy of r/launcher.R in dir(), for VALVED_LAUNCHER.
  std::string LauncherCopy();
  /// Start() and WaitServing(). Returns nullptr (after recording a failure)
  /// if valved does not serve in time: `ASSERT_NE(valved, nullptr)`.
  Valved* StartServing(const std::vector<std::string>& args, Millis timeout = Millis(120'000));
  /// Runs valved with exactly `args` until it exits (or `timeout`, then
  /// SIGKILL): for --version, --help, -t and start-up failures.
  RunResult RunToExit(const std::vector<std::string>& args, Millis timeout = Millis(60'000));
  /// Runs `program` (a path) with `args` and `env` added, in dir(), in a
  /// process group of its own, until it exits or `timeout` passes (then
  /// SIGKILL to that group): for the tools a test drives (chromium,
  /// promtool). Its stdout and stderr go together to a log file in dir().
  RunResult RunProgram(const std::string& program, const std::vector<std::string>& args,
                       Millis timeout, const std::map<std::string, std::string>& env = {});

  /// Stops `valved` with SIGTERM as teardown would, and checks the exit.
  /// Returns the wait status (fails the test if it had to SIGKILL).
  std::optional<int> Stop(Valved& valved, Millis timeout = Millis(45'000));

  /// Declares `[error]` lines matching `pattern` expected in this test.
  void ExpectLogErrors(const std::string& pattern);
  /// Declares that valved will be killed in a way that leaves orphans
  /// (SIGKILL of the master): teardown still requires them to go away.
  void ExpectOrphans() { expect_orphans_ = true; }
  /// Declares that the runtime directory may remain (SIGKILL of the master).
  void ExpectRuntimeDirLeft() { expect_runtime_dir_left_ = true; }

  /// Files in dir() whose names start with `prefix` ("busy.", "exit.").
  std::vector<std::string> MarkerFiles(const std::string& prefix) const;
  /// Pids from marker files "busy.<pid>" / "exit.<pid>".
  std::vector<pid_t> MarkerPids(const std::string& prefix) const;

  /// Other processes the test process is parent of (orphans re-parented to
  /// it by the subreaper, zombies included), except valved masters it started.
  std::vector<ProcInfo> StrayChildren() const;

 private:
  /// RunProgram() without waiting for what the program started.
  RunResult Run(const std::string& program, const std::vector<std::string>& args, Millis timeout,
                const std::map<std::string, std::string>& env);
  void CheckInstance(Valved& valved);
  void CheckStrays();
  void CheckLogErrors(const Valved& valved);
  void PrintLogs() const;

  std::filesystem::path dir_;
  std::vector<std::unique_ptr<Valved>> instances_;
  std::vector<std::regex> expected_errors_;
  bool expect_orphans_ = false;
  bool expect_runtime_dir_left_ = false;
  int run_count_ = 0;
};

/// Whether `pid` is one of `pids`.
inline bool Contains(const std::vector<pid_t>& pids, pid_t pid) {
  return std::find(pids.begin(), pids.end(), pid) != pids.end();
}

}  // namespace valved::itest
