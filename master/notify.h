// systemd's readiness protocol (Type=notify): READY=1, STATUS=, RELOADING=1,
// STOPPING=1, sent with sd_notify(3) to $NOTIFY_SOCKET. Without NOTIFY_SOCKET
// (not under systemd) every call does nothing.
#pragma once

#include <string>

namespace valved::master {

class Notifier {
 public:
  Notifier();
  bool enabled() const { return enabled_; }
  /// READY=1 with a status line (start-up done, or a reload finished).
  void Ready(const std::string& status);
  /// RELOADING=1 (a reload began); READY=1 must follow when it ends.
  void Reloading(const std::string& status);
  /// STOPPING=1.
  void Stopping(const std::string& status);
  /// STATUS=, sent only when it changed.
  void Status(const std::string& status);

 private:
  void Send(const std::string& message);

  bool enabled_ = false;
  std::string last_status_;
};

}  // namespace valved::master
