// A proxy worker: accepts clients, leases children through the master, and
// keeps track of everything in flight so that QUIT can wait for it.
//
// Principle: the worker is built from an event base, a listening fd and a
// channel fd, and does nothing that needs a process of its own, so tests run
// it in-process against a fake master and a fake child. Exiting is asking the
// loop to stop and recording the exit code; WorkerMain maps that to exit().
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <unordered_map>

#include "common/config.h"
#include "common/graveyard.h"
#include "common/unique_fd.h"
#include "worker/client_connection.h"
#include "worker/listener.h"
#include "worker/master_link.h"
#include "worker/route_times.h"
#include "worker/upstream.h"

namespace valved::worker {

class Worker final : private ConnectionHost {
 public:
  /// Sends HELLO and starts accepting on `listen_fd`. Throws when the access
  /// log cannot be opened. Temporary files go in temp_dir, else `runtime_dir`,
  /// else /tmp.
  Worker(event_base* base, Config config, uint64_t id, UniqueFd listen_fd, UniqueFd channel_fd,
         const std::string& runtime_dir = "", LeaseTable* lease_table = nullptr);
  ~Worker() override;
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  /// Set once the worker has decided to exit (the loop has been told to stop).
  std::optional<int> exit_code() const { return exit_code_; }
  size_t connections() const { return connections_.size(); }
  size_t orphans() const { return orphans_.size(); }
  /// Bytes waiting in temporary files.
  uint64_t temp_file_bytes() const { return temp_budget_.used(); }

 private:
  // ConnectionHost.
  event_base* base() override { return base_; }
  const Config& config() const override { return config_; }
  MasterLink& master() override { return master_; }
  ChildConnections& child_connections() override { return child_connections_; }
  RouteTimes& route_times() override { return route_times_; }
  Graveyard& graveyard() override { return graveyard_; }
  const std::string& temp_dir() const override { return temp_dir_; }
  TempFileBudget& temp_budget() override { return temp_budget_; }
  uint64_t NextRequestId() override { return next_request_id_++; }
  uint64_t worker_id() const override { return id_; }
  RequestStats& stats() override { return stats_; }
  void StatsChanged() override;
  const AccessLog& access_log() const override { return access_log_; }
  bool quitting() const override { return quitting_; }
  void OnConnectionClosed(ClientConnection& connection) override;
  void AdoptOrphan(std::unique_ptr<Upstream> upstream) override;

  void OnAccept(UniqueFd fd, const sockaddr* address, int length);
  void OnOrphanDone(Upstream& upstream);
  static void OnStatsTimer(evutil_socket_t, short, void* arg);
  void ReportStats();
  void OnReopen();
  void OnQuit();
  void OnTerminate();
  void OnMasterLost(const std::string& reason);
  void ExitWhenIdle();
  void Exit(int code);

  event_base* base_;
  Config config_;
  uint64_t id_;
  RequestStats stats_;
  AccessLog access_log_;
  EventPtr stats_timer_;  // pending while a report is due
  uint64_t next_request_id_ = 1;
  bool quitting_ = false;
  std::optional<int> exit_code_;
  MasterLink master_;
  std::string temp_dir_;
  TempFileBudget temp_budget_;  // before the connections, whose spools give bytes back to it
  RouteTimes route_times_;
  ChildConnections child_connections_;  // before graveyard_: upstreams there use it
  Graveyard graveyard_;
  // Keyed by address: a connection reports itself by reference.
  std::unordered_map<ClientConnection*, std::unique_ptr<ClientConnection>> connections_;
  std::unordered_map<Upstream*, std::unique_ptr<Upstream>> orphans_;
  Listener listener_;
};

}  // namespace valved::worker
