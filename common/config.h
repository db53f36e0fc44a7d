// The effective configuration: plain fields with defaults. Built once from
// the settings table (common/settings.h) by main() or a reload; nothing else
// reads YAML or the command line.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>

#include "common/clock.h"

namespace valved {

struct Config {
  // --- listening (Valve: -h/--host, -p/--port)
  std::string host = "127.0.0.1";
  int port = 3000;
  int workers = 0;  ///< proxy workers; 0 in the file means "number of CPU cores"

  // --- the API (Valve: -f/--file): a plumber file, or a directory with entrypoint.R
  std::string file = "plumber.R";

  // --- the pool of R children (Valve: -n/--n-max, --n-min, --max-age, --check-unused)
  int n_max = 3;
  int n_min = 1;
  Duration max_age = std::chrono::seconds(300);  ///< idle time before a child beyond n_min stops
  Duration check_unused = std::chrono::seconds(10);  ///< how often idle children are checked
  int max_spawning = 0;  ///< children starting at once (chosen by measurement; see README)
  int fork_spares = 8;   ///< forked children kept warm ahead of spawns, within n_max's headroom
  std::string spawn_method = "fork";  ///< "fork" (from a preloaded template) or "fresh"
  Duration spawn_timeout =
      std::chrono::seconds(60);  ///< a Spawning child not ready by then is killed
  Duration kill_timeout = std::chrono::seconds(5);       ///< SIGINT to SIGKILL for a stopping child
  Duration graceful_timeout = std::chrono::seconds(30);  ///< TERM: in-flight requests get this long
  int max_requests = 0;         ///< recycle a child after this many requests (0: never)
  bool warmup = false;          ///< two router calls before ready (R compiles plumber's code)
  int64_t max_memory = 0;       ///< recycle a child whose RSS passes this many bytes (0: never)
  int max_requests_jitter = 0;  ///< random 0..jitter added to max_requests per child
  int max_concurrency_per_child = 1;  ///< requests one R child serves at once (async APIs)
  std::string rscript = "Rscript";    ///< the R front end used to start children
  std::string runtime_dir;            ///< where child sockets live; "" = $XDG_RUNTIME_DIR or /tmp

  // --- requests (worker)
  int max_queue = 1000;                                   ///< waiting requests before 503
  Duration queue_timeout = std::chrono::seconds(60);      ///< wait for a child before 503
  Duration timeout = std::chrono::seconds(300);           ///< R response before 504 (0: none)
  Duration header_timeout = std::chrono::seconds(30);     ///< client request head before 408
  Duration keepalive_timeout = std::chrono::seconds(15);  ///< idle client connection
  bool child_keepalive = true;    ///< reuse a worker's connection to a child for its next request
  bool lease_handover = true;     ///< workers hand children to their queued requests (lease table)
  Duration queue_in_child{10};    ///< may wait in a child behind a quick request
  bool request_buffering = true;  ///< read request bodies whole before leasing a child
  int64_t request_buffer_size = 65536;            ///< request body bytes kept in memory
  bool response_buffering = true;                 ///< take responses from R at R's pace
  int64_t response_buffer_size = 262144;          ///< response bytes kept in memory per connection
  int64_t temp_file_limit = 1073741824;           ///< most bytes a worker keeps in temporary files
  std::string temp_dir;                           ///< where temporary files go
  int64_t max_body_size = 0;                      ///< request body bytes (0: unlimited) -> 413
  int limit_request_line = 8190;                  ///< request line bytes -> 414
  int limit_request_fields = 100;                 ///< header fields -> 431
  int limit_request_headers_size = 32768;         ///< header section bytes -> 431
  std::string forwarded_allow_ips = "127.0.0.1";  ///< peers whose X-Forwarded-* are believed

  // --- operation
  std::string log_level = "notice";
  std::string log_file;  ///< "" = stderr
  std::string pid_file;
  std::string access_log = "off";  ///< off, stderr, or a file path (worker/access_log.h)
  /// The status listener (master/status_server.h): "HOST:PORT", "unix:PATH", or "" (none).
  std::string status_listen;
  /// Client networks allowed on the status listener ("127.0.0.0/8, ::1"); "" = any.
  std::string status_allow;

  // --- privileges (common/privileges.h): what workers and R children run as
  std::string user;         ///< "" = as the master; honoured when the master is root
  std::string group;        ///< "" = the user's primary group; needs `user`
  bool allow_root = false;  ///< a root master may run workers and children as root
};

/// A configuration error. what() is the full message, already naming where:
/// "/etc/valve.yaml:12:3: n_max: expected a positive integer, got \"four\"".
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace valved
