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

// Longer than a client's turn-around on loopback or a LAN (tens to hundreds
// of microseconds), short enough that an idle child is soon free again.
constexpr timeval kLinger = {0, 2000};

int64_t SteadyNowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

MasterLink::MasterLink(event_base* base, UniqueFd channel, uint64_t worker_id, Handlers handlers,
                       LeaseTable* table, LocalWaitLimits limits)
    : handlers_(std::move(handlers)),
      worker_id_(worker_id),
      table_(table),
      limits_(limits),
      flush_timer_(evtimer_new(base, OnFlushTimer, this)),
      linger_timer_(evtimer_new(base, OnLingerTimer, this)),
      channel_(
          base, std::move(channel), "master", [this](const ipc::Message& m) { Dispatch(m); },
          [this](const std::string& reason) { Lose(reason); }) {
  channel_.Send(ipc::Hello{ipc::kProtocolVersion, worker_id, static_cast<uint64_t>(getpid())});
}

// The waiter is published (PublishOldest) before the table's saturation is
// read: see LeaseTable::PublishSaturated.
void MasterLink::Acquire(uint64_t req, LeaseCallback callback) {
  if (TakeLingering(req, callback)) return;
  uint64_t order = next_order_++;
  waiting_[req] = {std::move(callback), order, SteadyNowNs()};
  queue_.emplace(order, req);
  if (queue_.size() == 1) PublishOldest();
  if (MayWaitLocally()) return WaitLocally();
  FlushLocal(req);
  SendAcquire(req, false);
}

// Only behind a lease of this worker, which is handed over when it ends.
bool MasterLink::MayWaitLocally() const {
  if (!table_ || held_ == 0 || table_->QueueLength() >= limits_.max_waiters) return false;
  return local_ > 0 || table_->Saturated();
}

void MasterLink::WaitLocally() {
  table_->PublishLocal(worker_id_, ++local_);
  if (local_ == 1) {
    timeval delay = ToTimeval(limits_.flush_after);
    evtimer_add(flush_timer_.get(), &delay);
  }
  QueueBehindAny();
}

bool MasterLink::Serving(uint64_t lease, uint64_t child_id, const std::string& socket_path,
                         bool quick) {
  // Without queueing nothing is ever shared: no entry, and a lease ends as before.
  if (!table_ || limits_.queue_in_child.count() <= 0) return false;
  auto [it, fresh] = running_.try_emplace(lease);
  Running& running = it->second;
  if (!fresh) {  // the request queued behind (QueueBehind)
    running.next_quick = quick;
    return true;
  }
  running.child_id = child_id;
  running.socket_path = socket_path;
  running.since_ns = SteadyNowNs();
  running.quick = quick;
  QueueBehind(lease);
  return false;
}

// The lease whose request started first is the likeliest to end first.
void MasterLink::QueueBehindAny() {
  std::optional<uint64_t> best;
  int64_t best_since = 0;
  for (const auto& [lease, running] : running_) {
    if (!running.quick || running.in_flight != 1 || running.worst != ipc::Outcome::kOk) continue;
    if (!best || running.since_ns < best_since) {
      best = lease;
      best_since = running.since_ns;
    }
  }
  if (best) QueueBehind(*best);
}

void MasterLink::QueueBehind(uint64_t lease) {
  if (limits_.queue_in_child.count() <= 0 || local_ == 0) return;
  Running& running = running_.at(lease);
  int64_t limit_ns =
      std::chrono::duration_cast<std::chrono::nanoseconds>(limits_.queue_in_child).count();
  if (!running.quick || running.in_flight != 1 || running.worst != ipc::Outcome::kOk ||
      SteadyNowNs() - running.since_ns >= limit_ns)
    return;
  uint64_t req = queue_.begin()->second;
  const Waiter& waiter = waiting_.at(req);
  if (waiter.acquired || !table_->OldestOfAll(worker_id_, waiter.since_ns) ||
      !table_->Claim(running.child_id))
    return;
  Waiter local = *TakeWaiter(req);
  CountHanded(running.child_id, /*waited=*/true);
  running.in_flight = 2;
  running.next_quick = false;
  ipc::Grant grant{lease, running.child_id, running.socket_path};
  if (LogEnabled(LogLevel::kDebug))
    Log(LogLevel::kDebug) << "req " << req << ": queued in child#" << grant.child_id
                          << " behind lease " << lease;
  local.callback(grant);
}

bool MasterLink::PassOn(uint64_t lease, ipc::Outcome outcome) {
  auto it = running_.find(lease);
  if (it == running_.end() || it->second.in_flight < 2) return false;
  Running& running = it->second;
  running.worst = std::max(running.worst, outcome);
  running.in_flight = 1;
  running.since_ns = SteadyNowNs();
  running.quick = running.next_quick;
  running.next_quick = false;
  QueueBehind(lease);
  return true;
}

ipc::Outcome MasterLink::EndRunning(uint64_t lease) {
  auto it = running_.find(lease);
  if (it == running_.end()) return ipc::Outcome::kOk;
  ipc::Outcome worst = it->second.worst;
  running_.erase(it);
  return worst;
}

void MasterLink::SendAcquire(uint64_t req, bool waited_here) {
  Waiter& waiter = waiting_.at(req);
  waiter.acquired = true;
  waiter.number = acquires_sent_++;
  uint64_t waited_us = 0;
  if (waited_here) waited_us = std::max<int64_t>((SteadyNowNs() - waiter.since_ns) / 1000, 1);
  channel_.SendBatched(ipc::Acquire{req, waited_us});
}

void MasterLink::FlushLocal(std::optional<uint64_t> except) {
  if (local_ == 0) return;
  for (const auto& [order, req] : queue_) {
    if (req != except && !waiting_.at(req).acquired) SendAcquire(req, true);
  }
  local_ = 0;
  table_->PublishLocal(worker_id_, 0);
  evtimer_del(flush_timer_.get());
}

void MasterLink::OnFlushTimer(evutil_socket_t, short, void* arg) {
  static_cast<MasterLink*>(arg)->FlushLocal();
}

void MasterLink::CountHanded(uint64_t child_id, bool waited) {
  ipc::Handed& handed = handed_[child_id];
  handed.child_id = child_id;
  ++handed.count;
  if (waited) ++handed.waited;
}

void MasterLink::SendHanded() {
  for (const auto& [child_id, handed] : handed_) channel_.SendBatched(handed);
  handed_.clear();
}

bool MasterLink::Linger(uint64_t req, uint64_t child_id, const std::string& socket_path) {
  if (!table_ || quitting_ || !queue_.empty() || table_->Workers() != 1 ||
      table_->QueueLength() != 0)
    return false;
  lingering_.push_back({req, child_id, socket_path});
  evtimer_add(linger_timer_.get(), &kLinger);
  return true;
}

// The most recent first: its connection to R is the one most surely alive.
bool MasterLink::TakeLingering(uint64_t req, const LeaseCallback& callback) {
  while (!lingering_.empty()) {
    Lingering lease = std::move(lingering_.back());
    lingering_.pop_back();
    if (lingering_.empty()) evtimer_del(linger_timer_.get());
    if (!table_->Claim(lease.child_id)) {  // closed meanwhile (drain, max_requests)
      Release(lease.req, lease.child_id, ipc::Outcome::kOk);
      continue;
    }
    CountHanded(lease.child_id, /*waited=*/false);
    if (LogEnabled(LogLevel::kDebug))
      Log(LogLevel::kDebug) << "req " << req << ": takes on lease " << lease.req << " of child#"
                            << lease.child_id;
    callback(ipc::Grant{lease.req, lease.child_id, lease.socket_path});
    return true;
  }
  return false;
}

void MasterLink::EndLingering() {
  std::vector<Lingering> ending;
  ending.swap(lingering_);
  evtimer_del(linger_timer_.get());
  for (const Lingering& lease : ending) Release(lease.req, lease.child_id, ipc::Outcome::kOk);
}

void MasterLink::OnLingerTimer(evutil_socket_t, short, void* arg) {
  static_cast<MasterLink*>(arg)->EndLingering();
}

void MasterLink::Cancel(uint64_t req) {
  std::optional<Waiter> waiter = TakeWaiter(req);
  if (!waiter || !waiter->acquired) return;
  cancelled_.insert(req);
  channel_.SendBatched(ipc::Cancel{req});
}

void MasterLink::Release(uint64_t req, uint64_t child_id, ipc::Outcome outcome) {
  if (PassOn(req, outcome)) return;
  outcome = std::max(outcome, EndRunning(req));
  if (held_ > 0) --held_;
  SendRelease(req, child_id, outcome);
}

// At once, with what is batched: the RELEASE must reach the master before the
// response it ends lets the client send its next request (IpcChannel). The
// child's HANDED count goes first (max_requests), and the local waiters'
// ACQUIREs, so that the master can give them this child.
void MasterLink::SendRelease(uint64_t req, uint64_t child_id, ipc::Outcome outcome) {
  SendHanded();
  FlushLocal();
  channel_.Send(ipc::Release{req, child_id, outcome});
}

void MasterLink::ReleaseOk(uint64_t req, uint64_t child_id, const std::string& socket_path) {
  if (PassOn(req, ipc::Outcome::kOk)) return;
  if (ipc::Outcome worst = EndRunning(req); worst != ipc::Outcome::kOk)
    return Release(req, child_id, worst);
  if (HandOver(req, child_id, socket_path) || Linger(req, child_id, socket_path)) return;
  Release(req, child_id, ipc::Outcome::kOk);
}

// Neither the waiter's callback, which writes to the child, nor the
// TRANSFER waits for the master.
bool MasterLink::HandOver(uint64_t from_req, uint64_t child_id, const std::string& socket_path) {
  if (!table_ || queue_.empty()) return false;
  uint64_t req = queue_.begin()->second;
  const Waiter& waiter = waiting_.at(req);
  if (!table_->OldestOfAll(worker_id_, waiter.since_ns) || !table_->Claim(child_id)) return false;
  if (!waiter.acquired) {
    // A local wait: the lease goes on under its name; HANDED tells the master.
    Waiter local = *TakeWaiter(req);
    CountHanded(child_id, /*waited=*/true);
    if (LogEnabled(LogLevel::kInfo))
      Log(LogLevel::kInfo) << "req " << req << ": waited "
                           << Seconds(std::chrono::duration_cast<Duration>(
                                  std::chrono::nanoseconds(SteadyNowNs() - local.since_ns)))
                           << "s for a free child (in its worker)";
    LeaseCallback callback = std::move(local.callback);
    callback(ipc::Grant{from_req, child_id, socket_path});
    return true;
  }
  if (!table_->TakeWaiter(worker_id_, waiter.number)) {
    table_->Unclaim(child_id);
    return false;
  }
  LeaseCallback callback = std::move(TakeWaiter(req)->callback);
  handed_over_.push_back(req);
  if (handed_over_.size() > kHandedOverRemembered) handed_over_.pop_front();
  SendHanded();
  channel_.SendBatched(ipc::Transfer{from_req, req, child_id});
  callback(ipc::Grant{req, child_id, socket_path});
  return true;
}

std::optional<MasterLink::Waiter> MasterLink::TakeWaiter(uint64_t req) {
  auto it = waiting_.find(req);
  if (it == waiting_.end()) return std::nullopt;
  Waiter waiter = std::move(it->second);
  bool oldest = queue_.begin()->first == waiter.order;
  queue_.erase(waiter.order);
  waiting_.erase(it);
  if (!waiter.acquired) {
    table_->PublishLocal(worker_id_, --local_);
    if (local_ == 0) evtimer_del(flush_timer_.get());
  }
  if (oldest) PublishOldest();
  return waiter;
}

void MasterLink::PublishOldest() {
  if (table_)
    table_->PublishOldest(worker_id_,
                          queue_.empty() ? 0 : waiting_.at(queue_.begin()->second).since_ns);
}

void MasterLink::SendStats(const RequestStats& stats) {
  SendHanded();
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
  if (std::holds_alternative<ipc::Flush>(message)) return FlushLocal();
  if (std::holds_alternative<ipc::Quit>(message)) {
    // A worker that quits exits once its connections are done: a lease it
    // kept then would die with it, and its child with the lease.
    quitting_ = true;
    EndLingering();
    return handlers_.on_quit();
  }
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
  std::optional<Waiter> waiter = TakeWaiter(req);
  if (!waiter) {
    // A cancelled or handed-over request (the messages crossed), or a
    // stray: never keep a child.
    bool handed_over =
        std::find(handed_over_.begin(), handed_over_.end(), req) != handed_over_.end();
    if (cancelled_.erase(req) == 0 && !handed_over)
      Log(LogLevel::kWarn) << "req " << req << ": answer for an unknown request";
    if (const auto* grant = std::get_if<ipc::Grant>(&answer))
      SendRelease(req, grant->child_id, ipc::Outcome::kOk);
    return;
  }
  if (std::holds_alternative<ipc::Grant>(answer)) ++held_;
  waiter->callback(answer);
}

void MasterLink::Lose(const std::string& reason) {
  channel_.Shutdown();
  handlers_.on_lost(reason);
}

}  // namespace valved::worker
