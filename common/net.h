// Sockets: the listening sockets the master opens for its workers, and the
// probe that tells whether a child's Unix socket still accepts.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/unique_fd.h"

namespace valved {

/// Binds and listens on host:port with SO_REUSEPORT (non-blocking, CLOEXEC).
/// Throws std::runtime_error: "cannot listen on 0.0.0.0:80: bind() failed (13: ...)".
UniqueFd ListenReusePort(const std::string& host, int port);
/// The same without SO_REUSEPORT: for a socket that must be the only one on
/// its address (the status listener).
UniqueFd ListenExclusive(const std::string& host, int port);

/// Fails (throws, as above) when another socket already listens on host:port,
/// including another valved: SO_REUSEPORT would otherwise silently share the
/// port between two servers of the same user.
void CheckPortFree(const std::string& host, int port);

/// Sends new connections of `fd`'s SO_REUSEPORT group only to the group's
/// first `first_n` sockets (in the order they started listening), chosen at
/// random. Used before a worker slot (the last socket) is retired: closing a
/// socket resets the connections queued on it, so none may be queued there
/// when its worker drains and exits. Returns false (errno set) on failure.
bool SteerReusePort(int fd, size_t first_n);

/// Starts a non-blocking connect() to the Unix socket at `path`, into `*fd`.
/// Returns 0 when connected, else the errno: EINPROGRESS (still connecting;
/// *fd is kept), EAGAIN (the listener's backlog is full), ENAMETOOLONG (the
/// path does not fit sun_path), ECONNREFUSED, ENOENT...
int ConnectUnix(const std::string& path, UniqueFd* fd);

/// Whether a connect() to the Unix socket at `path` is accepted (or queued)
/// right now. Never blocks.
bool UnixSocketAccepts(const std::string& path);

/// The pid of the process listening on the Unix socket at `path` (the
/// peer's SO_PEERCRED of a connection to it), or -1. Never blocks.
pid_t UnixSocketOwner(const std::string& path);

/// "127.0.0.1:3000", or "[::1]:3000" for IPv6 hosts.
std::string HostPort(const std::string& host, int port);

}  // namespace valved
