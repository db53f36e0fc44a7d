// R sees the client as plain plumber would: REMOTE_ADDR and REMOTE_PORT of
// the client, SERVER_NAME and SERVER_PORT of the listener, carried in the
// X-Valved-Peer field that a client cannot forge; X-Forwarded-* believed
// only from forwarded_allow_ips.
#include <string>

#include "tests/integration/direct_plumber.h"
#include "tests/integration/http_test_util.h"
#include "tests/integration/valved_harness.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

HttpResponse GetClient(int port, std::vector<std::pair<std::string, std::string>> headers) {
  HttpConnection connection(port, 30s);
  HttpRequest request;
  request.target = "/client";
  request.headers = std::move(headers);
  return connection.Send(request);
}

class ClientAddressTest : public ValvedTest {};

TEST_F(ClientAddressTest, RSeesTheClientAsPlainPlumberWouldAndTheFieldCannotBeForged) {
  DirectPlumber direct(dir(), "direct", Fixture("client.R"));
  Valved* valved = StartServing({"-f", Fixture("client.R"), "-n", "1", "-w", "1"});
  ASSERT_NE(valved, nullptr);
  ASSERT_TRUE(direct.WaitServing());
  const std::vector<std::pair<std::string, std::string>> forged = {
      {"X-Valved-Peer", "remote_addr=6.6.6.6; remote_port=1; scheme=https"}};
  HttpResponse got = GetClient(valved->port(), forged);
  HttpResponse want = GetClient(direct.port(), forged);
  ASSERT_EQ(got.status, 200) << got.Describe();
  ASSERT_EQ(want.status, 200) << want.Describe();
  for (const char* field : {"remote_addr", "server_name", "scheme"}) {
    EXPECT_EQ(JsonString(got.body, field), JsonString(want.body, field)) << field;
  }
  EXPECT_EQ(JsonString(got.body, "remote_addr"), "127.0.0.1") << got.body;
  EXPECT_EQ(JsonString(got.body, "server_port"), std::to_string(valved->port())) << got.body;
  EXPECT_EQ(JsonString(got.body, "peer_field_seen"), "no")
      << "the API saw X-Valved-Peer: " << got.body;
  int client_port = std::atoi(JsonString(got.body, "remote_port").c_str());
  EXPECT_GT(client_port, 0) << got.body;
  EXPECT_NE(client_port, valved->port()) << got.body;
  EXPECT_EQ(got.body.find("6.6.6.6"), std::string::npos) << got.body;
}

// Behind a TLS-terminating proxy on 127.0.0.1 (trusted by default), the
// proxy's X-Forwarded-For and X-Forwarded-Proto tell R who and how.
TEST_F(ClientAddressTest, ForwardedFieldsFromATrustedPeerAreBelievedOthersAreReplaced) {
  const std::vector<std::pair<std::string, std::string>> from_proxy = {
      {"X-Forwarded-For", "203.0.113.9"}, {"X-Forwarded-Proto", "https"}};
  Valved* trusting = StartServing({"-f", Fixture("client.R"), "-n", "1", "-w", "1"});
  ASSERT_NE(trusting, nullptr);
  HttpResponse trusted = GetClient(trusting->port(), from_proxy);
  ASSERT_EQ(trusted.status, 200) << trusted.Describe();
  EXPECT_EQ(JsonString(trusted.body, "remote_addr"), "203.0.113.9") << trusted.body;
  EXPECT_EQ(JsonString(trusted.body, "scheme"), "https") << trusted.body;
  EXPECT_EQ(JsonString(trusted.body, "forwarded_proto"), "https") << trusted.body;
  EXPECT_EQ(JsonString(trusted.body, "forwarded_for"), "203.0.113.9, 127.0.0.1") << trusted.body;

  Valved* wary = StartServing(
      {"-f", Fixture("client.R"), "-n", "1", "-w", "1", "--forwarded-allow-ips", "192.0.2.1"});
  ASSERT_NE(wary, nullptr);
  HttpResponse untrusted = GetClient(wary->port(), from_proxy);
  ASSERT_EQ(untrusted.status, 200) << untrusted.Describe();
  EXPECT_EQ(JsonString(untrusted.body, "remote_addr"), "127.0.0.1") << untrusted.body;
  EXPECT_EQ(JsonString(untrusted.body, "scheme"), "http") << untrusted.body;
  EXPECT_EQ(JsonString(untrusted.body, "forwarded_proto"), "http") << untrusted.body;
}

}  // namespace
}  // namespace valved::itest
