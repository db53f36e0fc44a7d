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

  /// Stops accepting for good and closes this process's copy of the socket.
  /// The master keeps its copy, so connections still queued are not dropped:
  /// the next worker in this slot accepts them.
  void StopAccepting();
  bool accepting() const { return listener_ != nullptr; }

 private:
  static void OnAccept(evconnlistener*, evutil_socket_t fd, sockaddr* address, int length,
                       void* arg);
  static void OnError(evconnlistener*, void* arg);
  static void OnResume(evutil_socket_t, short, void* arg);

  AcceptHandler on_accept_;
  EventPtr resume_;
  EvconnlistenerPtr listener_;
};

}  // namespace valved::worker
