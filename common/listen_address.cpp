#include "common/listen_address.h"

#include <netdb.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "common/log.h"
#include "common/net.h"

namespace valved {
namespace {

constexpr std::string_view kUnixPrefix = "unix:";

[[noreturn]] void Fail(const ListenAddress& address, const char* what, const char* call, int err) {
  throw std::runtime_error(std::string("cannot ") + what + " " + address.ToString() + ": " + call +
                           "() failed (" + ErrnoString(err) + ")");
}

sockaddr_un UnixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), std::min(path.size() + 1, sizeof addr.sun_path - 1));
  return addr;
}

std::optional<ListenAddress> ParseUnix(std::string_view path, std::string* error) {
  if (path.empty() || path.front() != '/') {
    *error = "a Unix socket needs an absolute path: unix:/PATH";
    return std::nullopt;
  }
  if (path.size() >= sizeof(sockaddr_un::sun_path)) {
    *error = "a Unix socket path may have at most 107 bytes";
    return std::nullopt;
  }
  ListenAddress address;
  address.unix_path = std::string(path);
  return address;
}

UniqueFd ListenUnix(const ListenAddress& address) {
  // A file left behind by a valved that was killed: remove it, but never the
  // socket of a server that still answers.
  if (UnixSocketAccepts(address.unix_path)) Fail(address, "listen on", "bind", EADDRINUSE);
  ::unlink(address.unix_path.c_str());
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) Fail(address, "listen on", "socket", errno);
  sockaddr_un addr = UnixAddress(address.unix_path);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == -1)
    Fail(address, "listen on", "bind", errno);
  if (listen(fd.get(), SOMAXCONN) == -1) Fail(address, "listen on", "listen", errno);
  return fd;
}

void SetTimeouts(int fd, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

}  // namespace

std::string ListenAddress::ToString() const {
  return is_unix() ? std::string(kUnixPrefix) + unix_path : HostPort(host, port);
}

std::string ListenAddress::Url() const { return is_unix() ? ToString() : "http://" + ToString(); }

std::optional<ListenAddress> ParseListenAddress(std::string_view text, std::string* error) {
  if (text.substr(0, kUnixPrefix.size()) == kUnixPrefix)
    return ParseUnix(text.substr(kUnixPrefix.size()), error);
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    *error = "expected HOST:PORT or unix:PATH";
    return std::nullopt;
  }
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.front() == '[') {
    if (host.size() < 3 || host.back() != ']') {
      *error = "an IPv6 address is written in brackets: [::1]:PORT";
      return std::nullopt;
    }
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    *error = "an IPv6 address is written in brackets: [::1]:PORT";
    return std::nullopt;
  }
  int port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 || port > 65535) {
    *error = "expected a port from 1 to 65535 after the colon";
    return std::nullopt;
  }
  ListenAddress address;
  address.host = std::string(host);
  address.port = port;
  return address;
}

UniqueFd ListenOn(const ListenAddress& address) {
  return address.is_unix() ? ListenUnix(address) : ListenExclusive(address.host, address.port);
}

UniqueFd ConnectTo(const ListenAddress& address, int timeout_ms) {
  if (address.is_unix()) {
    UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!fd) Fail(address, "connect to", "socket", errno);
    SetTimeouts(fd.get(), timeout_ms);
    sockaddr_un addr = UnixAddress(address.unix_path);
    if (connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == -1)
      Fail(address, "connect to", "connect", errno);
    return fd;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* ai = nullptr;
  int rc = getaddrinfo(address.host.c_str(), std::to_string(address.port).c_str(), &hints, &ai);
  if (rc != 0)
    throw std::runtime_error("cannot connect to " + address.ToString() + ": " + gai_strerror(rc));
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> owner(ai, freeaddrinfo);
  UniqueFd fd(socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) Fail(address, "connect to", "socket", errno);
  SetTimeouts(fd.get(), timeout_ms);
  if (connect(fd.get(), ai->ai_addr, ai->ai_addrlen) == -1)
    Fail(address, "connect to", "connect", errno);
  return fd;
}

}  // namespace valved
