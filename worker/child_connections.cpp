#include "worker/child_connections.h"

#include "common/log.h"

namespace valved::worker {
namespace {

// Libevent's default priority: the middle one.
int DefaultPriority(bufferevent* connection) {
  return event_base_get_npriorities(bufferevent_get_base(connection)) / 2;
}

}  // namespace

BuffereventPtr ChildConnections::Take(uint64_t child_id) {
  auto it = idle_.find(child_id);
  if (it == idle_.end()) return nullptr;
  BuffereventPtr connection = std::move(it->second.back()->connection);
  it->second.pop_back();
  if (it->second.empty()) idle_.erase(it);
  bufferevent_setcb(connection.get(), nullptr, nullptr, nullptr, nullptr);
  bufferevent_priority_set(connection.get(), DefaultPriority(connection.get()));
  ++reused_;
  return connection;
}

// The highest priority while idle: see the header.
void ChildConnections::Put(uint64_t child_id, BuffereventPtr connection) {
  auto idle = std::make_unique<Idle>(Idle{this, child_id, std::move(connection)});
  bufferevent* bev = idle->connection.get();
  bufferevent_setcb(bev, OnIdleRead, nullptr, OnIdleEvent, idle.get());
  bufferevent_disable(bev, EV_WRITE);
  bufferevent_enable(bev, EV_READ);
  bufferevent_set_timeouts(bev, nullptr, nullptr);
  bufferevent_priority_set(bev, 0);
  idle_[child_id].push_back(std::move(idle));
}
size_t ChildConnections::idle() const {
  size_t n = 0;
  for (const auto& [child_id, connections] : idle_) n += connections.size();
  return n;
}

void ChildConnections::OnIdleRead(bufferevent*, void* arg) {
  auto* idle = static_cast<Idle*>(arg);
  idle->owner->Drop(idle);
}

void ChildConnections::OnIdleEvent(bufferevent*, short, void* arg) {
  auto* idle = static_cast<Idle*>(arg);
  idle->owner->Drop(idle);
}

// Freeing a bufferevent inside its own callback is safe: libevent defers the
// release until the callback returns.
void ChildConnections::Drop(const Idle* idle) {
  uint64_t child_id = idle->child_id;
  Log(LogLevel::kDebug) << "child#" << child_id << ": idle connection closed by the child";
  auto it = idle_.find(child_id);
  if (it == idle_.end()) return;
  std::erase_if(it->second,
                [idle](const std::unique_ptr<Idle>& kept) { return kept.get() == idle; });
  if (it->second.empty()) idle_.erase(it);
}

}  // namespace valved::worker
