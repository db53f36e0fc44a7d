// What a test's end of a socketpair can read now, without waiting.
#pragma once

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cerrno>
#include <string>

namespace valved::testing {

inline std::string ReadNow(int fd) {
  char buf[4096];
  ssize_t n = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  if (n < 0) {
    EXPECT_TRUE(errno == EAGAIN || errno == EWOULDBLOCK) << "recv: errno " << errno;
    return "";
  }
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace valved::testing
