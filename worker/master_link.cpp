#include "worker/master_link.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "common/log.h"

namespace valved::worker {
namespace {

// Enough to recognise a GRANT that crossed a TRANSFER: the master answers
// within a few messages.
constexpr size_t kHandedOverRemembered = 64;

int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

MasterLink::MasterLink(event_base* base, UniqueFd channel, uint64_t worker_id, Handlers handlers,
                       LeaseTable* table)
    : handlers_(std::move(handlers)),
      worker_id_(worker_id),
      table_(table),
      channel_(
          base, std::move(channel), "master", [this](const ipc::Message& m) { Dispatch(m); },
          [this](const std::string& reason) { Lose(reason); }) {
  channel_.Send(ipc::Hello{ipc::kProtocolVersion, worker_id, static_cast<uint64_t>(getpid())});
}

void MasterLink::Acquire(uint64_t req, LeaseCallback callback) {
  uint64_t order = next_order_++;
  waiting_[req] = {std::move(callback), order, SteadyNowNs()};
  queue_.emplace(order, req);
  if (queue_.size() == 1) PublishOldest();
  channel_.SendBatched(ipc::Acquire{req});
}

void MasterLink::Cancel(uint64_t req) {
  if (!TakeWaiter(req)) return;
  cancelled_.insert(req);
  channel_.SendBatched(ipc::Cancel{req});
}

// At once, with what is batched: the RELEASE must reach the master before the
// response it ends lets the client send its next request (IpcChannel).
void MasterLink::Release(uint64_t req, uint64_t child_id, ipc::Outcome outcome) {
  channel_.Send(ipc::Release{req, child_id, outcome});
}

void MasterLink::ReleaseOk(uint64_t req, uint64_t child_id, const std::string& socket_path) {
  if (!HandOver(req, child_id, socket_path)) Release(req, child_id, ipc::Outcome::kOk);
}

// Neither the waiter's callback, which writes to the child, nor the
// TRANSFER waits for the master.
bool MasterLink::HandOver(uint64_t from_req, uint64_t child_id, const std::string& socket_path) {
  if (!table_ || queue_.empty()) return false;
  uint64_t req = queue_.begin()->second;
  const Waiter& waiter = waiting_.at(req);
  if (!table_->OldestOfAll(worker_id_, waiter.since_ns) || !table_->Claim(child_id)) return false;
  if (!table_->TakeWaiter(worker_id_, waiter.order)) {
    table_->Unclaim(child_id);
    return false;
  }
  LeaseCallback callback = *TakeWaiter(req);
  handed_over_.push_back(req);
  if (handed_over_.size() > kHandedOverRemembered) handed_over_.pop_front();
  channel_.SendBatched(ipc::Transfer{from_req, req, child_id});
  callback(ipc::Grant{req, child_id, socket_path});
  return true;
}

std::optional<MasterLink::LeaseCallback> MasterLink::TakeWaiter(uint64_t req) {
  auto it = waiting_.find(req);
  if (it == waiting_.end()) return std::nullopt;
  LeaseCallback callback = std::move(it->second.callback);
  bool oldest = queue_.begin()->first == it->second.order;
  queue_.erase(it->second.order);
  waiting_.erase(it);
  if (oldest) PublishOldest();
  return callback;
}

void MasterLink::PublishOldest() {
  if (table_)
    table_->PublishOldest(worker_id_,
                          queue_.empty() ? 0 : waiting_.at(queue_.begin()->second).since_ns);
}

void MasterLink::SendStats(const RequestStats& stats) {
  for (const ipc::Stats& family : stats.ToMessages()) channel_.SendBatched(family);
}

void MasterLink::WhenFlushed(std::function<void()> done) { channel_.WhenFlushed(std::move(done)); }

// IpcChannel calls this from a libevent callback: nothing may escape.
void MasterLink::Dispatch(const ipc::Message& message) {
  try {
    OnMessage(message);
  } catch (const std::exception& e) {
    Lose(std::string("internal error handling \"") + ipc::FormatMessage(message) +
         "\": " + e.what());
  }
}

void MasterLink::OnMessage(const ipc::Message& message) {
  if (const auto* grant = std::get_if<ipc::Grant>(&message)) return OnAnswer(grant->req, *grant);
  if (const auto* deny = std::get_if<ipc::Deny>(&message)) return OnAnswer(deny->req, *deny);
  if (const auto* welcome = std::get_if<ipc::Welcome>(&message)) return OnWelcome(*welcome);
  if (std::holds_alternative<ipc::Quit>(message)) return handlers_.on_quit();
  if (std::holds_alternative<ipc::Terminate>(message)) return handlers_.on_terminate();
  if (std::holds_alternative<ipc::Reopen>(message)) {
    std::string error;
    if (!ReopenLog(&error)) Log(LogLevel::kError) << error << "; logging continues to the old file";
    if (handlers_.on_reopen) handlers_.on_reopen();
    return;
  }
  Lose("protocol error: unexpected \"" + ipc::FormatMessage(message) + "\" from the master");
}

void MasterLink::OnWelcome(const ipc::Welcome& welcome) {
  if (welcome.version == ipc::kProtocolVersion) return;
  Lose("protocol version mismatch: master speaks " + std::to_string(welcome.version) +
       ", worker speaks " + std::to_string(ipc::kProtocolVersion));
}

void MasterLink::OnAnswer(uint64_t req, const LeaseAnswer& answer) {
  std::optional<LeaseCallback> callback = TakeWaiter(req);
  if (!callback) {
    // A cancelled or handed-over request (the messages crossed), or a
    // stray: never keep a child.
    bool handed_over =
        std::find(handed_over_.begin(), handed_over_.end(), req) != handed_over_.end();
    if (cancelled_.erase(req) == 0 && !handed_over)
      Log(LogLevel::kWarn) << "req " << req << ": answer for an unknown request";
    if (const auto* grant = std::get_if<ipc::Grant>(&answer))
      Release(req, grant->child_id, ipc::Outcome::kOk);
    return;
  }
  (*callback)(answer);
}

void MasterLink::Lose(const std::string& reason) {
  channel_.Shutdown();
  handlers_.on_lost(reason);
}

}  // namespace valved::worker
