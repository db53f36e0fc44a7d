// Idle keep-alive connections from this worker to children's Unix sockets,
// kept for the next lease of the same child.
//
// Principle: a connection is only ever here between two complete exchanges
// (worker/upstream.cpp decides which ones qualify: httpuv's rules), so
// whatever arrives on an idle one - an EOF because the child exited, or any
// stray byte - means it cannot carry another request, and it is closed at
// once, by its read event. That event must not lose the race with the lease
// that would take the connection: when a child dies and the master, not yet
// aware, grants it, the EOF and the GRANT may come out of the same
// epoll_wait(), and libevent runs only the highest priority that has events
// in a turn. So an idle connection reads at the master channel's priority
// (0), where events run in the order the kernel reported them: the EOF,
// which came first, closes the connection before the GRANT is handled, and
// the request connects anew (and asks for another child when the connect is
// refused). A child that dies after its GRANT was sent is the child dying
// while serving the request, with or without any look at the socket. A child may hold several
// leases at once (max_concurrency_per_child), each on its own connection, since httpuv answers the
// requests of one connection in order: so several connections to one child may be kept, never more
// than the leases this worker held on it at once, which the master bounds, plus one for a request
// queued in the child behind another (queue_in_child, worker/master_link.h).
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

#include "common/event_ptr.h"

namespace valved::worker {

class ChildConnections {
 public:
  ChildConnections() = default;
  ChildConnections(const ChildConnections&) = delete;
  ChildConnections& operator=(const ChildConnections&) = delete;

  /// An idle connection to `child_id`, or nullptr. Its callbacks are
  /// cleared and its priority is the default again; the caller sets its own
  /// callbacks and enables it.
  BuffereventPtr Take(uint64_t child_id);
  /// Keeps `connection` (idle, both buffers empty) for a next lease of `child_id`.
  void Put(uint64_t child_id, BuffereventPtr connection);

  size_t idle() const;
  /// Connections handed out again by Take(), since the worker started.
  uint64_t reused() const { return reused_; }

 private:
  struct Idle {
    ChildConnections* owner;
    uint64_t child_id;
    BuffereventPtr connection;
  };
  static void OnIdleRead(bufferevent*, void* arg);
  static void OnIdleEvent(bufferevent*, short, void* arg);
  void Drop(const Idle* idle);

  /// By child id; the most recently kept last.
  std::unordered_map<uint64_t, std::vector<std::unique_ptr<Idle>>> idle_;
  uint64_t reused_ = 0;
};

}  // namespace valved::worker
