#include "common/net.h"

#include <linux/filter.h>
#include <netdb.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <stdexcept>

#include "common/log.h"

namespace valved {
namespace {

struct AddrInfoDeleter {
  void operator()(addrinfo* ai) const { freeaddrinfo(ai); }
};

std::unique_ptr<addrinfo, AddrInfoDeleter> Resolve(const std::string& host, int port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE;
  addrinfo* result = nullptr;
  int rc = getaddrinfo(host.empty() ? nullptr : host.c_str(), std::to_string(port).c_str(), &hints,
                       &result);
  if (rc != 0) {
    throw std::runtime_error("cannot listen on " + HostPort(host, port) + ": " + gai_strerror(rc));
  }
  return std::unique_ptr<addrinfo, AddrInfoDeleter>(result);
}

[[noreturn]] void Fail(const std::string& host, int port, const char* call, int err) {
  throw std::runtime_error("cannot listen on " + HostPort(host, port) + ": " + call +
                           "() failed (" + ErrnoString(err) + ")");
}

UniqueFd Listen(const std::string& host, int port, bool reuse_port) {
  auto ai = Resolve(host, port);
  UniqueFd fd(socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) Fail(host, port, "socket", errno);
  int on = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  if (reuse_port && setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &on, sizeof on) == -1)
    Fail(host, port, "setsockopt(SO_REUSEPORT)", errno);
  if (bind(fd.get(), ai->ai_addr, ai->ai_addrlen) == -1) Fail(host, port, "bind", errno);
  if (listen(fd.get(), SOMAXCONN) == -1) Fail(host, port, "listen", errno);
  return fd;
}

}  // namespace

UniqueFd ListenReusePort(const std::string& host, int port) { return Listen(host, port, true); }

UniqueFd ListenExclusive(const std::string& host, int port) { return Listen(host, port, false); }

void CheckPortFree(const std::string& host, int port) {
  auto ai = Resolve(host, port);
  UniqueFd fd(socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) Fail(host, port, "socket", errno);
  int on = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  // Without SO_REUSEPORT, bind() fails if anything listens there already.
  if (bind(fd.get(), ai->ai_addr, ai->ai_addrlen) == -1) Fail(host, port, "bind", errno);
}

bool SteerReusePort(int fd, size_t first_n) {
  if (first_n == 0) return false;
  sock_filter code[] = {
      // A = a random number; A = A % first_n; return A (the socket's index).
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, static_cast<uint32_t>(SKF_AD_OFF + SKF_AD_RANDOM)),
      BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, static_cast<uint32_t>(first_n)),
      BPF_STMT(BPF_RET | BPF_A, 0),
  };
  sock_fprog program = {static_cast<unsigned short>(std::size(code)), code};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof program) == 0;
}

int ConnectUnix(const std::string& path, UniqueFd* fd) {
  sockaddr_un addr{};
  if (path.size() >= sizeof addr.sun_path) return ENAMETOOLONG;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  UniqueFd sock(socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!sock) return errno;
  int err = connect(sock.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 ? 0 : errno;
  if (err == 0 || err == EINPROGRESS) *fd = std::move(sock);
  return err;
}

bool UnixSocketAccepts(const std::string& path) {
  UniqueFd fd;
  int err = ConnectUnix(path, &fd);
  // EAGAIN: the backlog is full, so the listener is alive.
  return err == 0 || err == EAGAIN || err == EINPROGRESS;
}

pid_t UnixSocketOwner(const std::string& path) {
  UniqueFd fd;
  int err = ConnectUnix(path, &fd);
  if (err != 0 && err != EINPROGRESS) return -1;
  ucred cred{};
  socklen_t len = sizeof cred;
  if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) == -1 || cred.pid <= 0) return -1;
  return cred.pid;
}

std::string HostPort(const std::string& host, int port) {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

}  // namespace valved
