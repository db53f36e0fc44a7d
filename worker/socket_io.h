// How much a worker moves per system call on its sockets.
//
// libevent 2.1 reads at most 4 KiB per evbuffer_read() (EVBUFFER_MAX_READ;
// evbuffer_set_max_read() only exists from 2.2), whatever
// bufferevent_set_max_single_read() says, each after an ioctl(FIONREAD): a
// 1 MiB response from R cost 256 wake-ups of the loop, each with an ioctl, a
// readv() and two epoll_ctl() calls. UseLargeIo() makes a bufferevent read
// kMaxSingleIo per readv() without the ioctl (common/socket_read.h), and
// ReadAvailable() lets a read callback take the rest of what is waiting.
#pragma once

#include <cstddef>

#include "common/event_ptr.h"

namespace valved::worker {

/// The most one readv() asks for.
inline constexpr size_t kMaxSingleIo = 64 * 1024;
/// The most ReadAvailable() takes per call (per wake-up of the loop).
inline constexpr size_t kMaxReadPerWakeup = 4 * kMaxSingleIo;

/// Reads of kMaxSingleIo without read sizing (ReadWithoutSizing()), and
/// writes of up to 4 * kMaxSingleIo per writev() or sendfile(). Call after
/// bufferevent_socket_connect(), which restores libevent's reads.
void UseLargeIo(bufferevent* bev);

/// From a read callback: reads what `bev`'s socket still holds, up to
/// `limit` bytes, into its input buffer, in kMaxSingleIo pieces. Nothing
/// when the input holds less than kMaxSingleIo (the callback's own read took
/// less than it asked for: the socket was empty). Stops at EAGAIN, an EOF or
/// an error and leaves those to the next read event, which reports them as
/// usual. Returns the bytes read.
size_t ReadAvailable(bufferevent* bev, size_t limit = kMaxReadPerWakeup);

}  // namespace valved::worker
