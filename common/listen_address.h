// Addresses written as one setting: "HOST:PORT", "[v6]:PORT" or "unix:PATH"
// (the status listener's status_listen), and the sockets that listen on or
// connect to them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/unique_fd.h"

namespace valved {

struct ListenAddress {
  std::string host;       ///< TCP host (brackets removed); empty for a Unix socket
  int port = 0;           ///< TCP port
  std::string unix_path;  ///< Unix socket path; empty for TCP
  bool is_unix() const { return !unix_path.empty(); }
  /// As written in the setting: "127.0.0.1:3001", "[::1]:3001", "unix:/run/valved/status.sock".
  std::string ToString() const;
  /// "http://127.0.0.1:3001" for TCP; the setting's text for a Unix socket.
  std::string Url() const;
};

/// Parses "HOST:PORT", "[V6]:PORT" (port 1..65535) or "unix:/ABSOLUTE/PATH"
/// (at most 107 bytes). On failure returns nullopt and sets *error to what
/// is wrong ("expected HOST:PORT or unix:PATH").
std::optional<ListenAddress> ParseListenAddress(std::string_view text, std::string* error);

/// A listening socket (non-blocking, CLOEXEC) on `address`. A Unix socket
/// file left by a previous run is replaced only when nothing listens on it.
/// Throws std::runtime_error: "cannot listen on unix:/x: bind() failed (...)".
UniqueFd ListenOn(const ListenAddress& address);

/// A blocking connected socket to `address` with send and receive timeouts
/// of `timeout_ms`; throws std::runtime_error naming the address.
UniqueFd ConnectTo(const ListenAddress& address, int timeout_ms);

}  // namespace valved
