#include "common/trusted_proxies.h"

#include <gtest/gtest.h>

namespace valved {
namespace {

TEST(TrustedProxies, ListsAreAddressesOrStar) {
  EXPECT_EQ(CheckTrustedProxies("127.0.0.1"), "");
  EXPECT_EQ(CheckTrustedProxies("127.0.0.1, ::1,10.0.0.2"), "");
  EXPECT_EQ(CheckTrustedProxies("*"), "");
  EXPECT_EQ(CheckTrustedProxies(""), "");
  EXPECT_EQ(CheckTrustedProxies("127.0.0.1, proxy.local"),
            "\"proxy.local\" is not an IP address (a comma-separated list of addresses, or * for "
            "all)");
}

TEST(TrustedProxies, AddressesCompareAsAddresses) {
  EXPECT_TRUE(IsTrustedProxy("127.0.0.1", "127.0.0.1"));
  EXPECT_TRUE(IsTrustedProxy("127.0.0.1", "::ffff:127.0.0.1"));
  EXPECT_TRUE(IsTrustedProxy("10.0.0.1, 0:0:0:0:0:0:0:1", "::1"));
  EXPECT_FALSE(IsTrustedProxy("127.0.0.1", "127.0.0.2"));
  EXPECT_FALSE(IsTrustedProxy("", "127.0.0.1"));
  EXPECT_TRUE(IsTrustedProxy("*", "192.0.2.1"));
  EXPECT_FALSE(IsTrustedProxy("127.0.0.1", "unknown"));
}

}  // namespace
}  // namespace valved
