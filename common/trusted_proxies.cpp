#include "common/trusted_proxies.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <cstring>
#include <optional>
#include <vector>

namespace valved {
namespace {

using Address = std::array<unsigned char, 16>;  // IPv6, IPv4 as ::ffff:a.b.c.d

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::vector<std::string_view> Items(std::string_view list) {
  std::vector<std::string_view> items;
  while (true) {
    size_t comma = list.find(',');
    items.push_back(Trim(list.substr(0, comma)));
    if (comma == std::string_view::npos) return items;
    list.remove_prefix(comma + 1);
  }
}

std::optional<Address> Parse(std::string_view text) {
  std::string s(text);
  Address out{};
  in_addr v4;
  if (inet_pton(AF_INET, s.c_str(), &v4) == 1) {
    out[10] = out[11] = 0xff;
    std::memcpy(out.data() + 12, &v4, 4);
    return out;
  }
  if (inet_pton(AF_INET6, s.c_str(), out.data()) == 1) return out;
  return std::nullopt;
}

}  // namespace

std::string CheckTrustedProxies(std::string_view allow_list) {
  if (Trim(allow_list).empty()) return "";
  for (std::string_view item : Items(allow_list)) {
    if (item == "*") continue;
    if (!Parse(item)) {
      return "\"" + std::string(item) +
             "\" is not an IP address (a comma-separated list of addresses, or * for all)";
    }
  }
  return "";
}

bool IsTrustedProxy(std::string_view allow_list, std::string_view address) {
  std::optional<Address> peer = Parse(address);
  if (Trim(allow_list).empty()) return false;
  for (std::string_view item : Items(allow_list)) {
    if (item == "*") return true;
    if (peer && Parse(item) == peer) return true;
  }
  return false;
}

bool IsIpAddress(std::string_view text) { return Parse(text).has_value(); }

}  // namespace valved
