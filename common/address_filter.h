// The client networks allowed on the status listener (status_allow): a list
// of addresses and CIDR networks, IPv4 or IPv6, separated by commas or spaces.
#pragma once

#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace valved {

class AddressFilter {
 public:
  /// Parses "127.0.0.0/8, ::1, 10.1.2.3". An empty text allows everyone.
  /// On a bad entry returns nullopt and sets *error naming it.
  static std::optional<AddressFilter> Parse(std::string_view text, std::string* error);

  /// Whether a client at `address` may connect. Unix-socket clients always
  /// may (the socket file's permissions decide); an IPv4-mapped IPv6 address
  /// is matched as IPv4.
  bool Allows(const sockaddr* address) const;
  bool allows_everyone() const { return networks_.empty(); }

 private:
  struct Network {
    bool v6 = false;
    std::array<uint8_t, 16> bytes{};
    int prefix = 0;  ///< leading bits that must match
  };
  static bool Matches(const Network& network, bool v6, const uint8_t* bytes);

  std::vector<Network> networks_;
};

}  // namespace valved
