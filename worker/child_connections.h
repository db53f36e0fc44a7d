// Idle keep-alive connections from this worker to children's Unix sockets,
// kept for the next lease of the same child.
//
// Principle: a connection is only ever here between two complete exchanges
// (worker/upstream.cpp decides which ones qualify: httpuv's rules), so
// whatever arrives on an idle one - an EOF because the child exited, or any
// stray byte - means it cannot carry another request, and it is closed at
// once. Take() looks at the socket once more, since that event may not have
// been handled yet. At most one connection per child is kept: a child serves
// one request at a time, so a worker never needs two at once.
#pragma once

#include <cstdint>
#include <memory>
#include <unordered_map>

#include "common/event_ptr.h"

namespace valved::worker {

class ChildConnections {
 public:
  ChildConnections() = default;
  ChildConnections(const ChildConnections&) = delete;
  ChildConnections& operator=(const ChildConnections&) = delete;

  /// An idle connection to `child_id` that is still open, or nullptr. Its
  /// callbacks are cleared; the caller sets its own and enables it.
  BuffereventPtr Take(uint64_t child_id);
  /// Keeps `connection` (idle, both buffers empty) for the next lease of `child_id`.
  void Put(uint64_t child_id, BuffereventPtr connection);

  size_t idle() const { return idle_.size(); }
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
  void Drop(uint64_t child_id);

  std::unordered_map<uint64_t, std::unique_ptr<Idle>> idle_;
  uint64_t reused_ = 0;
};

}  // namespace valved::worker
