#include "worker/master_link.h"

#include <unistd.h>

#include "common/log.h"

namespace valved::worker {

MasterLink::MasterLink(event_base* base, UniqueFd channel, uint64_t worker_id, Handlers handlers)
    : handlers_(std::move(handlers)),
      channel_(
          base, std::move(channel), "master", [this](const ipc::Message& m) { Dispatch(m); },
          [this](const std::string& reason) { Lose(reason); }) {
  channel_.Send(ipc::Hello{ipc::kProtocolVersion, worker_id, static_cast<uint64_t>(getpid())});
}

void MasterLink::Acquire(uint64_t req, LeaseCallback callback) {
  waiting_[req] = std::move(callback);
  channel_.Send(ipc::Acquire{req});
}

void MasterLink::Cancel(uint64_t req) {
  if (waiting_.erase(req) == 0) return;
  cancelled_.insert(req);
  channel_.Send(ipc::Cancel{req});
}

void MasterLink::Release(uint64_t req, uint64_t child_id, ipc::Outcome outcome) {
  channel_.Send(ipc::Release{req, child_id, outcome});
}

void MasterLink::SendStats(const RequestStats& stats) {
  for (const ipc::Stats& family : stats.ToMessages()) channel_.Send(family);
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
  auto it = waiting_.find(req);
  if (it == waiting_.end()) {
    // A cancelled request (the messages crossed), or a stray: never keep a child.
    if (cancelled_.erase(req) == 0)
      Log(LogLevel::kWarn) << "req " << req << ": answer for an unknown request";
    if (const auto* grant = std::get_if<ipc::Grant>(&answer))
      Release(req, grant->child_id, ipc::Outcome::kOk);
    return;
  }
  LeaseCallback callback = std::move(it->second);
  waiting_.erase(it);
  callback(answer);
}

void MasterLink::Lose(const std::string& reason) {
  channel_.Shutdown();
  handlers_.on_lost(reason);
}

}  // namespace valved::worker
