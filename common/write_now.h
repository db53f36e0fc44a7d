// Writing a bufferevent's output in the callback that queued it, instead of
// on a later turn of the event loop.
//
// libevent writes a socket bufferevent's output when the socket is reported
// writable: queuing bytes adds the write event (an epoll_ctl), the next
// epoll_wait reports it, the bytes go out, and the event is deleted again
// (another epoll_ctl). A socket with room takes the bytes at once, so that
// round costs two system calls and a wake-up per message for nothing.
//
// Principle: EV_WRITE stays disabled on such a bufferevent while its output
// is empty. WriteNow() writes the output directly; only what the socket
// cannot take now is left to libevent, with EV_WRITE enabled, and the owner's
// write callback (the output drained) disables it again. A write error is
// left to libevent too: its own write meets it again and reports it as usual.
#pragma once

#include <functional>

#include "common/event_ptr.h"

namespace valved {

/// Enables reading on `bev` and disables EV_WRITE, which a new bufferevent
/// has enabled: from then on WriteNow() writes its output.
void ReadAndWriteNow(bufferevent* bev);

/// Writes what `bev`'s output holds (one writev() or sendfile()), even when
/// libevent is waiting for room: the socket may have some by now. True when
/// the output is empty afterwards (EV_WRITE disabled: the owner's write
/// callback will not run, and the owner does what it would do); otherwise
/// EV_WRITE is enabled.
bool WriteNow(bufferevent* bev);

/// Call from a bufferevent's write callback (its output drained): disables
/// EV_WRITE (libevent has deleted the event already: no system call).
void WriteDrained(bufferevent* bev);

/// Runs a callback once, later in the current turn of the event loop, after
/// the running callback returns: lets several writes of one callback (a
/// response head, its body, a last chunk) leave in one WriteNow(). It runs at
/// the priority of the event running when it was scheduled, since libevent
/// turns to lower priorities only after the next epoll_wait().
class SoonCall {
 public:
  SoonCall(event_base* base, std::function<void()> callback);
  SoonCall(const SoonCall&) = delete;
  SoonCall& operator=(const SoonCall&) = delete;

  /// Schedules the callback unless it is scheduled already. Only from a
  /// callback of the base's loop (event_base_get_running_event() is
  /// undefined elsewhere): in a worker, everything runs in one.
  void Schedule();
  /// Forgets a scheduled call.
  void Cancel();

 private:
  static void OnActive(evutil_socket_t, short, void* arg);

  event_base* base_;
  std::function<void()> callback_;
  bool scheduled_ = false;
  EventPtr event_;
};

}  // namespace valved
