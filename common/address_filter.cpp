#include "common/address_filter.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace valved {
namespace {

bool IsSeparator(char c) { return c == ',' || c == ' ' || c == '\t'; }

std::vector<std::string_view> SplitEntries(std::string_view text) {
  std::vector<std::string_view> entries;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && IsSeparator(text[i])) ++i;
    size_t start = i;
    while (i < text.size() && !IsSeparator(text[i])) ++i;
    if (i > start) entries.push_back(text.substr(start, i - start));
  }
  return entries;
}

}  // namespace

std::optional<AddressFilter> AddressFilter::Parse(std::string_view text, std::string* error) {
  AddressFilter filter;
  for (std::string_view entry : SplitEntries(text)) {
    size_t slash = entry.find('/');
    std::string host(entry.substr(0, slash));
    Network network;
    if (inet_pton(AF_INET, host.c_str(), network.bytes.data()) == 1) {
      network.prefix = 32;
    } else if (inet_pton(AF_INET6, host.c_str(), network.bytes.data()) == 1) {
      network.v6 = true;
      network.prefix = 128;
    } else {
      *error = "\"" + std::string(entry) + "\" is not an IP address or a network (10.0.0.0/8)";
      return std::nullopt;
    }
    if (slash != std::string_view::npos) {
      std::string_view bits = entry.substr(slash + 1);
      int prefix = -1;
      auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), prefix);
      if (ec != std::errc() || end != bits.data() + bits.size() || prefix < 0 ||
          prefix > network.prefix) {
        *error = "\"" + std::string(entry) + "\" has a bad prefix length";
        return std::nullopt;
      }
      network.prefix = prefix;
    }
    filter.networks_.push_back(network);
  }
  return filter;
}

bool AddressFilter::Matches(const Network& network, bool v6, const uint8_t* bytes) {
  if (network.v6 != v6) return false;
  int full = network.prefix / 8, rest = network.prefix % 8;
  if (std::memcmp(network.bytes.data(), bytes, static_cast<size_t>(full)) != 0) return false;
  if (rest == 0) return true;
  auto mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (network.bytes[static_cast<size_t>(full)] & mask) == (bytes[full] & mask);
}

bool AddressFilter::Allows(const sockaddr* address) const {
  if (networks_.empty() || address->sa_family == AF_UNIX) return true;
  bool v6 = address->sa_family == AF_INET6;
  const uint8_t* bytes = nullptr;
  if (v6) {
    const in6_addr& a6 = reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr;
    bytes = a6.s6_addr;
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
      v6 = false;
      bytes += 12;
    }
  } else if (address->sa_family == AF_INET) {
    bytes = reinterpret_cast<const uint8_t*>(
        &reinterpret_cast<const sockaddr_in*>(address)->sin_addr.s_addr);
  } else {
    return false;
  }
  for (const Network& network : networks_) {
    if (Matches(network, v6, bytes)) return true;
  }
  return false;
}

}  // namespace valved
