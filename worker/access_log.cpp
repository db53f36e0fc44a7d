#include "worker/access_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <ctime>

#include "common/log.h"

namespace valved::worker {
namespace {

// Inside a quoted field: nothing may end the field or the line.
std::string Quoted(const std::string& text) {
  if (text.empty()) return "\"-\"";
  std::string out = "\"";
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (byte < 0x20 || byte == 0x7f) {
      char hex[8];
      std::snprintf(hex, sizeof hex, "\\x%02x", byte);
      out += hex;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string CommonLogTime(std::chrono::system_clock::time_point time) {
  std::time_t t = std::chrono::system_clock::to_time_t(time);
  tm utc{};
  gmtime_r(&t, &utc);
  char buf[64];
  std::strftime(buf, sizeof buf, "[%d/%b/%Y:%H:%M:%S +0000]", &utc);
  return buf;
}

std::string Fixed3(double seconds) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3f", seconds);
  return buf;
}

}  // namespace

std::string FormatAccessLine(const AccessRecord& r) {
  std::string request =
      r.method.empty() ? "" : r.method + " " + r.target + " HTTP/1." + std::to_string(r.http_minor);
  std::string line = r.client + " - - " + CommonLogTime(r.time) + " " + Quoted(request) + " " +
                     std::to_string(r.status) + " " + std::to_string(r.bytes) + " " +
                     Quoted(r.referer) + " " + Quoted(r.user_agent);
  line += " time=" + Fixed3(r.total_seconds) + " queue=" + Fixed3(r.queue_seconds) +
          " r=" + Fixed3(r.r_seconds) + " child=" + std::to_string(r.child_id) +
          " worker=" + std::to_string(r.worker_id);
  return line;
}

bool AccessLog::Open(const std::string& setting, std::string* error) {
  if (setting == "off" || setting.empty()) {
    file_.reset();
    fd_ = -1;
    path_.clear();
    return true;
  }
  if (setting == "stderr") {
    file_.reset();
    fd_ = STDERR_FILENO;
    path_.clear();
    return true;
  }
  int fd = ::open(setting.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd == -1) {
    *error = "cannot open the access log " + setting + ": " + ErrnoString(errno);
    return false;
  }
  file_.reset(fd);
  fd_ = fd;
  path_ = setting;
  return true;
}

bool AccessLog::Reopen(std::string* error) {
  if (path_.empty()) return true;
  std::string path = path_;
  return Open(path, error);
}

void AccessLog::Write(const AccessRecord& record) const {
  if (fd_ == -1) return;
  WriteWhole(fd_, FormatAccessLine(record) + "\n");
}

}  // namespace valved::worker
