#include "worker/listener.h"

#include <cerrno>
#include <stdexcept>

#include "common/log.h"

namespace valved::worker {
namespace {

// After an accept error such as EMFILE the queued connection stays queued and
// would wake the loop again at once; pausing briefly avoids a busy loop.
constexpr timeval kPauseAfterError = {0, 100 * 1000};

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
  evtimer_del(resume_.get());
  listener_.reset();
}

void Listener::OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr* address, int length,
                        void* arg) {
  UniqueFd client(fd);
  try {
    static_cast<Listener*>(arg)->on_accept_(std::move(client), address, length);
  } catch (const std::exception& e) {
    Log(LogLevel::kError) << "cannot serve a new connection: " << e.what() << "; closing it";
  }
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
