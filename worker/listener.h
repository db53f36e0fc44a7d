// Accepts client connections on the listening socket the master opened for
// this worker's slot (SO_REUSEPORT, already bound and listening).
#pragma once

#include <sys/socket.h>

#include <functional>

#include "common/event_ptr.h"
#include "common/unique_fd.h"

namespace valved::worker {

class Listener {
 public:
  /// `fd` is the accepted socket (non-blocking, close-on-exec).
  using AcceptHandler = std::function<void(UniqueFd fd, const sockaddr* address, int length)>;

  /// Takes `listen_fd` and starts accepting.
  Listener(event_base* base, UniqueFd listen_fd, AcceptHandler on_accept);
  Listener(const Listener&) = delete;
  Listener& operator=(const Listener&) = delete;

  /// Stops accepting for good: first takes the connections the kernel has
  /// already completed (they are handed to the accept handler like any other),
  /// then closes this process's copy of the socket. Taking them matters when
  /// this copy is the last one (TTOU: the master dropped the slot), where the
  /// close would reset them; when the master keeps the socket for a new
  /// worker, later arrivals stay queued for that worker.
  void StopAccepting();
  bool accepting() const { return listener_ != nullptr; }

 private:
  static void OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr* address, int length,
                       void* arg);
  static void OnError(evconnlistener*, void* arg);
  static void OnResume(evutil_socket_t, short, void* arg);
  int AcceptQueued();
  void Deliver(evutil_socket_t fd, sockaddr* address, int length);

  AcceptHandler on_accept_;
  EventPtr resume_;
  EvconnlistenerPtr listener_;
};

}  // namespace valved::worker
