#include "common/socket_read.h"

#include <event2/bufferevent_struct.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>

namespace valved {
namespace {

// What libevent's bufferevent_readcb() does, with ReadInto() for its read.
void OnReadable(evutil_socket_t fd, short what, void* arg) {
  auto* bev = static_cast<bufferevent*>(arg);
  if (what == EV_TIMEOUT) {  // EV_TIMEOUT|EV_READ: data came, the timeout is moot
    bufferevent_disable(bev, EV_READ);
    bufferevent_trigger_event(bev, BEV_EVENT_READING | BEV_EVENT_TIMEOUT, 0);
    return;
  }
  evbuffer* in = bufferevent_get_input(bev);
  size_t wanted =
      static_cast<size_t>(std::max<ev_ssize_t>(bufferevent_get_max_single_read(bev), 1));
  size_t high = 0;
  bufferevent_getwatermark(bev, EV_READ, nullptr, &high);
  if (high != 0) {
    size_t held = evbuffer_get_length(in);
    // Reading is suspended at the high watermark (the input buffer's
    // watermark callback) before this can run again.
    if (held >= high) return;
    wanted = std::min(wanted, high - held);
  }
  // A socket bufferevent keeps the end of its input frozen outside its own
  // reads; it is opened for this one only.
  evbuffer_unfreeze(in, 0);
  ssize_t got = ReadInto(in, static_cast<int>(fd), wanted);
  int error = errno;
  evbuffer_freeze(in, 0);
  if (got > 0) {
    bufferevent_trigger(bev, EV_READ, 0);  // the read callback, as libevent calls it
    return;
  }
  if (got < 0 && (error == EAGAIN || error == EWOULDBLOCK || error == EINTR)) return;
  bufferevent_disable(bev, EV_READ);
  bufferevent_trigger_event(bev, BEV_EVENT_READING | (got == 0 ? BEV_EVENT_EOF : BEV_EVENT_ERROR),
                            0);
}

}  // namespace

void ReadWithoutSizing(bufferevent* bev) {
  event* ev = &bev->ev_read;
  int priority = event_get_priority(ev);
  evutil_socket_t fd = event_get_fd(ev);
  event_del(ev);
  event_assign(ev, bufferevent_get_base(bev), fd, EV_READ | EV_PERSIST | EV_FINALIZE, OnReadable,
               bev);
  event_priority_set(ev, priority);
  // Re-adds the event (with the read timeout) if reading was enabled.
  if (fd >= 0 && (bufferevent_get_enabled(bev) & EV_READ)) bufferevent_enable(bev, EV_READ);
}

ssize_t ReadInto(evbuffer* in, int fd, size_t wanted) {
  evbuffer_iovec space[2];
  int pieces = evbuffer_reserve_space(in, static_cast<ev_ssize_t>(wanted), space, 2);
  if (pieces <= 0) {
    errno = ENOMEM;
    return -1;
  }
  // The space reserved may be larger than asked for: read no more.
  size_t room = 0;
  for (int i = 0; i < pieces; ++i) {
    space[i].iov_len = std::min(space[i].iov_len, wanted - room);
    room += space[i].iov_len;
  }
  // evbuffer_iovec has struct iovec's layout on POSIX systems (event2/buffer.h).
  ssize_t got = ::readv(fd, reinterpret_cast<iovec*>(space), pieces);
  if (got <= 0) {
    int error = errno;
    evbuffer_commit_space(in, space, 0);
    errno = error;
    return got;
  }
  size_t left = static_cast<size_t>(got);
  int used = 0;
  for (; used < pieces && left > 0; ++used) {
    space[used].iov_len = std::min(space[used].iov_len, left);
    left -= space[used].iov_len;
  }
  evbuffer_commit_space(in, space, used);
  return got;
}

}  // namespace valved
