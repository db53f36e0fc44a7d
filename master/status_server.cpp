#include "master/status_server.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>

#include <stdexcept>
#include <string>

#include "common/log.h"
#include "master/status_page.h"

namespace valved::master {
namespace {

constexpr int kTimeoutSeconds = 10;  // a client that sends nothing is dropped
constexpr const char* kText = "text/plain; charset=utf-8";
constexpr const char* kJson = "application/json";
// The version of the text format Prometheus negotiates.
constexpr const char* kPrometheus = "text/plain; version=0.0.4; charset=utf-8";
constexpr const char* kHtml = "text/html; charset=utf-8";

const char* Reason(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 503:
      return "Service Unavailable";
    default:
      return "Internal Server Error";
  }
}

bool IsLive(const StatusSnapshot& s) {
  for (const WorkerStatus& w : s.workers) {
    if (w.state == "Running") return true;
  }
  return false;
}

}  // namespace

StatusServer::StatusServer(event_base* base, UniqueFd listener, AddressFilter allow,
                           SnapshotSource snapshot)
    : allow_(std::move(allow)), snapshot_(std::move(snapshot)), http_(evhttp_new(base)) {
  if (!http_) throw std::runtime_error("evhttp_new() failed");
  evhttp_set_timeout(http_.get(), kTimeoutSeconds);
  evhttp_set_gencb(http_.get(), OnRequest, this);
  // evhttp owns the socket from here and closes it in evhttp_free().
  if (!evhttp_accept_socket_with_handle(http_.get(), listener.get()))
    throw std::runtime_error("evhttp_accept_socket() failed on the status listener");
  listener.release();
}

void StatusServer::OnRequest(evhttp_request* request, void* arg) {
  auto* self = static_cast<StatusServer*>(arg);
  try {
    self->Handle(request);
  } catch (const std::exception& e) {
    Log(LogLevel::kError) << "status listener: " << e.what();
    self->Reply(request, 500, kText, "internal error\n");
  }
}

void StatusServer::Handle(evhttp_request* request) {
  const sockaddr* peer = evhttp_connection_get_addr(evhttp_request_get_connection(request));
  if (peer && !allow_.Allows(peer))
    return Reply(request, 403, kText, "not allowed (status_allow)\n");
  evhttp_cmd_type method = evhttp_request_get_command(request);
  if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
    evhttp_add_header(evhttp_request_get_output_headers(request), "Allow", "GET, HEAD");
    return Reply(request, 405, kText, "only GET and HEAD\n");
  }
  const char* raw_path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(request));
  std::string path = raw_path ? raw_path : "";
  if (path == "/livez") {
    bool live = IsLive(snapshot_());
    return Reply(request, live ? 200 : 503, kText, live ? "live\n" : "no worker is running\n");
  }
  if (path == "/readyz") {
    StatusSnapshot s = snapshot_();
    return Reply(request, s.ready ? 200 : 503, kText, s.readiness + "\n");
  }
  if (path == "/status") return Reply(request, 200, kJson, StatusJson(snapshot_()));
  if (path == "/metrics") return Reply(request, 200, kPrometheus, MetricsExposition(snapshot_()));
  if (path == "/") return Reply(request, 200, kHtml, std::string(StatusPageHtml()));
  Reply(request, 404, kText, "not found: try /livez /readyz /status /metrics or /\n");
}

void StatusServer::Reply(evhttp_request* request, int status, const char* content_type,
                         const std::string& body) {
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  evhttp_add_header(headers, "Content-Type", content_type);
  evhttp_add_header(headers, "Cache-Control", "no-store");
  EvbufferPtr buffer(evbuffer_new());
  evbuffer_add(buffer.get(), body.data(), body.size());
  evhttp_send_reply(request, status, Reason(status), buffer.get());
}

}  // namespace valved::master
