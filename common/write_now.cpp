#include "common/write_now.h"

#include <utility>

namespace valved {

void ReadAndWriteNow(bufferevent* bev) {
  bufferevent_disable(bev, EV_WRITE);
  bufferevent_enable(bev, EV_READ);
}

bool WriteNow(bufferevent* bev) {
  evbuffer* out = bufferevent_get_output(bev);
  if (evbuffer_get_length(out) > 0) {
    // A socket bufferevent keeps the start of its output frozen outside its
    // own writes; it is opened for this one only.
    evbuffer_unfreeze(out, 1);
    evbuffer_write(out, bufferevent_getfd(bev));
    evbuffer_freeze(out, 1);
  }
  if (evbuffer_get_length(out) == 0) {
    bufferevent_disable(bev, EV_WRITE);  // a system call only if libevent was waiting
    return true;
  }
  bufferevent_enable(bev, EV_WRITE);
  return false;
}

void WriteDrained(bufferevent* bev) {
  if (evbuffer_get_length(bufferevent_get_output(bev)) == 0) bufferevent_disable(bev, EV_WRITE);
}

SoonCall::SoonCall(event_base* base, std::function<void()> callback)
    : base_(base), callback_(std::move(callback)), event_(event_new(base, -1, 0, OnActive, this)) {}

void SoonCall::Schedule() {
  if (scheduled_) return;
  scheduled_ = true;
  // Not an error where the base has a single priority: it stays 0.
  if (const event* running = event_base_get_running_event(base_))
    event_priority_set(event_.get(), event_get_priority(running));
  event_active(event_.get(), EV_TIMEOUT, 0);
}

void SoonCall::Cancel() {
  if (!std::exchange(scheduled_, false)) return;
  event_del(event_.get());
}

void SoonCall::OnActive(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<SoonCall*>(arg);
  self->scheduled_ = false;
  self->callback_();
}

}  // namespace valved
