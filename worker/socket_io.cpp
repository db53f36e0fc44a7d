#include "worker/socket_io.h"

#include <sys/uio.h>

#include <algorithm>

namespace valved::worker {

void UseLargeIo(bufferevent* bev) {
  bufferevent_set_max_single_read(bev, kMaxSingleIo);
  bufferevent_set_max_single_write(bev, kMaxSingleIo * 4);
}

size_t ReadAvailable(bufferevent* bev, size_t limit) {
  evbuffer* in = bufferevent_get_input(bev);
  // Less than libevent reads at most: its read found the socket emptier
  // than that and took it all, so another readv() would only meet EAGAIN.
  if (evbuffer_get_length(in) < kLibeventMaxRead) return 0;
  int fd = bufferevent_getfd(bev);
  // A socket bufferevent keeps the end of its input frozen outside its own
  // reads; it is opened for these reads only.
  evbuffer_unfreeze(in, 0);
  size_t total = 0;
  while (total < limit) {
    size_t wanted = std::min(kMaxSingleIo, limit - total);
    evbuffer_iovec space[2];
    int pieces = evbuffer_reserve_space(in, static_cast<ev_ssize_t>(wanted), space, 2);
    if (pieces <= 0) break;
    size_t room = 0;
    for (int i = 0; i < pieces; ++i) room += space[i].iov_len;
    // evbuffer_iovec has struct iovec's layout on POSIX systems (event2/buffer.h).
    ssize_t got = ::readv(fd, reinterpret_cast<iovec*>(space), pieces);
    if (got <= 0) {
      evbuffer_commit_space(in, space, 0);
      break;
    }
    size_t left = static_cast<size_t>(got);
    int used = 0;
    for (; used < pieces && left > 0; ++used) {
      space[used].iov_len = std::min(space[used].iov_len, left);
      left -= space[used].iov_len;
    }
    evbuffer_commit_space(in, space, used);
    total += static_cast<size_t>(got);
    if (static_cast<size_t>(got) < room) break;  // the socket is empty
  }
  evbuffer_freeze(in, 0);
  return total;
}

}  // namespace valved::worker
