// The access log (access_log: off | stderr | PATH): one line per request,
// written by the worker that served it, whatever log_level says.
//
// The line is NCSA's "combined" format, which log tools read, followed by
// valved's own fields as key=value:
//
//   127.0.0.1 - - [30/Nov/2026:19:06:01 +0000] "GET /echo?msg=hi HTTP/1.1" 200 27 "-"
//   "curl/7.88.1" time=0.003 queue=0.000 r=0.002 child=2 worker=1
//
// (one line). Bytes are the response body's; times are seconds: total (from
// the complete request head to the end of the response), waiting for an R
// child, and in R; child and worker are ids (0: none, for a request valved
// refused). A request whose head never parsed shows "-" as its request line.
// Quotes, backslashes and control bytes inside quoted fields are escaped as
// \" \\ \xHH, so one request is always one line.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "common/unique_fd.h"

namespace valved::worker {

struct AccessRecord {
  std::string client;                          ///< the client's address
  std::chrono::system_clock::time_point time;  ///< when the response ended
  std::string method;                          ///< "" when no request head was parsed
  std::string target;
  int http_minor = 1;
  int status = 0;
  uint64_t bytes = 0;      ///< response body bytes
  std::string referer;     ///< "" when absent
  std::string user_agent;  ///< "" when absent
  double total_seconds = 0;
  double queue_seconds = 0;
  double r_seconds = 0;
  uint64_t child_id = 0;
  uint64_t worker_id = 0;
};

/// The line for `record`, without its newline.
std::string FormatAccessLine(const AccessRecord& record);

class AccessLog {
 public:
  /// `setting` is the access_log value. On failure (a file that cannot be
  /// opened) returns false with *error and logs nothing.
  bool Open(const std::string& setting, std::string* error);
  /// SIGUSR1 (REOPEN from the master): a file is opened again, for logrotate.
  bool Reopen(std::string* error);
  bool enabled() const { return fd_ != -1; }
  /// One write() per line, so lines of several workers never interleave.
  void Write(const AccessRecord& record) const;

 private:
  std::string path_;  // "" for stderr
  UniqueFd file_;
  int fd_ = -1;  // file_, stderr, or -1 when off
};

}  // namespace valved::worker
