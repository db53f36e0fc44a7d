// Reading a socket bufferevent without libevent's read sizing.
//
// libevent 2.1's own read of a socket bufferevent (evbuffer_read()) first
// asks the kernel how much is waiting, with an ioctl(FIONREAD), then reads
// at most that much and at most 4 KiB: two system calls where one readv()
// into space reserved in the input buffer does the same. On the worker's
// /echo path that was two ioctl calls per request, and one per wake-up of
// the master.
//
// ReadWithoutSizing() gives a socket bufferevent a read event of our own on
// the same struct event that libevent enables and disables (struct
// bufferevent's ev_read, event2/bufferevent_struct.h), so
// bufferevent_enable(), bufferevent_disable(), read watermarks and read
// timeouts work as before; its callback reads up to the bufferevent's
// max_single_read (or up to the high watermark) in one readv() and reports
// data, EOF, errors and timeouts as libevent's bufferevent_readcb() does.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "common/event_ptr.h"

namespace valved {

/// Replaces `bev`'s read callback (a socket bufferevent). Call again after
/// anything that resets its fd (bufferevent_setfd(),
/// bufferevent_socket_connect()): those restore libevent's.
void ReadWithoutSizing(bufferevent* bev);

/// One readv() of at most `wanted` (> 0) bytes from `fd` into the end of `in`.
/// Returns what readv() returned (errno set when negative).
ssize_t ReadInto(evbuffer* in, int fd, size_t wanted);

}  // namespace valved
