#include "common/graveyard.h"

namespace valved {

Graveyard::Graveyard(event_base* base) : sweep_(evtimer_new(base, OnSweep, this)) {}

void Graveyard::Add(std::unique_ptr<GraveBase> grave) {
  graves_.push_back(std::move(grave));
  event_active(sweep_.get(), EV_TIMEOUT, 0);
}

void Graveyard::OnSweep(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Graveyard*>(arg);
  // Destructors may bury more; those wait for the next sweep.
  std::vector<std::unique_ptr<GraveBase>> graves = std::move(self->graves_);
  self->graves_.clear();
  graves.clear();
}

}  // namespace valved
