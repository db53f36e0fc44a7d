#include "worker/worker.h"

#include <arpa/inet.h>
#include <http_parser.h>
#include <netinet/in.h>

#include <algorithm>

#include "common/log.h"
#include "common/trusted_proxies.h"

namespace valved::worker {
namespace {

constexpr timeval kStatsDelay = {0, 100 * 1000};

// The client's address as X-Forwarded-For wants it: "192.0.2.1", "2001:db8::1".
std::string AddressText(const sockaddr* address) {
  char text[INET6_ADDRSTRLEN] = "unknown";
  if (address->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, text, sizeof text);
  } else if (address->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, text,
              sizeof text);
  }
  return text;
}

std::string PortText(const sockaddr* address) {
  if (address->sa_family == AF_INET)
    return std::to_string(ntohs(reinterpret_cast<const sockaddr_in*>(address)->sin_port));
  if (address->sa_family == AF_INET6)
    return std::to_string(ntohs(reinterpret_cast<const sockaddr_in6*>(address)->sin6_port));
  return "0";
}

// http_parser's head limit is global; it must not cut in before the
// configured limits (which answer 414/431 with a clear message), and the
// children's response heads need at least the library's default.
void SetParserHeadLimit(const Config& config) {
  uint32_t wanted = static_cast<uint32_t>(config.limit_request_line) +
                    static_cast<uint32_t>(config.limit_request_headers_size) + 1024;
  http_parser_set_max_header_size(std::max<uint32_t>(wanted, HTTP_MAX_HEADER_SIZE));
}

LocalWaitLimits LocalWaitLimitsOf(const Config& config) {
  return {static_cast<size_t>(std::max(config.max_queue, 1)),
          std::min<Duration>(config.queue_timeout / 2, std::chrono::seconds(1)),
          config.queue_in_child};
}

}  // namespace

Worker::Worker(event_base* base, Config config, uint64_t id, UniqueFd listen_fd,
               UniqueFd channel_fd, const std::string& runtime_dir, LeaseTable* lease_table)
    : base_(base),
      config_(std::move(config)),
      id_(id),
      stats_timer_(evtimer_new(base, OnStatsTimer, this)),
      master_(base, std::move(channel_fd), id,
              MasterLink::Handlers{[this] { OnQuit(); }, [this] { OnTerminate(); },
                                   [this](const std::string& reason) { OnMasterLost(reason); },
                                   [this] { OnReopen(); }},
              config_.lease_handover ? lease_table : nullptr, LocalWaitLimitsOf(config_)),
      temp_dir_(!config_.temp_dir.empty() ? config_.temp_dir
                : !runtime_dir.empty()    ? runtime_dir
                                          : "/tmp"),
      temp_budget_(static_cast<uint64_t>(config_.temp_file_limit)),
      route_times_(config_.queue_in_child),
      graveyard_(base),
      listener_(base, std::move(listen_fd),
                [this](UniqueFd fd, const sockaddr* address, int length) {
                  OnAccept(std::move(fd), address, length);
                }) {
  SetParserHeadLimit(config_);
  std::string error;
  if (!access_log_.Open(config_.access_log, &error)) throw std::runtime_error(error);
  Log(LogLevel::kNotice) << "accepting connections";
}

Worker::~Worker() = default;

void Worker::OnAccept(UniqueFd fd, const sockaddr* address, int) {
  ConnectionHost& host = *this;
  ClientPeer peer{AddressText(address), PortText(address), config_.host,
                  std::to_string(config_.port), false};
  peer.trusted = IsTrustedProxy(config_.forwarded_allow_ips, peer.address);
  auto connection = std::make_unique<ClientConnection>(host, std::move(fd), std::move(peer));
  ClientConnection* key = connection.get();
  connections_.emplace(key, std::move(connection));
  ++stats_.connections_accepted;
  stats_.connections_open = connections_.size();
  StatsChanged();
}

void Worker::OnConnectionClosed(ClientConnection& connection) {
  auto it = connections_.find(&connection);
  if (it == connections_.end()) return;
  graveyard_.Bury(std::move(it->second));
  connections_.erase(it);
  stats_.connections_open = connections_.size();
  StatsChanged();
  if (quitting_) ExitWhenIdle();
}

void Worker::AdoptOrphan(std::unique_ptr<Upstream> upstream) {
  Upstream* key = upstream.get();
  orphans_.emplace(key, std::move(upstream));
  key->Detach([this](Upstream& done) { OnOrphanDone(done); });
}

void Worker::OnOrphanDone(Upstream& upstream) {
  auto it = orphans_.find(&upstream);
  if (it == orphans_.end()) return;
  graveyard_.Bury(std::move(it->second));
  orphans_.erase(it);
  if (quitting_) ExitWhenIdle();
}

// Reports are coalesced: at most one per kStatsDelay, so a busy worker sends
// a few lines per second, and a quiet one nothing.
void Worker::StatsChanged() {
  if (evtimer_pending(stats_timer_.get(), nullptr)) return;
  evtimer_add(stats_timer_.get(), &kStatsDelay);
}

void Worker::OnStatsTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Worker*>(arg);
  try {
    self->ReportStats();
  } catch (const std::exception& e) {
    Log(LogLevel::kError) << "cannot report counters: " << e.what();
  }
}

void Worker::ReportStats() {
  evtimer_del(stats_timer_.get());
  master_.SendStats(stats_);
}

void Worker::OnReopen() {
  std::string error;
  if (!access_log_.Reopen(&error))
    Log(LogLevel::kError) << error << "; access lines continue to the old file";
}

void Worker::OnQuit() {
  if (quitting_) return;
  quitting_ = true;
  Log(LogLevel::kNotice) << "quitting: " << connections_.size() << " connection(s), "
                         << orphans_.size() << " orphaned lease(s) to finish";
  listener_.StopAccepting();
  // OnQuit may close connections, which erases them from the map.
  std::vector<ClientConnection*> open;
  for (auto& [key, connection] : connections_) open.push_back(key);
  for (ClientConnection* connection : open) {
    if (connections_.count(connection)) connection->OnQuit();
  }
  ExitWhenIdle();
}

void Worker::OnTerminate() {
  Log(LogLevel::kNotice) << "terminating";
  Exit(0);
}

void Worker::OnMasterLost(const std::string& reason) {
  Log(LogLevel::kError) << "master gone, exiting (" << reason << ")";
  Exit(1);
}

// Leaves once nothing holds a lease or a client; the master must hear every
// RELEASE first, or it would take the children for lost.
void Worker::ExitWhenIdle() {
  if (!connections_.empty() || !orphans_.empty() || exit_code_) return;
  ReportStats();  // the last counters, before the channel closes
  master_.WhenFlushed([this] {
    Log(LogLevel::kNotice) << "all requests finished; exiting";
    Exit(0);
  });
}

void Worker::Exit(int code) {
  if (exit_code_) return;
  exit_code_ = code;
  event_base_loopexit(base_, nullptr);
}

}  // namespace valved::worker
