// Principle: every setting is one row of kEntries, naming the Config field it
// fills, its type, its limits and its documentation. Parsing (YAML and flags),
// printing (SettingsOf, --print-defaults, --help) and the documentation tests
// all walk this table, so a setting added here is automatically parsed,
// printed, offered as a flag and required in the docs. Nothing else knows the
// list of settings.
#include "common/settings.h"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <variant>

#include "common/address_filter.h"
#include "common/listen_address.h"
#include "common/log.h"
#include "common/parse_text.h"
#include "common/socket_paths.h"
#include "common/trusted_proxies.h"

namespace valved {
namespace {

using Field = std::variant<std::string Config::*, int Config::*, int64_t Config::*, bool Config::*,
                           Duration Config::*>;

/// Returns what is wrong with a string value, or "" when it is acceptable.
using TextCheck = std::string (*)(std::string_view value);

constexpr int64_t kIntMax = std::numeric_limits<int>::max();
constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kMsPerDay = 24 * 3600 * 1000;
// Deadlines are computed as steady_clock::now() + duration in nanoseconds,
// which overflows beyond ~292 years; a year is far beyond any sensible wait.
constexpr int64_t kMaxDurationMs = 365 * kMsPerDay;

struct Entry {
  SettingInfo info;
  Field field;
  int64_t min = 0;            ///< ints and sizes; durations in milliseconds
  int64_t max = kIntMax;      ///< likewise
  TextCheck check = nullptr;  ///< strings only
};

std::string NonEmpty(std::string_view value) { return value.empty() ? "must not be empty" : ""; }

std::string SpawnMethodCheck(std::string_view value) {
  return value == "fork" || value == "fresh" ? "" : "must be fork or fresh";
}

std::string RuntimeDirCheck(std::string_view value) {
  if (value.empty()) return "";
  if (value.front() != '/') return "must be an absolute path (or empty for the default)";
  if (value.size() > kMaxRuntimeDirLength) {
    return "must be at most " + std::to_string(kMaxRuntimeDirLength) +
           " bytes long, to leave room for socket names (Unix socket paths are limited to " +
           std::to_string(kMaxSocketPathLength) + " bytes)";
  }
  return "";
}

std::string AccessLogCheck(std::string_view value) {
  if (value == "off" || value == "stderr" || (!value.empty() && value.front() == '/')) return "";
  if (value == "true" || value == "false")
    return "is now off, stderr or a file path (true became stderr)";
  return "must be off, stderr or an absolute file path";
}

std::string StatusListenCheck(std::string_view value) {
  std::string error;
  if (value.empty() || ParseListenAddress(value, &error)) return "";
  return error;
}

std::string StatusAllowCheck(std::string_view value) {
  std::string error;
  return AddressFilter::Parse(value, &error) ? "" : error;
}

// Section headings, in order.
constexpr std::string_view kListening = "Listening";
constexpr std::string_view kApi = "The API";
constexpr std::string_view kPool = "The pool of R children";
constexpr std::string_view kRequests = "Requests";
constexpr std::string_view kOperation = "Logging and operation";
constexpr std::string_view kPrivileges = "Privileges";

using T = SettingType;

// The table. Docs are one paragraph of plain text (no markup): they are
// wrapped into YAML comments and the man page as they are.
const Entry kEntries[] = {
    {.info = {"host", T::kString, "h", "HOST", kListening, "address to listen on",
              "The IP address the workers listen on for HTTP clients. 127.0.0.1 (the default) "
              "accepts connections from this machine only, which suits a reverse proxy in "
              "front; 0.0.0.0 accepts them on every IPv4 interface and :: on every IPv6 one. "
              "Valve's -h/--host."},
     .field = &Config::host,
     .check = NonEmpty},
    {.info = {"port", T::kInt, "p", "PORT", kListening, "TCP port to listen on",
              "The TCP port to listen on, from 1 to 65535. Ports below 1024 need root or "
              "CAP_NET_BIND_SERVICE. Valve's -p/--port."},
     .field = &Config::port,
     .min = 1,
     .max = 65535},
    {.info = {"workers", T::kInt, "w", "N", kListening,
              "proxy worker processes; 0 = one per 4 CPU cores, at least 1",
              "The number of proxy worker processes that accept client connections and forward "
              "requests to R children. Each worker is single-threaded and handles many "
              "connections at once, and costs a small fraction of the CPU that R spends on the "
              "same requests, so one keeps up with several cores of R children; with more than "
              "one, a request that waits for a child another worker holds costs a round trip "
              "through the master. 0 means one per 4 CPU cores available to valved, at least 1. "
              "This is not the number of R processes (see n_max). Valve's -w/--workers (Tokio "
              "threads there)."},
     .field = &Config::workers},
    {.info = {"file", T::kString, "f", "PATH", kApi, "the plumber API: an R file, or a directory",
              "The plumber API: an R file, as for plumber::plumb(file), or a directory holding "
              "entrypoint.R or plumber.R, as for plumber::plumb(dir); a file named entrypoint.R "
              "stands for its directory. plumber is attached first, as by library(plumber). Each "
              "R child runs in the API's directory. A relative path is taken from valved's working "
              "directory, which "
              "is / under systemd, so a service should give an absolute path. Valve's "
              "-f/--file."},
     .field = &Config::file,
     .check = NonEmpty},
    {.info = {"n_max", T::kInt, "n", "N", kPool, "most R children at once",
              "The most R children that may run at once, which is the most requests served in "
              "parallel. Each child is a whole R process with its own copy of the API's data, "
              "so memory usually sets the limit. Valve's -n/--n-max."},
     .field = &Config::n_max,
     .min = 1},
    {.info = {"n_min", T::kInt, "", "N", kPool, "R children kept alive when idle",
              "The number of R children kept alive even when idle. They are started with "
              "valved, so that the first requests do not wait for R to start (about a second). "
              "0 lets the pool shrink to nothing when there is no traffic. Must not be greater "
              "than n_max. Valve's --n-min."},
     .field = &Config::n_min},
    {.info = {"max_age", T::kDuration, "", "DURATION", kPool,
              "idle time before a surplus child stops",
              "How long a child may stay idle before it is stopped, as long as more than n_min "
              "children remain. A plain number is seconds, as in Valve's --max-age. 0 stops "
              "surplus idle children at the next check."},
     .field = &Config::max_age,
     .max = kMaxDurationMs},
    {.info = {"check_unused", T::kDuration, "", "DURATION", kPool,
              "how often idle children are checked",
              "How often the pool looks for children that have been idle longer than max_age. "
              "A plain number is seconds, as in Valve's --check-unused. Must be greater than "
              "0."},
     .field = &Config::check_unused,
     .min = 1,
     .max = kMaxDurationMs},
    {.info = {"max_spawning", T::kInt, "", "N", kPool,
              "most children starting at once; 0 = one per CPU core",
              "The most children that may be starting at the same time; 0 means one per CPU "
              "core available to valved. Starting R is CPU-bound (about 0.4 s of CPU per "
              "child): starting more children at once than there are cores makes every one of "
              "them slower, so a burst of requests is served sooner when children start a few "
              "at a time."},
     .field = &Config::max_spawning},
    {.info = {"spawn_method", T::kString, "", "fork|fresh", kPool,
              "fork children from a preloaded R, or start them fresh",
              "fork: one template R process per generation loads plumber and the API once and "
              "warms them up; each child is forked from it, ready in milliseconds, and shares "
              "the template's memory (the loaded API, models, data) until it writes to it. "
              "fresh: each child is a new R process that loads the API itself. An API that "
              "sets options(valved.fork = FALSE) at load time is always started fresh; so is "
              "every child when the template cannot be kept running. See valved(8) for the "
              "APIs that must not be forked."},
     .field = &Config::spawn_method,
     .check = SpawnMethodCheck},
    {.info = {"fork_spares", T::kInt, "", "N", kPool, "forked children kept warm ahead of demand",
              "With spawn_method fork: the most children the template forks and warms up ahead "
              "of demand. It keeps no more than the pool could still start (n_max minus the "
              "children running), so that with its spares the pool never takes more memory "
              "than n_max children would, and one even when the pool is full, for the "
              "replacement of a recycled or crashed child. A spawn that finds a spare is ready "
              "after a few milliseconds of R instead of a fork and a warm-up, so a burst on a "
              "small pool is served that much sooner. A spare waits blocked: it costs no CPU, "
              "only the memory it has written (about 10 MB; the API's data stays shared). 0 "
              "forks each child when it is asked for."},
     .field = &Config::fork_spares},
    {.info = {"spawn_timeout", T::kDuration, "", "DURATION", kPool,
              "time a child has to become ready",
              "How long a starting child has to load the API and become ready before it is "
              "killed and counted as a failed start. Children that keep failing to start are "
              "retried with a growing delay, so a broken API does not become a fork bomb."},
     .field = &Config::spawn_timeout,
     .min = 1,
     .max = kMaxDurationMs},
    {.info = {"kill_timeout", T::kDuration, "", "DURATION", kPool,
              "time from SIGINT to SIGKILL for a stopping child",
              "How long a stopping child has after SIGINT, which lets plumber run its exit "
              "hooks, before it is killed with SIGKILL. 0 sends SIGKILL at once."},
     .field = &Config::kill_timeout,
     .max = kMaxDurationMs},
    {.info = {"graceful_timeout", T::kDuration, "", "DURATION", kPool,
              "time in-flight requests get on SIGTERM",
              "On SIGTERM, how long requests in flight have to finish before valved stops the "
              "children anyway. 0 stops them without waiting."},
     .field = &Config::graceful_timeout,
     .max = kMaxDurationMs},
    {.info = {"max_requests", T::kInt, "", "N", kPool,
              "recycle a child after N requests; 0 = never",
              "Recycle a child after it has served this many requests: a new child is started "
              "and the old one finishes its request and stops. This bounds slow memory growth "
              "in an API. 0 never recycles."},
     .field = &Config::max_requests},
    {.info = {"max_requests_jitter", T::kInt, "", "N", kPool,
              "random extra requests per child, 0..N",
              "A random number from 0 to this value is added to max_requests for each child, "
              "so that children started together are not all recycled at the same moment. "
              "Ignored when max_requests is 0."},
     .field = &Config::max_requests_jitter},
    {.info = {"max_concurrency_per_child", T::kInt, "", "N", kPool,
              "requests one R child serves at once (async APIs)",
              "How many requests one R child may serve at the same time. 1 (the default) gives "
              "each child one request at a time, which is all a plain plumber API can use. An "
              "API whose endpoints return promises (promises::future_promise() with "
              "future::plan(multisession), say) lets httpuv take more requests while one "
              "waits, as plain plumber does: set this to how many such requests a child should "
              "hold at once. Requests go to the least busy child; a new child starts only when "
              "every child holds this many. If one of them times out or breaks the child, the "
              "others on that child get 502."},
     .field = &Config::max_concurrency_per_child,
     .min = 1},
    {.info =
         {"warmup", T::kBool, "", "BOOL", kPool,
          "warm children up with two requests before they serve",
          "Before a child reports ready, it sends two GET /__valved_warmup__ requests through the "
          "plumber router (they get 404), so that R compiles plumber's own code then rather than "
          "during the first two real requests, which otherwise take about 30 and 40 ms longer "
          "(measured). The API's filters see these requests, which is why it is off by default."},
     .field = &Config::warmup},
    {.info = {"max_memory", T::kSize, "", "SIZE", kPool,
              "recycle a child whose memory passes this; 0 = never",
              "A child whose resident memory (RSS) passes this size is replaced, the same way "
              "as after max_requests: its successor starts first and it retires once the "
              "successor is ready, so no request waits. Bytes, or a number with k, m or g; "
              "checked every check_unused. 0 never recycles."},
     .field = &Config::max_memory,
     .max = kInt64Max},
    {.info = {"rscript", T::kString, "", "COMMAND", kPool, "R front end that starts children",
              "The R front end that runs each child: a command looked up in PATH, or an "
              "absolute path, such as /usr/lib/R/bin/Rscript or a wrapper script that prepares "
              "the environment (renv, variables) and then runs Rscript with its arguments."},
     .field = &Config::rscript,
     .check = NonEmpty},
    {.info = {"runtime_dir", T::kString, "", "DIR", kPool, "where the children's sockets go",
              "The directory in which valved creates a private directory (mode 0700) for the "
              "children's Unix sockets. Empty means $XDG_RUNTIME_DIR when it is set, else /tmp. "
              "It must be an absolute path of at most 53 bytes, because a socket's path is "
              "limited to 107 bytes."},
     .field = &Config::runtime_dir,
     .check = RuntimeDirCheck},
    {.info = {"max_queue", T::kInt, "", "N", kRequests, "most requests waiting for a child",
              "The most requests that may wait for a free child, across all workers. A "
              "request beyond it gets 503 Service Unavailable at once, with a Retry-After "
              "header. At least 1, because a request must be able to wait while a child "
              "starts."},
     .field = &Config::max_queue,
     .min = 1},
    {.info = {"queue_timeout", T::kDuration, "", "DURATION", kRequests,
              "wait for a free child before 503",
              "How long a request may wait for a free child before it gets 503 Service "
              "Unavailable. Must be greater than 0."},
     .field = &Config::queue_timeout,
     .min = 1,
     .max = kMaxDurationMs},
    {.info = {"timeout", T::kDuration, "", "DURATION", kRequests,
              "wait for R's response before 504; 0 = none",
              "How long a child may take to answer a request before the client gets 504 "
              "Gateway Timeout. The child is then stopped and replaced, because R may still be "
              "busy with the request. 0 waits for ever."},
     .field = &Config::timeout,
     .max = kMaxDurationMs},
    {.info = {"header_timeout", T::kDuration, "", "DURATION", kRequests,
              "wait for a request head before 408",
              "How long a client has to send a complete request line and headers before it "
              "gets 408 Request Timeout and the connection is closed. This stops slow clients "
              "from holding connections open. Must be greater than 0."},
     .field = &Config::header_timeout,
     .min = 1,
     .max = kMaxDurationMs},
    {.info = {"keepalive_timeout", T::kDuration, "", "DURATION", kRequests,
              "how long an idle client connection stays open",
              "How long an idle client connection is kept open for its next request before "
              "valved closes it. Must be greater than 0."},
     .field = &Config::keepalive_timeout,
     .min = 1,
     .max = kMaxDurationMs},
    {.info = {"child_keepalive", T::kBool, "", "BOOL", kRequests, "reuse connections to R children",
              "A worker keeps its connection to a child's Unix socket open after a clean exchange "
              "and sends that child's next request over it, instead of connecting again for every "
              "request, as HAProxy and nginx do. Only connections "
              "httpuv can carry on are kept: never after HEAD, a response cut short or with an "
              "interim response, and nothing is ever pipelined. false sends every request with "
              "Connection: close on a connection of its own."},
     .field = &Config::child_keepalive},
    {.info =
         {"lease_handover", T::kBool, "", "BOOL", kRequests,
          "hand a child straight to the worker's next queued request",
          "When a lease ends cleanly and a request of the same worker waits in the master's queue, "
          "the worker gives the child to that request at once and tells the master afterwards, "
          "instead of a RELEASE and a GRANT (two process wake-ups between R's response and its "
          "next request). While the pool is saturated (no child free, none may be spawned), a "
          "worker holding a lease also keeps new requests to itself and hands the lease on to "
          "them, so the master is not woken per request; with one worker, a lease that ends with "
          "nobody waiting is kept 2 ms for the next request. FIFO order across workers, n_max, "
          "max_requests, queue_timeout and draining still hold. false sends every lease back "
          "through the master."},
     .field = &Config::lease_handover},
    {.info = {"queue_in_child", T::kDuration, "", "DURATION", kRequests,
              "queue a waiting request in a child behind a quick one",
              "While every child is busy and none may be started, a request that would wait in "
              "its worker is sent at once to a child whose one request in progress started less "
              "than this ago, on a route (method and path) whose requests have lately taken less "
              "than this in R: httpuv holds it, and R starts it the moment it has answered, "
              "without a round trip through valved (as nginx's connection pools do, which is "
              "why they get more out of the same R processes on cheap requests). At most one "
              "request waits in a child, never behind a route that is slow or not yet known, "
              "so a slow request (a long model fit) never holds a cheap one. If the request in "
              "progress is slower this time, the one behind it waits for it. Needs "
              "lease_handover; 0 never sends a request to a busy child."},
     .field = &Config::queue_in_child,
     .max = kMaxDurationMs},
    {.info =
         {"request_buffering", T::kBool, "", "BOOL", kRequests,
          "read request bodies whole before leasing a child",
          "A request body is read whole (in memory up to request_buffer_size, then in a temporary "
          "file in temp_dir) before a child is leased, so a slow upload never holds an R process; "
          "valved answers Expect: 100-continue itself, and the child gets the body with a "
          "Content-Length. false streams the body to the child as it arrives: the child is then "
          "held for as long as the client takes to send it (httpuv reads a whole body before the "
          "API runs in any case, so this only saves the temporary file of a very large upload)."},
     .field = &Config::request_buffering},
    {.info = {"request_buffer_size", T::kSize, "", "SIZE", kRequests,
              "request body bytes kept in memory",
              "How much of a request body a connection keeps in memory while it is read; the rest "
              "goes to an unlinked temporary file in temp_dir. Bytes, or a number with k, m or g."},
     .field = &Config::request_buffer_size,
     .min = 1,
     .max = kInt64Max},
    {.info = {"response_buffering", T::kBool, "", "BOOL", kRequests,
              "take responses from R at R's pace",
              "A response is read from the child as fast as the child writes it (in memory up to "
              "response_buffer_size, then in a temporary file in temp_dir) and the lease ends as "
              "soon as the child is done, while the client takes the response at its own pace. No "
              "byte is held back: each goes to the client as soon as the client can take it. false "
              "passes every response at the client's pace, so a slow reader holds the child until "
              "it has read everything (for responses too large for temp_dir). The API can choose "
              "per response with an X-Accel-Buffering: no (or yes) field, which is not passed on."},
     .field = &Config::response_buffering},
    {.info = {"response_buffer_size", T::kSize, "", "SIZE", kRequests,
              "response bytes kept in memory per connection",
              "How many response bytes a connection keeps in memory while its client is slower "
              "than R; the rest goes to an unlinked temporary file in temp_dir. Bytes, or a number "
              "with k, m or g."},
     .field = &Config::response_buffer_size,
     .min = 1,
     .max = kInt64Max},
    {.info = {"temp_file_limit", T::kSize, "", "SIZE", kRequests,
              "most bytes a worker keeps in temporary files",
              "The most bytes of request and response bodies one worker keeps in temporary files "
              "at once. When it is reached (or the disk is full), a request body that does not fit "
              "gets 507 Insufficient Storage, and a response is taken from R only as fast as the "
              "client reads it. 0 means no limit but the disk's."},
     .field = &Config::temp_file_limit,
     .max = kInt64Max},
    {.info =
         {"temp_dir", T::kString, "", "DIR", kRequests, "where temporary files go",
          "The directory for the temporary files of request_buffering and response_buffering. They "
          "are created unlinked (O_TMPFILE, or unlinked at once where the file system lacks it), "
          "so "
          "nothing is left behind whatever way a worker ends, and the space of bytes already sent "
          "is freed at once. Empty means valved's private runtime directory (see runtime_dir), "
          "which is often a tmpfs (/run): its files then take memory, so point temp_dir at a disk "
          "with room for temp_file_limit per worker when large bodies are expected."},
     .field = &Config::temp_dir},
    {.info = {"max_body_size", T::kSize, "", "SIZE", kRequests,
              "largest request body; 0 = unlimited",
              "The largest request body accepted; a larger one gets 413 Content Too Large. "
              "Bytes, or a number with k, m or g. With request_buffering a body beyond "
              "request_buffer_size waits in a temporary file, not in memory, so this also bounds "
              "that file. 0 means no limit."},
     .field = &Config::max_body_size,
     .max = kInt64Max},
    {.info = {"forwarded_allow_ips", T::kString, "", "LIST", kRequests,
              "peers whose X-Forwarded-* headers are believed",
              "The peers (a comma-separated list of IP addresses, or * for all) whose "
              "X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host valved believes: a "
              "TLS-terminating proxy in front of valved. From such a peer, X-Forwarded-Proto and "
              "X-Forwarded-Host reach R as sent, rook.url_scheme follows X-Forwarded-Proto, and "
              "req$REMOTE_ADDR is the last address of its X-Forwarded-For. From any other peer "
              "valved sets X-Forwarded-Proto: http and X-Forwarded-Host itself, and "
              "req$REMOTE_ADDR is the peer. X-Forwarded-For always gets the peer appended. "
              "Empty trusts no one. Gunicorn's forwarded_allow_ips."},
     .field = &Config::forwarded_allow_ips,
     .check = CheckTrustedProxies},
    {.info = {"limit_request_line", T::kInt, "", "BYTES", kRequests,
              "longest request line, in bytes",
              "The longest request line (method, target and version) accepted, in bytes; a "
              "longer one gets 414 URI Too Long. plumber would otherwise receive a truncated "
              "target and route it to the wrong endpoint."},
     .field = &Config::limit_request_line,
     .min = 1},
    {.info = {"limit_request_fields", T::kInt, "", "N", kRequests, "most header fields per request",
              "The most header fields a request may have; a request with more gets 431 Request "
              "Header Fields Too Large."},
     .field = &Config::limit_request_fields,
     .min = 1},
    {.info = {"limit_request_headers_size", T::kInt, "", "BYTES", kRequests,
              "most header bytes per request",
              "The most bytes a request's header fields may take together; a request with more "
              "gets 431 Request Header Fields Too Large."},
     .field = &Config::limit_request_headers_size,
     .min = 1},
    {.info = {"log_level", T::kLogLevel, "", "LEVEL", kOperation,
              "error, warn, notice, info or debug",
              "The least important messages that are logged: error; warn (failures that were "
              "recovered from, such as a crashed child, and what R writes on its standard "
              "error: warnings, messages and the errors behind 500 responses); notice "
              "(life-cycle events: start, a child ready or exiting, reload); info (also what R "
              "prints on its standard output); or debug (every state change and every message "
              "between processes). The access log is a setting of its own (access_log)."},
     .field = &Config::log_level},
    {.info = {"log_file", T::kString, "", "FILE", kOperation, "log to FILE instead of stderr",
              "The file log lines are appended to; it is reopened on SIGUSR1, for logrotate. "
              "Empty means standard error, which journald captures under systemd."},
     .field = &Config::log_file},
    {.info = {"pid_file", T::kString, "", "FILE", kOperation, "write the master's pid to FILE",
              "A file to write the master's process id to at start, removed at a clean exit. "
              "Empty means none; systemd does not need one."},
     .field = &Config::pid_file},
    {.info = {"access_log", T::kString, "", "off|stderr|FILE", kOperation,
              "one line per request: off, stderr or a file",
              "Where the workers write one line per request, whatever log_level says: off (the "
              "default), stderr (with the log, under systemd in the journal) or the absolute "
              "path of a file, appended to and reopened on SIGUSR1. Each line has the client "
              "address, the time, the request line, the status, the response body bytes, the "
              "Referer and User-Agent, then the total time, the time waiting for an R child and "
              "the time R took, in seconds, and the child and worker ids (see valved(8), ACCESS "
              "LOG)."},
     .field = &Config::access_log,
     .check = AccessLogCheck},
    {.info = {"status_listen", T::kString, "", "ADDRESS", kOperation,
              "status listener: HOST:PORT or unix:PATH; empty = none",
              "Where valved itself answers /livez, /readyz, /status, /metrics and a status page "
              "at /, on a listener of its own, so that the API's URLs stay untouched and probes "
              "never wait behind busy R children. HOST:PORT (such as 127.0.0.1:3001, [::1]:3001) "
              "or unix:PATH (an absolute path). Empty, the default, opens no listener, so that "
              "several valved instances on one machine never collide on a second port; "
              "valved -s status needs it."},
     .field = &Config::status_listen,
     .check = StatusListenCheck},
    {.info = {"status_allow", T::kString, "", "NETWORKS", kOperation,
              "client networks allowed on the status listener; empty = any",
              "The client addresses and networks allowed to use the status listener, separated "
              "by commas or spaces, such as 127.0.0.0/8, ::1, 10.0.0.0/8. Others get 403 "
              "Forbidden. Empty allows every client that can reach status_listen; clients of a "
              "Unix socket are always allowed (the socket file's permissions decide)."},
     .field = &Config::status_allow,
     .check = StatusAllowCheck},
    {.info = {"user", T::kString, "", "USER", kPrivileges, "run workers and R children as USER",
              "The user (a name or a number) the workers and the R children run as, when valved "
              "is started as root. The master keeps root: it binds the port, creates the "
              "runtime directory and gives it to this user, and starts the others, which switch "
              "user (supplementary groups, group, then user) before serving anything. The API "
              "and its directory must be readable by this user. Ignored, with a warning, when "
              "valved is not started as root. A dedicated system user is best; nobody will do."},
     .field = &Config::user},
    {.info = {"group", T::kString, "", "GROUP", kPrivileges,
              "group for workers and R children; default: USER's",
              "The group (a name or a number) the workers and the R children run as. Empty means "
              "the primary group of user. Needs user."},
     .field = &Config::group},
    {.info = {"allow_root", T::kBool, "", "BOOL", kPrivileges,
              "let a root master run R children as root",
              "valved started as root refuses to run the R children (the API's code) and the "
              "workers as root: it exits with status 78 unless user names another user. Set "
              "allow_root to true to run them as root anyway, as in a container whose only "
              "user is root. It has no effect when valved is not started as root."},
     .field = &Config::allow_root},
};

const Entry* FindEntry(std::string_view key) {
  for (const Entry& entry : kEntries) {
    if (entry.info.key == key) return &entry;
  }
  return nullptr;
}

/// The value as the user wrote it, quoted, for error messages. Long values
/// are cut so that a stray file pasted into a flag does not flood the log.
std::string Quoted(std::string_view value) {
  constexpr size_t kMaxShown = 60;
  std::string out = "\"";
  for (char c : value.substr(0, kMaxShown)) {
    if (c == '"' || c == '\\') out += '\\';
    out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
  }
  if (value.size() > kMaxShown) out += "...";
  return out + "\"";
}

[[noreturn]] void Fail(const Entry& entry, const std::string& problem) {
  throw SettingError(std::string(entry.info.key), problem);
}

[[noreturn]] void FailExpected(const Entry& entry, const std::string& expected,
                               std::string_view value) {
  Fail(entry, "expected " + expected + ", got " + Quoted(value));
}

/// Splits "250ms" into its leading digits and the rest; nullopt when there
/// are no digits or the number overflows.
std::optional<std::pair<int64_t, std::string_view>> SplitNumber(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  auto number = ParseNumber<int64_t>(text.substr(0, digits));
  if (!number) return std::nullopt;
  return std::make_pair(*number, text.substr(digits));
}

std::optional<int64_t> Scale(int64_t number, int64_t unit) {
  if (number > kInt64Max / unit) return std::nullopt;
  return number * unit;
}

std::string DescribeIntRange(int64_t min, int64_t max) {
  if (max != kIntMax) {
    return "an integer from " + std::to_string(min) + " to " + std::to_string(max);
  }
  if (min == 1) return "a positive integer";
  return "an integer of " + std::to_string(min) + " or more";
}

int64_t ParseIntValue(const Entry& entry, std::string_view value) {
  auto number = ParseNumber<int64_t>(value);
  if (!number || *number < entry.min || *number > entry.max) {
    FailExpected(entry, DescribeIntRange(entry.min, entry.max), value);
  }
  return *number;
}

Duration ParseDurationValue(const Entry& entry, std::string_view value) {
  auto duration = ParseDuration(value);
  if (!duration) {
    FailExpected(entry, "a duration (seconds, or a number with ms, s, m, h or d)", value);
  }
  if (duration->count() < entry.min) {
    FailExpected(entry, "a duration greater than 0", value);
  }
  if (duration->count() > entry.max) {
    FailExpected(entry, "a duration of at most " + FormatDuration(Duration(entry.max)), value);
  }
  return *duration;
}

int64_t ParseSizeValue(const Entry& entry, std::string_view value) {
  auto size = ParseSize(value);
  if (!size || *size < entry.min || *size > entry.max) {
    FailExpected(entry, "a size (bytes, or a number with k, m or g)", value);
  }
  return *size;
}

bool ParseBoolValue(const Entry& entry, std::string_view value) {
  if (value == "true") return true;
  if (value == "false") return false;
  FailExpected(entry, "true or false", value);
}

std::string ParseStringValue(const Entry& entry, std::string_view value) {
  bool has_control = std::any_of(value.begin(), value.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (has_control) Fail(entry, "must not contain control characters (such as a line break)");
  if (entry.check) {
    std::string problem = entry.check(value);
    if (!problem.empty()) Fail(entry, problem);
  }
  return std::string(value);
}

std::string ParseLogLevelValue(const Entry& entry, std::string_view value) {
  if (!ParseLogLevel(value)) FailExpected(entry, "error, warn, notice, info or debug", value);
  return std::string(value);
}

void ApplyEntry(const Entry& entry, Config& config, std::string_view value) {
  switch (entry.info.type) {
    case T::kString:
      config.*std::get<std::string Config::*>(entry.field) = ParseStringValue(entry, value);
      return;
    case T::kLogLevel:
      config.*std::get<std::string Config::*>(entry.field) = ParseLogLevelValue(entry, value);
      return;
    case T::kInt:
      config.*std::get<int Config::*>(entry.field) = static_cast<int>(ParseIntValue(entry, value));
      return;
    case T::kBool:
      config.*std::get<bool Config::*>(entry.field) = ParseBoolValue(entry, value);
      return;
    case T::kDuration:
      config.*std::get<Duration Config::*>(entry.field) = ParseDurationValue(entry, value);
      return;
    case T::kSize:
      config.*std::get<int64_t Config::*>(entry.field) = ParseSizeValue(entry, value);
      return;
  }
}

std::string TextOf(const Entry& entry, const Config& config) {
  switch (entry.info.type) {
    case T::kString:
    case T::kLogLevel:
      return config.*std::get<std::string Config::*>(entry.field);
    case T::kInt:
      return std::to_string(config.*std::get<int Config::*>(entry.field));
    case T::kBool:
      return config.*std::get<bool Config::*>(entry.field) ? "true" : "false";
    case T::kDuration:
      return FormatDuration(config.*std::get<Duration Config::*>(entry.field));
    case T::kSize:
      return FormatSize(config.*std::get<int64_t Config::*>(entry.field));
  }
  return "";
}

/// Optimal string alignment distance: Levenshtein plus adjacent
/// transpositions, so that "prot" is one slip away from "port".
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::vector<size_t>> d(a.size() + 1, std::vector<size_t>(b.size() + 1));
  for (size_t i = 0; i <= a.size(); ++i) d[i][0] = i;
  for (size_t j = 0; j <= b.size(); ++j) d[0][j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

/// A value with a unit: the largest unit that divides it exactly.
std::string WithLargestUnit(int64_t value,
                            std::initializer_list<std::pair<int64_t, const char*>> units) {
  for (const auto& [size, suffix] : units) {
    if (value % size == 0) return std::to_string(value / size) + suffix;
  }
  return std::to_string(value);
}

}  // namespace

void ApplySetting(Config& config, std::string_view key, std::string_view value) {
  const Entry* entry = FindEntry(key);
  if (!entry) {
    std::string problem = "unknown setting";
    std::string suggestion = ClosestSettingKey(key);
    if (!suggestion.empty()) problem += "; did you mean \"" + suggestion + "\"?";
    throw SettingError(std::string(key), problem);
  }
  ApplyEntry(*entry, config, value);
}

std::vector<std::pair<std::string, std::string>> SettingsOf(const Config& config) {
  std::vector<std::pair<std::string, std::string>> settings;
  for (const Entry& entry : kEntries) {
    settings.emplace_back(std::string(entry.info.key), TextOf(entry, config));
  }
  return settings;
}

LogLevel LogLevelOf(const Config& config) {
  return ParseLogLevel(config.log_level).value_or(LogLevel::kNotice);
}

std::optional<RuleViolation> FindRuleViolation(const Config& config) {
  if (config.n_min > config.n_max) {
    return RuleViolation{{"n_min", "n_max"},
                         "n_min (" + std::to_string(config.n_min) +
                             ") must not be greater than n_max (" + std::to_string(config.n_max) +
                             ")"};
  }
  // A group alone would leave the user root: almost certainly not what was meant.
  if (!config.group.empty() && config.user.empty()) {
    return RuleViolation{{"group", "user"}, "group (\"" + config.group + "\") needs user"};
  }
  return std::nullopt;
}

void Validate(const Config& config) {
  // Each field is checked as it is set, but a Config can also be built in
  // code, so the field rules are checked again here before the cross-field
  // ones: the text round trip rejects exactly what ApplySetting would.
  Config scratch;
  for (const Entry& entry : kEntries) ApplyEntry(entry, scratch, TextOf(entry, config));
  if (auto violation = FindRuleViolation(config)) throw ConfigError(violation->message);
}

const std::vector<SettingInfo>& AllSettings() {
  static const std::vector<SettingInfo> settings = [] {
    std::vector<SettingInfo> out;
    for (const Entry& entry : kEntries) out.push_back(entry.info);
    return out;
  }();
  return settings;
}

const SettingInfo* FindSetting(std::string_view key) {
  // From AllSettings(), so that callers may compare addresses with its rows.
  for (const SettingInfo& setting : AllSettings()) {
    if (setting.key == key) return &setting;
  }
  return nullptr;
}

std::string LongFlagOf(std::string_view key) {
  std::string flag = "--" + std::string(key);
  std::replace(flag.begin(), flag.end(), '_', '-');
  return flag;
}

std::string_view TypeName(SettingType type) {
  switch (type) {
    case T::kString:
      return "string";
    case T::kInt:
      return "integer";
    case T::kBool:
      return "boolean";
    case T::kDuration:
      return "duration";
    case T::kSize:
      return "size";
    case T::kLogLevel:
      return "log level";
  }
  return "?";
}

std::string ClosestWord(std::string_view word, const std::vector<std::string>& candidates) {
  std::string best;
  size_t best_distance = 3;  // more than two edits is a different word
  for (const std::string& candidate : candidates) {
    size_t distance = EditDistance(word, candidate);
    // Short words are all near each other; demand that most of it matches.
    if (distance < best_distance && distance * 2 < candidate.size()) {
      best_distance = distance;
      best = candidate;
    }
  }
  return best;
}

std::string ClosestSettingKey(std::string_view unknown) {
  // "n-max" is a common slip (flags use dashes), so compare with dashes as
  // underscores.
  std::string normalized(unknown);
  std::replace(normalized.begin(), normalized.end(), '-', '_');
  std::vector<std::string> keys;
  for (const Entry& entry : kEntries) keys.emplace_back(entry.info.key);
  return ClosestWord(normalized, keys);
}

std::string SettingText(const Config& config, std::string_view key) {
  const Entry* entry = FindEntry(key);
  return entry ? TextOf(*entry, config) : "";
}

std::string FormatDuration(Duration d) {
  if (d.count() == 0) return "0s";
  return WithLargestUnit(d.count(),
                         {{kMsPerDay, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}});
}

std::string FormatSize(int64_t bytes) {
  if (bytes == 0) return "0";
  return WithLargestUnit(
      bytes, {{int64_t{1} << 30, "g"}, {int64_t{1} << 20, "m"}, {int64_t{1} << 10, "k"}, {1, ""}});
}

std::optional<Duration> ParseDuration(std::string_view text) {
  auto split = SplitNumber(text);
  if (!split) return std::nullopt;
  auto [number, unit] = *split;
  int64_t ms_per_unit = 0;
  if (unit.empty() || unit == "s") {
    ms_per_unit = 1000;  // Valve's --max-age 300 and --check-unused 10 are seconds
  } else if (unit == "ms") {
    ms_per_unit = 1;
  } else if (unit == "m") {
    ms_per_unit = 60000;
  } else if (unit == "h") {
    ms_per_unit = 3600000;
  } else if (unit == "d") {
    ms_per_unit = kMsPerDay;
  } else {
    return std::nullopt;
  }
  auto ms = Scale(number, ms_per_unit);
  if (!ms) return std::nullopt;
  return Duration(*ms);
}

std::optional<int64_t> ParseSize(std::string_view text) {
  auto split = SplitNumber(text);
  if (!split) return std::nullopt;
  auto [number, unit] = *split;
  int shift = 0;
  if (unit == "k" || unit == "K") {
    shift = 10;
  } else if (unit == "m" || unit == "M") {
    shift = 20;
  } else if (unit == "g" || unit == "G") {
    shift = 30;
  } else if (!unit.empty()) {
    return std::nullopt;
  }
  return Scale(number, int64_t{1} << shift);
}

}  // namespace valved
