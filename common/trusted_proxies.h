// forwarded_allow_ips (Gunicorn's name and meaning): the peers whose
// X-Forwarded-For, X-Forwarded-Proto and X-Forwarded-Host valved believes,
// such as a TLS-terminating proxy on the same host. The setting checks the
// list (common/settings.cpp); the workers ask whether a peer is on it.
#pragma once

#include <string>
#include <string_view>

namespace valved {

/// Why `allow_list` is not a comma-separated list of IPv4/IPv6 addresses or
/// "*" (everyone), or "" when it is. An empty list trusts no one.
std::string CheckTrustedProxies(std::string_view allow_list);

/// Whether `address` (as the worker prints a peer: "127.0.0.1", "::1",
/// "::ffff:127.0.0.1") is on `allow_list`. Addresses are compared as
/// addresses, not as text, and an IPv4-mapped IPv6 peer matches its IPv4 form.
bool IsTrustedProxy(std::string_view allow_list, std::string_view address);

/// Whether `text` is an IPv4 or IPv6 address.
bool IsIpAddress(std::string_view text);

}  // namespace valved
