#include "worker/listener.h"

#include <cerrno>
#include <stdexcept>

#include "common/log.h"

namespace valved::worker {
namespace {

// After an accept error such as EMFILE the queued connection stays queued and
// would wake the loop again at once; pausing briefly avoids a busy loop.
constexpr timeval kPauseAfterError = {0, 100 * 1000};
// Bounds the accepts when stopping, in case clients keep arriving on a socket
// that other workers share (they take the rest).
constexpr int kMaxAcceptedWhenStopping = 1024;

}  // namespace

Listener::Listener(event_base* base, UniqueFd listen_fd, AcceptHandler on_accept)
    : on_accept_(std::move(on_accept)), resume_(evtimer_new(base, OnResume, this)) {
  evutil_make_socket_nonblocking(listen_fd.get());
  // Backlog 0: the socket is already listening; libevent must not call listen().
  listener_.reset(evconnlistener_new(
      base, OnAccept, this, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, 0, listen_fd.get()));
  if (!listener_) throw std::runtime_error("evconnlistener_new() failed on the listening socket");
  listen_fd.release();
  evconnlistener_set_error_cb(listener_.get(), OnError);
}

void Listener::StopAccepting() {
  if (!listener_) return;
  evtimer_del(resume_.get());
  int taken = AcceptQueued();
  if (taken > 0) Log(LogLevel::kInfo) << "took " << taken << " queued connection(s) before closing";
  listener_.reset();
}

// Returns how many connections were taken.
int Listener::AcceptQueued() {
  evutil_socket_t listen_fd = evconnlistener_get_fd(listener_.get());
  int taken = 0;
  while (taken < kMaxAcceptedWhenStopping) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    int fd = ::accept4(listen_fd, reinterpret_cast<sockaddr*>(&address), &length,
                       SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      if (err == EINTR || err == ECONNABORTED) continue;  // the next one may be fine
      if (err != EAGAIN && err != EWOULDBLOCK)
        Log(LogLevel::kError) << "accept() of a queued connection failed (" << ErrnoString(err)
                              << ")";
      return taken;
    }
    ++taken;
    Deliver(fd, reinterpret_cast<sockaddr*>(&address), static_cast<int>(length));
  }
  return taken;
}

void Listener::Deliver(evutil_socket_t fd, sockaddr* address, int length) {
  UniqueFd client(fd);
  try {
    on_accept_(std::move(client), address, length);
  } catch (const std::exception& e) {
    Log(LogLevel::kError) << "cannot serve a new connection: " << e.what() << "; closing it";
  }
}

void Listener::OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr* address, int length,
                        void* arg) {
  static_cast<Listener*>(arg)->Deliver(fd, address, length);
}

void Listener::OnError(evconnlistener*, void* arg) {
  auto* self = static_cast<Listener*>(arg);
  int err = EVUTIL_SOCKET_ERROR();
  Log(LogLevel::kError) << "accept() failed (" << ErrnoString(err) << "); pausing 100ms";
  evconnlistener_disable(self->listener_.get());
  evtimer_add(self->resume_.get(), &kPauseAfterError);
}

void Listener::OnResume(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Listener*>(arg);
  if (self->listener_) evconnlistener_enable(self->listener_.get());
}

}  // namespace valved::worker
