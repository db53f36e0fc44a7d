// status_listen and status_allow values.
#include "common/listen_address.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "common/address_filter.h"

namespace valved {
namespace {

TEST(ListenAddress, ParsesTcpAndUnix) {
  std::string error;
  auto tcp = ParseListenAddress("127.0.0.1:3001", &error);
  ASSERT_TRUE(tcp) << error;
  EXPECT_EQ(tcp->host, "127.0.0.1");
  EXPECT_EQ(tcp->port, 3001);
  EXPECT_EQ(tcp->Url(), "http://127.0.0.1:3001");
  auto v6 = ParseListenAddress("[::1]:9", &error);
  ASSERT_TRUE(v6) << error;
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->ToString(), "[::1]:9");
  auto unix_socket = ParseListenAddress("unix:/run/valved/status.sock", &error);
  ASSERT_TRUE(unix_socket) << error;
  EXPECT_TRUE(unix_socket->is_unix());
  EXPECT_EQ(unix_socket->ToString(), "unix:/run/valved/status.sock");
}

TEST(ListenAddress, RejectsWhatCannotBeListenedOn) {
  std::string error;
  EXPECT_FALSE(ParseListenAddress("3001", &error));
  EXPECT_EQ(error, "expected HOST:PORT or unix:PATH");
  EXPECT_FALSE(ParseListenAddress("::1:3001", &error));
  EXPECT_FALSE(ParseListenAddress("[::1:3001", &error));
  EXPECT_FALSE(ParseListenAddress("host:0", &error));
  EXPECT_FALSE(ParseListenAddress("host:x", &error));
  EXPECT_FALSE(ParseListenAddress("unix:relative.sock", &error));
  EXPECT_FALSE(ParseListenAddress("unix:/" + std::string(200, 'x'), &error));
}

sockaddr_in V4(const char* text) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  inet_pton(AF_INET, text, &a.sin_addr);
  return a;
}

sockaddr_in6 V6(const char* text) {
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  inet_pton(AF_INET6, text, &a.sin6_addr);
  return a;
}

bool Allows(const AddressFilter& f, const auto& address) {
  return f.Allows(reinterpret_cast<const sockaddr*>(&address));
}

TEST(AddressFilter, MatchesNetworksOfBothFamilies) {
  std::string error;
  auto f = AddressFilter::Parse("127.0.0.0/8, ::1 10.1.0.0/17", &error);
  ASSERT_TRUE(f) << error;
  EXPECT_TRUE(Allows(*f, V4("127.3.4.5")));
  EXPECT_TRUE(Allows(*f, V4("10.1.127.255")));
  EXPECT_FALSE(Allows(*f, V4("10.1.128.0")));
  EXPECT_FALSE(Allows(*f, V4("192.0.2.1")));
  EXPECT_TRUE(Allows(*f, V6("::1")));
  EXPECT_FALSE(Allows(*f, V6("::2")));
  EXPECT_TRUE(Allows(*f, V6("::ffff:127.0.0.1")));  // IPv4-mapped
  sockaddr_un local{};
  local.sun_family = AF_UNIX;
  EXPECT_TRUE(Allows(*f, local));
}

TEST(AddressFilter, EmptyAllowsEveryoneAndBadEntriesAreNamed) {
  std::string error;
  auto everyone = AddressFilter::Parse(" ", &error);
  ASSERT_TRUE(everyone);
  EXPECT_TRUE(everyone->allows_everyone());
  EXPECT_TRUE(Allows(*everyone, V4("192.0.2.1")));
  EXPECT_FALSE(AddressFilter::Parse("10.0.0.0/33", &error));
  EXPECT_EQ(error, "\"10.0.0.0/33\" has a bad prefix length");
  EXPECT_FALSE(AddressFilter::Parse("localhost", &error));
  EXPECT_EQ(error, "\"localhost\" is not an IP address or a network (10.0.0.0/8)");
}

}  // namespace
}  // namespace valved
