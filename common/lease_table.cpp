// A child's word: its id (low 32 bits) in the high half, then the open bit,
// then the requests left (31 bits). Every change is a compare-and-swap that
// first checks the id, so a stale slot (a child that died, its slot taken by
// a later child) is never changed by mistake.

#include "common/lease_table.h"

#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <utility>

#include "common/log.h"

namespace valved {
namespace {

constexpr uint64_t kOpen = uint64_t{1} << 31;
constexpr uint64_t kLeftMask = kOpen - 1;

uint64_t IdBits(uint64_t child_id) { return (child_id & 0xffffffff) << 32; }
bool Owns(uint64_t word, uint64_t child_id) {
  return (word & ~uint64_t{0xffffffff}) == IdBits(child_id);
}

// Applies `change` (word -> new word) to the child's word while it still
// belongs to `child_id`.
template <typename Change>
void Update(uint64_t& raw, uint64_t child_id, Change change) {
  std::atomic_ref<uint64_t> word(raw);
  uint64_t old = word.load();
  while (Owns(old, child_id)) {
    if (word.compare_exchange_weak(old, change(old))) return;
  }
}

void* Map(int fd, size_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) throw std::runtime_error("mmap of the lease table: " + ErrnoString(errno));
  return p;
}

// Modulo 2^32: whether a comes before b.
bool Before(uint32_t a, uint32_t b) { return static_cast<int32_t>(a - b) < 0; }

// Moves "the first not given a child" past `order`, unless it already is.
bool Take(uint64_t& raw, uint32_t order, bool must_be_read) {
  std::atomic_ref<uint64_t> word(raw);
  uint64_t old = word.load();
  for (;;) {
    auto read = static_cast<uint32_t>(old >> 32);
    auto first = static_cast<uint32_t>(old);
    if (Before(order, first) || (must_be_read && !Before(order, read))) return false;
    uint64_t next = (old & ~uint64_t{0xffffffff}) | static_cast<uint32_t>(order + 1);
    if (word.compare_exchange_weak(old, next)) return true;
  }
}

}  // namespace

LeaseTable LeaseTable::Create() {
  UniqueFd fd(memfd_create("valved-leases", MFD_CLOEXEC));
  if (!fd) throw std::runtime_error("memfd_create: " + ErrnoString(errno));
  if (ftruncate(fd.get(), sizeof(Layout)) != 0)
    throw std::runtime_error("ftruncate of the lease table: " + ErrnoString(errno));
  void* p = Map(fd.get(), sizeof(Layout));
  return LeaseTable(std::move(fd), static_cast<Layout*>(p));
}

LeaseTable LeaseTable::Attach(UniqueFd fd) {
  void* p = Map(fd.get(), sizeof(Layout));
  return LeaseTable(std::move(fd), static_cast<Layout*>(p));
}

LeaseTable::LeaseTable(LeaseTable&& other) noexcept
    : fd_(std::move(other.fd_)), layout_(std::exchange(other.layout_, nullptr)) {}

LeaseTable& LeaseTable::operator=(LeaseTable&& other) noexcept {
  if (this != &other) {
    if (layout_) munmap(layout_, sizeof(Layout));
    fd_ = std::move(other.fd_);
    layout_ = std::exchange(other.layout_, nullptr);
  }
  return *this;
}

LeaseTable::~LeaseTable() {
  if (layout_) munmap(layout_, sizeof(Layout));
}

uint64_t& LeaseTable::ChildWord(uint64_t child_id) const {
  return layout_->children[child_id % kChildSlots];
}

void LeaseTable::AddChild(uint64_t child_id, uint32_t requests_left) {
  uint64_t left = std::min<uint64_t>(requests_left, kUnlimited);
  std::atomic_ref<uint64_t>(ChildWord(child_id)).store(IdBits(child_id) | left);
}

void LeaseTable::SetOpen(uint64_t child_id, bool open) {
  Update(ChildWord(child_id), child_id,
         [open](uint64_t w) { return open ? (w | kOpen) : (w & ~kOpen); });
}

void LeaseTable::Spend(uint64_t child_id) {
  Update(ChildWord(child_id), child_id, [](uint64_t w) {
    uint64_t left = w & kLeftMask;
    return left == kUnlimited || left == 0 ? w : w - 1;
  });
}

void LeaseTable::RemoveChild(uint64_t child_id) {
  Update(ChildWord(child_id), child_id, [](uint64_t) { return uint64_t{0}; });
}

void LeaseTable::PublishRead(uint64_t worker_id, uint32_t read) {
  WorkerWord& slot = layout_->workers[worker_id % kWorkerSlots];
  std::atomic_ref<uint64_t> owner(slot.owner);
  if (owner.load() != worker_id) {
    std::atomic_ref<uint64_t>(slot.queue).store(0);
    owner.store(worker_id);
  }
  std::atomic_ref<uint64_t> word(slot.queue);
  uint64_t old = word.load();
  while (!word.compare_exchange_weak(old, uint64_t{read} << 32 | (old & 0xffffffff))) {
  }
}

bool LeaseTable::TakeForGrant(uint64_t worker_id, uint32_t order) {
  WorkerWord& slot = layout_->workers[worker_id % kWorkerSlots];
  if (std::atomic_ref<uint64_t>(slot.owner).load() != worker_id) return true;
  return Take(slot.queue, order, false);
}

bool LeaseTable::TakeWaiter(uint64_t worker_id, uint64_t order) {
  WorkerWord& slot = layout_->workers[worker_id % kWorkerSlots];
  if (std::atomic_ref<uint64_t>(slot.owner).load() != worker_id) return false;
  return Take(slot.queue, static_cast<uint32_t>(order), true);
}

void LeaseTable::ClearWorker(uint64_t worker_id) {
  PublishOldest(worker_id, 0);
  PublishLocal(worker_id, 0);
  WorkerWord& slot = layout_->workers[worker_id % kWorkerSlots];
  if (std::atomic_ref<uint64_t>(slot.owner).load() != worker_id) return;
  std::atomic_ref<uint64_t>(slot.owner).store(0);
  std::atomic_ref<uint64_t>(slot.queue).store(0);
}

// Sequentially consistent, as PublishOldest() and HasWaiters(): a worker
// publishes its waiter before it reads this word, the master writes this
// word before it reads who waits, so a waiter that stays in its worker is
// always seen by the master when saturation ends.
void LeaseTable::PublishSaturated(bool saturated) {
  std::atomic_ref<uint64_t>(layout_->saturated).store(saturated ? 1 : 0);
}

bool LeaseTable::Saturated() const {
  return std::atomic_ref<uint64_t>(layout_->saturated).load() != 0;
}

bool LeaseTable::HasWaiters(uint64_t worker_id) const {
  return std::atomic_ref<uint64_t>(layout_->workers[worker_id % kWorkerSlots].oldest_ns).load() !=
         0;
}

void LeaseTable::PublishLocal(uint64_t worker_id, size_t count) {
  std::atomic_ref<uint64_t>(layout_->workers[worker_id % kWorkerSlots].local)
      .store(count, std::memory_order_relaxed);
}

void LeaseTable::PublishQueued(size_t count) {
  std::atomic_ref<uint64_t>(layout_->queued).store(count, std::memory_order_relaxed);
}

void LeaseTable::PublishWorkers(size_t count) {
  std::atomic_ref<uint64_t>(layout_->worker_count).store(count);
}

size_t LeaseTable::Workers() const {
  return std::atomic_ref<uint64_t>(layout_->worker_count).load();
}

size_t LeaseTable::QueueLength() const {
  return std::atomic_ref<uint64_t>(layout_->queued).load(std::memory_order_relaxed) +
         LocalWaiters();
}

size_t LeaseTable::LocalWaiters() const {
  size_t sum = 0;
  for (WorkerWord& slot : layout_->workers)
    sum += std::atomic_ref<uint64_t>(slot.local).load(std::memory_order_relaxed);
  return sum;
}

int64_t LeaseTable::OldestOfAllNs() const {
  int64_t oldest = 0;
  for (WorkerWord& slot : layout_->workers) {
    auto since = static_cast<int64_t>(
        std::atomic_ref<uint64_t>(slot.oldest_ns).load(std::memory_order_relaxed));
    if (since != 0 && (oldest == 0 || since < oldest)) oldest = since;
  }
  return oldest;
}

bool LeaseTable::Claim(uint64_t child_id) {
  std::atomic_ref<uint64_t> word(ChildWord(child_id));
  uint64_t old = word.load();
  while (Owns(old, child_id) && (old & kOpen) && (old & kLeftMask) != 0) {
    if ((old & kLeftMask) == kUnlimited) return true;
    if (word.compare_exchange_weak(old, old - 1)) return true;
  }
  return false;
}

void LeaseTable::Unclaim(uint64_t child_id) {
  Update(ChildWord(child_id), child_id, [](uint64_t w) {
    uint64_t left = w & kLeftMask;
    return left == kUnlimited || left == kUnlimited - 1 ? w : w + 1;
  });
}

void LeaseTable::PublishOldest(uint64_t worker_id, int64_t since_ns) {
  std::atomic_ref<uint64_t>(layout_->workers[worker_id % kWorkerSlots].oldest_ns)
      .store(static_cast<uint64_t>(since_ns));
}

bool LeaseTable::OldestOfAll(uint64_t worker_id, int64_t since_ns) const {
  size_t mine = worker_id % kWorkerSlots;
  for (size_t i = 0; i < kWorkerSlots; ++i) {
    if (i == mine) continue;
    auto other = static_cast<int64_t>(
        std::atomic_ref<uint64_t>(layout_->workers[i].oldest_ns).load(std::memory_order_relaxed));
    if (other != 0 && other < since_ns) return false;
  }
  return true;
}

}  // namespace valved
