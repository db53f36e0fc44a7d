#include "master/notify.h"

#include <systemd/sd-daemon.h>

#include <chrono>
#include <cstdlib>
#include <ctime>

#include "common/log.h"

namespace valved::master {
namespace {

// systemd 253's Type=notify-reload wants the time the reload began.
std::string MonotonicUsec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::to_string(static_cast<uint64_t>(ts.tv_sec) * 1000000 +
                        static_cast<uint64_t>(ts.tv_nsec) / 1000);
}

}  // namespace

Notifier::Notifier() : enabled_(std::getenv("NOTIFY_SOCKET") != nullptr) {}

void Notifier::Ready(const std::string& status) {
  last_status_ = status;
  Send("READY=1\nSTATUS=" + status);
}

void Notifier::Reloading(const std::string& status) {
  last_status_ = status;
  Send("RELOADING=1\nMONOTONIC_USEC=" + MonotonicUsec() + "\nSTATUS=" + status);
}

void Notifier::Stopping(const std::string& status) {
  last_status_ = status;
  Send("STOPPING=1\nSTATUS=" + status);
}

void Notifier::Status(const std::string& status) {
  if (status == last_status_) return;
  last_status_ = status;
  Send("STATUS=" + status);
}

void Notifier::Send(const std::string& message) {
  if (!enabled_) return;
  // The master's own pid: the unit's NotifyAccess=main accepts only it.
  int rc = sd_notify(0, message.c_str());
  if (rc < 0) Log(LogLevel::kWarn) << "sd_notify failed: " << ErrnoString(-rc);
}

}  // namespace valved::master
