// The status listener (status_listen): valved itself answers, never R, on a
// listener of its own, served by libevent's evhttp in the master's loop.
//
//   /livez    200 "live" while the master runs and a worker is running; else 503
//   /readyz   200 when enough R children are ready and valved is not stopping;
//             else 503; the body says why
//   /status   JSON (master/status_report.h)
//   /metrics  Prometheus text exposition
//   /         an HTML page that shows /status live (master/status_page.h)
//
// Principle: every answer is built from one fresh snapshot the master makes
// on request; nothing here keeps state of its own, and nothing here can
// block the loop (responses are small and written by evhttp).
#pragma once

#include <functional>

#include "common/address_filter.h"
#include "common/event_ptr.h"
#include "common/unique_fd.h"
#include "master/status_report.h"

namespace valved::master {

class StatusServer {
 public:
  using SnapshotSource = std::function<StatusSnapshot()>;

  /// Serves on the listening socket `listener`; clients `allow` refuses get 403.
  StatusServer(event_base* base, UniqueFd listener, AddressFilter allow, SnapshotSource snapshot);
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

 private:
  static void OnRequest(evhttp_request* request, void* arg);
  void Handle(evhttp_request* request);
  void Reply(evhttp_request* request, int status, const char* content_type,
             const std::string& body);

  AddressFilter allow_;
  SnapshotSource snapshot_;
  EvhttpPtr http_;
};

}  // namespace valved::master
