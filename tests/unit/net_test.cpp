// Sockets on loopback and in a temporary directory: listening with
// SO_REUSEPORT, the port-in-use check, Unix connects and the socket probe.
#include "common/net.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

#include "common/log.h"
#include "common/socket_paths.h"
#include "tests/unit/temp_dir.h"

namespace valved {
namespace {

using testing::TempDir;

int PortOf(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

UniqueFd ListenUnix(const std::string& path) {
  UniqueFd fd(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == -1 ||
      listen(fd.get(), 4) == -1)
    return UniqueFd();
  return fd;
}

TEST(HostPort, BracketsIPv6) {
  EXPECT_EQ(HostPort("127.0.0.1", 3000), "127.0.0.1:3000");
  EXPECT_EQ(HostPort("::1", 3000), "[::1]:3000");
}

TEST(ListenReusePort, SeveralSocketsShareAPortThatIsThenInUse) {
  UniqueFd first = ListenReusePort("127.0.0.1", 0);
  ASSERT_TRUE(first.valid());
  int port = PortOf(first.get());
  UniqueFd second = ListenReusePort("127.0.0.1", port);
  EXPECT_TRUE(second.valid());
  EXPECT_TRUE(SteerReusePort(first.get(), 1)) << ErrnoString(errno);
  try {
    CheckPortFree("127.0.0.1", port);
    FAIL() << "a port in use passed as free";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("cannot listen on 127.0.0.1:" + std::to_string(port)),
              std::string::npos)
        << e.what();
  }
}

TEST(ListenReusePort, AnUnknownHostIsAnError) {
  EXPECT_THROW(ListenReusePort("no-such-host.invalid", 0), std::runtime_error);
}

TEST(ConnectUnix, ConnectsToAListenerAndSaysWhyNot) {
  TempDir dir;
  std::string path = dir.path() + "/s.sock";
  UniqueFd fd;
  EXPECT_EQ(ConnectUnix(path, &fd), ENOENT);
  EXPECT_FALSE(fd.valid());
  EXPECT_FALSE(UnixSocketAccepts(path));
  UniqueFd listener = ListenUnix(path);
  ASSERT_TRUE(listener.valid());
  EXPECT_EQ(ConnectUnix(path, &fd), 0);
  EXPECT_TRUE(fd.valid());
  EXPECT_TRUE(UnixSocketAccepts(path));
  listener.reset();
  EXPECT_FALSE(UnixSocketAccepts(path)) << "a socket file nobody listens on";
}

TEST(ConnectUnix, APathLongerThanSunPath) {
  UniqueFd fd;
  EXPECT_EQ(ConnectUnix("/" + std::string(kMaxSocketPathLength, 'x'), &fd), ENAMETOOLONG);
  EXPECT_FALSE(fd.valid());
}

}  // namespace
}  // namespace valved
