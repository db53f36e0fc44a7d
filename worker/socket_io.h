// How much a worker moves per system call on its sockets.
//
// libevent 2.1 reads at most 4 KiB per evbuffer_read() (EVBUFFER_MAX_READ;
// evbuffer_set_max_read() only exists from 2.2), whatever
// bufferevent_set_max_single_read() says: a 1 MiB response from R cost 256
// wake-ups of the loop, each with an ioctl(FIONREAD), a readv() and two
// epoll_ctl() calls. ReadAvailable() lets a read callback take the rest of
// what is waiting in 64 KiB readv() calls instead.
#pragma once

#include <cstddef>

#include "common/event_ptr.h"

namespace valved::worker {

/// The most one readv() asks for.
inline constexpr size_t kMaxSingleIo = 64 * 1024;
/// The most ReadAvailable() takes per call (per wake-up of the loop).
inline constexpr size_t kMaxReadPerWakeup = 4 * kMaxSingleIo;

/// Lets libevent write up to 4 * kMaxSingleIo per writev() or sendfile().
void UseLargeIo(bufferevent* bev);

/// The most libevent 2.1's own read of a bufferevent takes (EVBUFFER_MAX_READ).
inline constexpr size_t kLibeventMaxRead = 4096;

/// From a read callback, after libevent's own read: reads what `bev`'s
/// socket still holds, up to `limit` bytes, into its input buffer, in
/// kMaxSingleIo pieces. Nothing when the input holds less than
/// kLibeventMaxRead (libevent found no more waiting). Stops at EAGAIN, an EOF or an error and
/// leaves those to libevent's next read, which reports them as usual.
/// Returns the bytes read.
size_t ReadAvailable(bufferevent* bev, size_t limit = kMaxReadPerWakeup);

}  // namespace valved::worker
