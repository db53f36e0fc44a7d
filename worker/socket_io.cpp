#include "worker/socket_io.h"

#include <algorithm>

#include "common/socket_read.h"

namespace valved::worker {

void UseLargeIo(bufferevent* bev) {
  bufferevent_set_max_single_read(bev, kMaxSingleIo);
  bufferevent_set_max_single_write(bev, kMaxSingleIo * 4);
  ReadWithoutSizing(bev);
}

size_t ReadAvailable(bufferevent* bev, size_t limit) {
  evbuffer* in = bufferevent_get_input(bev);
  // Less than one read asks for: the read event's read found the socket
  // emptier than that and took it all, so another readv() would only meet
  // EAGAIN.
  if (evbuffer_get_length(in) < kMaxSingleIo) return 0;
  int fd = bufferevent_getfd(bev);
  // A socket bufferevent keeps the end of its input frozen outside its own
  // reads; it is opened for these reads only.
  evbuffer_unfreeze(in, 0);
  size_t total = 0;
  while (total < limit) {
    size_t wanted = std::min(kMaxSingleIo, limit - total);
    ssize_t got = ReadInto(in, fd, wanted);
    if (got <= 0) break;
    total += static_cast<size_t>(got);
    if (static_cast<size_t>(got) < wanted) break;  // the socket is empty
  }
  evbuffer_freeze(in, 0);
  return total;
}

}  // namespace valved::worker
