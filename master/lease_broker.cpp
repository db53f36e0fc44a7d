// Principle
//
// A request waits here, in one FIFO across all workers, until a child is
// free (Ready, or Busy with fewer than max_concurrency_per_child leases): the
// oldest waiter gets the first child that becomes free, whichever worker it
// came from. The waitlist is bounded (max_queue) and every waiter
// has a deadline (queue_timeout); both end in a DENY, which the worker turns
// into a 503 with Retry-After. A non-empty waitlist with a free child never
// survives Dispatch(), which runs after every event.
//
// A worker may also hand a child from a finished request to its own oldest
// waiter without asking (common/lease_table.h) and tell the master after, in
// a TRANSFER; the waitlist forgets that waiter. The worker and the master
// take a waiter through the lease table, so only one gives it a child. (A
// DENY may still cross a hand-over: the request is then served.) The master may have granted
// it another child meanwhile: the worker then RELEASEs that one, as for a
// cancelled request.
//
// Races between a worker and the master are normal: a CANCEL may cross a
// GRANT (the worker then RELEASEs the lease at once), and a RELEASE may name
// a child that died meanwhile. Unknown ids are ignored, not errors.

#include "master/lease_broker.h"

#include <algorithm>

#include "common/log.h"

namespace valved::master {

LeaseBroker::LeaseBroker(const Config& config, ChildPool& pool, const Clock& clock, LeaseSink& sink,
                         LeaseTable* table)
    : config_(config), pool_(pool), clock_(clock), sink_(sink), table_(table) {}

void LeaseBroker::Acquire(uint64_t worker_id, uint64_t req, Duration waited) {
  Waiter waiter{worker_id, req, clock_.Now() - waited, progress_[worker_id].read++};
  if (table_) table_->PublishRead(worker_id, progress_[worker_id].read);
  if (closed_) return Deny(waiter, *closed_);
  // max_queue counts requests waiting in workers too. One that waited in its
  // worker was let in when it arrived, against the same total.
  if (waited == Duration::zero() && queue_length() >= static_cast<size_t>(config_.max_queue))
    return Deny(waiter, ipc::DenyReason::kQueueFull);
  if (waited > Duration::zero()) {
    waiter.queued = true;  // it found no child free in its worker
    ++waited_;
  }
  // By arrival: a request that waited in its worker goes before later ones
  // of other workers, never before its own worker's (the master serves
  // those in the order of their ACQUIREs).
  auto at = waitlist_.end();
  while (at != waitlist_.begin()) {
    const Waiter& before = *std::prev(at);
    if (before.worker_id == worker_id || before.since <= waiter.since) break;
    --at;
  }
  waitlist_.insert(at, waiter);
}

void LeaseBroker::Handed(const ipc::Handed& handed) {
  if (!pool_.CountHandovers(handed.child_id, handed.count)) return;
  handovers_ += handed.count;
  waited_ += std::min(handed.waited, handed.count);
}

bool LeaseBroker::Saturated() const { return !closed_ && pool_.Saturated(); }

void LeaseBroker::Cancel(uint64_t worker_id, uint64_t req) { TakeWaiter(worker_id, req); }

std::optional<LeaseBroker::Waiter> LeaseBroker::TakeWaiter(uint64_t worker_id, uint64_t req) {
  auto it = std::find_if(waitlist_.begin(), waitlist_.end(),
                         [&](const Waiter& w) { return w.worker_id == worker_id && w.req == req; });
  if (it == waitlist_.end()) return std::nullopt;
  Waiter waiter = *it;
  waitlist_.erase(it);
  return waiter;
}

void LeaseBroker::Release(uint64_t worker_id, const ipc::Release& release,
                          const std::function<bool(const RChild&)>& still_accepts) {
  pool_.Release(release.child_id, {worker_id, release.req}, release.outcome, still_accepts);
}

void LeaseBroker::Transfer(uint64_t worker_id, const ipc::Transfer& transfer) {
  std::optional<Waiter> waiter = TakeWaiter(worker_id, transfer.to_req);
  if (!pool_.Transfer(transfer.child_id, {worker_id, transfer.from_req},
                      {worker_id, transfer.to_req}))
    return;
  ++handovers_;
  if (waiter) NoteWaited(*waiter);
}

void LeaseBroker::NoteWaited(const Waiter& waiter) const {
  if (!waiter.queued) return;
  auto waited = std::chrono::duration_cast<Duration>(clock_.Now() - waiter.since);
  Log(LogLevel::kInfo) << "req w" << waiter.worker_id << "/" << waiter.req << ": waited "
                       << Seconds(waited) << "s for a free child";
}

void LeaseBroker::Dispatch() {
  while (!waitlist_.empty()) {
    RChild* child = pool_.PickFree();
    if (!child) break;
    Waiter waiter = waitlist_.front();
    waitlist_.pop_front();
    if (table_ && !table_->TakeForGrant(waiter.worker_id, waiter.order)) {
      NoteWaited(waiter);  // its worker handed it a child; the TRANSFER follows
      continue;
    }
    pool_.Lease(*child, {waiter.worker_id, waiter.req});
    sink_.SendGrant(waiter.worker_id, {waiter.req, child->id, child->socket_path});
    NoteWaited(waiter);
  }
  for (Waiter& waiter : waitlist_) {
    if (!waiter.queued) ++waited_;
    waiter.queued = true;
  }
  pool_.Reconcile(waitlist_.size());
  if (!waitlist_.empty() && !pool_.fatal_error().empty()) Close(ipc::DenyReason::kNoChildren);
}

void LeaseBroker::ExpireWaiters() {
  TimePoint now = clock_.Now();
  while (!waitlist_.empty() && now - waitlist_.front().since >= config_.queue_timeout) {
    Waiter waiter = waitlist_.front();
    waitlist_.pop_front();
    Log(LogLevel::kWarn) << "req w" << waiter.worker_id << "/" << waiter.req
                         << ": no child free within queue_timeout; 503";
    Deny(waiter, ipc::DenyReason::kQueueTimeout);
  }
}

void LeaseBroker::DropWorker(uint64_t worker_id) {
  std::erase_if(waitlist_, [&](const Waiter& w) { return w.worker_id == worker_id; });
  progress_.erase(worker_id);
  pool_.RevokeLeasesOf(worker_id);
}

void LeaseBroker::Close(ipc::DenyReason reason) {
  closed_ = reason;
  for (const Waiter& waiter : waitlist_) Deny(waiter, reason);
  waitlist_.clear();
}

size_t LeaseBroker::queue_length() const {
  return waitlist_.size() + (table_ ? table_->LocalWaiters() : 0);
}

// The workers publish steady-clock times, which clock_ (steady in the
// master) can be compared with only through the real clock's age.
std::optional<TimePoint> LeaseBroker::oldest_since() const {
  std::optional<TimePoint> oldest;
  if (!waitlist_.empty()) oldest = waitlist_.front().since;
  if (int64_t ns = table_ ? table_->OldestOfAllNs() : 0; ns != 0) {
    auto age = std::chrono::steady_clock::now().time_since_epoch() - std::chrono::nanoseconds(ns);
    TimePoint local = clock_.Now() - std::chrono::duration_cast<Duration>(age);
    if (!oldest || local < *oldest) oldest = local;
  }
  return oldest;
}

void LeaseBroker::Deny(const Waiter& waiter, ipc::DenyReason reason) {
  ++denials_[static_cast<size_t>(reason)];
  sink_.SendDeny(waiter.worker_id, {waiter.req, reason});
}

}  // namespace valved::master
