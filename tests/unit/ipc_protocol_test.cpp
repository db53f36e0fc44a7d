#include "common/ipc_protocol.h"

#include <gtest/gtest.h>

namespace valved::ipc {
namespace {

TEST(IpcProtocol, EveryMessageRoundTrips) {
  std::vector<Message> messages = {Hello{1, 2, 4131},
                                   Welcome{1},
                                   Acquire{1873},
                                   Acquire{1875, 2400},
                                   Handed{5, 17, 9},
                                   Flush{},
                                   Grant{1873, 5, "/run/valved x/child-5.sock"},
                                   Deny{1874, DenyReason::kQueueTimeout},
                                   Release{1873, 5, Outcome::kTimedOut},
                                   Cancel{9},
                                   Transfer{9, 12, 5},
                                   Quit{},
                                   Terminate{},
                                   Reopen{}};
  for (const Message& m : messages) {
    std::string line = FormatMessage(m);
    std::string error;
    auto parsed = ParseMessage(line, &error);
    ASSERT_TRUE(parsed) << line << ": " << error;
    EXPECT_EQ(FormatMessage(*parsed), line);
    EXPECT_EQ(parsed->index(), m.index()) << line;
  }
}

TEST(IpcProtocol, GrantKeepsSpacesInSocketPath) {
  auto m = ParseMessage("GRANT 1 2 /tmp/a b/c.sock", nullptr);
  ASSERT_TRUE(m);
  EXPECT_EQ(std::get<Grant>(*m).socket_path, "/tmp/a b/c.sock");
}

TEST(IpcProtocol, RejectsMalformedLines) {
  const char* bad[] = {"",
                       "ACQUIRE",
                       "ACQUIRE x",
                       "ACQUIRE 1 2 3",
                       "HANDED 1 2",
                       "FLUSH 1",
                       "ACQUIRE -1",
                       "ACQUIRE 99999999999999999999999",
                       "acquire 1",
                       "RELEASE 1 2 fine",
                       "RELEASE 1 2 ok extra",
                       "DENY 1 because",
                       "QUIT now",
                       "GRANT 1 x /p",
                       "HELLO 1 2",
                       "TRANSFER 1 2",
                       "TRANSFER 1 2 x",
                       "BOGUS 1"};
  for (const char* line : bad) {
    std::string error;
    EXPECT_FALSE(ParseMessage(line, &error)) << line;
    EXPECT_FALSE(error.empty()) << line;
  }
  EXPECT_FALSE(ParseMessage("ACQUIRE " + std::string(kMaxLineLength, '1'), nullptr));
}

}  // namespace
}  // namespace valved::ipc
