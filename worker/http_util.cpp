#include "worker/http_util.h"

#include <http_parser.h>

#include <algorithm>
#include <cctype>
#include <cstdio>

#include "common/trusted_proxies.h"

namespace valved::worker {
namespace {

constexpr std::string_view kHopByHop[] = {"Connection", "Keep-Alive", "Proxy-Connection", "TE",
                                          "Trailer",    "Upgrade",    "Transfer-Encoding"};

// Fields the worker writes itself towards the child, so any client copy goes.
constexpr std::string_view kRewrittenForChild[] = {
    "Host",    "Content-Length", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host",
    kPeerField};

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool IsNamedIn(std::string_view name, const std::vector<std::string_view>& names) {
  return std::any_of(names.begin(), names.end(),
                     [&](std::string_view n) { return EqualsIgnoreCase(n, name); });
}

// Every Connection field's tokens: "Connection: close, X-Foo" names X-Foo.
std::vector<std::string_view> ConnectionOptions(const Headers& headers) {
  std::vector<std::string_view> options;
  for (const Header& h : headers) {
    if (!EqualsIgnoreCase(h.name, "Connection")) continue;
    for (std::string_view token : SplitList(h.value)) options.push_back(token);
  }
  return options;
}

void AppendField(std::string& out, std::string_view name, std::string_view value) {
  out.append(name).append(": ").append(value).append("\r\n");
}

// Earlier proxies' X-Forwarded-For values, joined, with this hop's client last.
std::string ForwardedFor(const Headers& headers, std::string_view client_address) {
  std::string chain;
  for (const Header& h : headers) {
    if (!EqualsIgnoreCase(h.name, "X-Forwarded-For") || Trim(h.value).empty()) continue;
    chain.append(Trim(h.value)).append(", ");
  }
  return chain.append(client_address);
}

// The value of the client's last `name` field, trimmed; "" when absent.
std::string LastValue(const Headers& headers, std::string_view name) {
  std::string value;
  for (const Header& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) value = std::string(Trim(h.value));
  }
  return value;
}

// The client as a trusted proxy names it: the last address of its
// X-Forwarded-For (the one that proxy saw), when it is an address.
std::string ForwardedClient(const Headers& headers) {
  std::vector<std::string_view> hops;
  for (const Header& h : headers) {
    if (!EqualsIgnoreCase(h.name, "X-Forwarded-For")) continue;
    for (std::string_view hop : SplitList(h.value)) hops.push_back(hop);
  }
  if (hops.empty() || !IsIpAddress(hops.back())) return "";
  return std::string(hops.back());
}

// What r/launcher.R applies to req; see kPeerField.
std::string PeerFieldValue(const RequestHead& request, const ClientPeer& peer,
                           std::string_view proto) {
  std::string address = peer.trusted ? ForwardedClient(request.headers) : "";
  std::string port = address.empty() ? peer.port : "0";  // a proxy does not tell the port
  if (address.empty()) address = peer.address;
  std::string scheme = EqualsIgnoreCase(proto, "https") ? "https" : "http";
  return "remote_addr=" + address + "; remote_port=" + port + "; server_name=" + peer.server_name +
         "; server_port=" + peer.server_port + "; scheme=" + scheme;
}

// An HTTP/1.0 client's Expect means nothing (RFC 9110 §10.1.1), but the
// child is spoken to in HTTP/1.1, where it would.
bool IsDroppedForChild(const RequestHead& request, std::string_view name) {
  if (request.http_minor == 0 && EqualsIgnoreCase(name, "Expect")) return true;
  return std::any_of(std::begin(kRewrittenForChild), std::end(kRewrittenForChild),
                     [&](std::string_view n) { return EqualsIgnoreCase(n, name); });
}

void AppendChildFields(std::string& out, const RequestHead& request) {
  for (const Header& h : WithoutHopByHop(request.headers)) {
    if (!IsDroppedForChild(request, h.name)) AppendField(out, h.name, h.value);
  }
}

void AppendFraming(std::string& out, const ResponseHead& response, BodyFraming framing) {
  if (framing == BodyFraming::kChunked) AppendField(out, "Transfer-Encoding", "chunked");
  // A HEAD or 304 response may carry the length the full response would have.
  bool keeps_length = framing == BodyFraming::kLength || framing == BodyFraming::kNone;
  if (keeps_length && response.content_length && !response.is_interim())
    AppendField(out, "Content-Length", std::to_string(*response.content_length));
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

std::vector<std::string_view> SplitList(std::string_view value) {
  std::vector<std::string_view> items;
  while (true) {
    size_t comma = value.find(',');
    std::string_view item = Trim(value.substr(0, comma));
    if (!item.empty()) items.push_back(item);
    if (comma == std::string_view::npos) return items;
    value.remove_prefix(comma + 1);
  }
}

const Header* FindHeader(const Headers& headers, std::string_view name) {
  for (const Header& h : headers) {
    if (EqualsIgnoreCase(h.name, name)) return &h;
  }
  return nullptr;
}

size_t CountHeaders(const Headers& headers, std::string_view name) {
  return static_cast<size_t>(std::count_if(headers.begin(), headers.end(), [&](const Header& h) {
    return EqualsIgnoreCase(h.name, name);
  }));
}

bool IsHopByHop(std::string_view name) {
  return std::any_of(std::begin(kHopByHop), std::end(kHopByHop),
                     [&](std::string_view n) { return EqualsIgnoreCase(n, name); });
}

Headers WithoutHopByHop(const Headers& headers) {
  std::vector<std::string_view> named = ConnectionOptions(headers);
  Headers kept;
  for (const Header& h : headers) {
    bool drop =
        IsHopByHop(h.name) || (IsNamedIn(h.name, named) && !EqualsIgnoreCase(h.name, "Host"));
    if (!drop) kept.push_back(h);
  }
  return kept;
}

std::string OriginForm(std::string_view target) {
  if (target.empty() || target.front() == '/' || target == "*") return std::string(target);
  size_t scheme_end = target.find("://");
  if (scheme_end == std::string_view::npos) return std::string(target);
  std::string_view rest = target.substr(scheme_end + 3);
  size_t path = rest.find_first_of("/?#");
  if (path == std::string_view::npos || rest[path] == '#') return "/";
  if (rest[path] == '?') return "/" + std::string(rest.substr(path));
  return std::string(rest.substr(path));
}

std::string_view TargetAuthority(std::string_view target) {
  size_t scheme_end = target.find("://");
  if (target.empty() || target.front() == '/' || scheme_end == std::string_view::npos) return {};
  std::string_view rest = target.substr(scheme_end + 3);
  return rest.substr(0, rest.find_first_of("/?#"));
}

std::string ChildHost(const RequestHead& request) {
  std::string_view authority = TargetAuthority(request.target);
  if (!authority.empty()) return std::string(authority);
  const Header* host = FindHeader(request.headers, "Host");
  return host ? host->value : std::string();
}

std::string ChildRequestHead(const RequestHead& request, const ClientPeer& peer, bool keep_alive) {
  std::string out = request.method + " " + OriginForm(request.target) + " HTTP/1.1\r\n";
  // HTTP/1.1 requires a Host field, empty when the host is unknown (RFC 9112 §3.2).
  std::string host = ChildHost(request);
  AppendField(out, "Host", host);
  AppendChildFields(out, request);
  if (request.chunked) {
    AppendField(out, "Transfer-Encoding", "chunked");
  } else if (request.content_length) {
    AppendField(out, "Content-Length", std::to_string(*request.content_length));
  }
  std::string proto = peer.trusted ? LastValue(request.headers, "X-Forwarded-Proto") : "";
  if (proto.empty()) proto = "http";
  std::string forwarded_host = peer.trusted ? LastValue(request.headers, "X-Forwarded-Host") : "";
  if (forwarded_host.empty()) forwarded_host = host;
  AppendField(out, "X-Forwarded-For", ForwardedFor(request.headers, peer.address));
  AppendField(out, "X-Forwarded-Proto", proto);
  if (!forwarded_host.empty()) AppendField(out, "X-Forwarded-Host", forwarded_host);
  AppendField(out, kPeerField, PeerFieldValue(request, peer, proto));
  if (!keep_alive) AppendField(out, "Connection", "close");
  return out + "\r\n";
}

RequestHead WithBufferedBody(const RequestHead& request, uint64_t length) {
  RequestHead sent = request;
  sent.chunked = false;
  sent.content_length = length;
  std::erase_if(sent.headers, [](const Header& h) { return EqualsIgnoreCase(h.name, "Expect"); });
  return sent;
}

bool ExpectsContinue(const RequestHead& request) {
  return request.http_minor >= 1 && FindHeader(request.headers, "Expect") != nullptr;
}

bool BuffersResponse(const ResponseHead& response, bool configured) {
  const Header* field = FindHeader(response.headers, kBufferingField);
  if (!field) return configured;
  if (EqualsIgnoreCase(field->value, "no")) return false;
  if (EqualsIgnoreCase(field->value, "yes")) return true;
  return configured;
}

BodyFraming ChooseFraming(const ResponseHead& response, int client_http_minor) {
  if (response.bodyless) return BodyFraming::kNone;
  if (response.content_length) return BodyFraming::kLength;
  return client_http_minor >= 1 ? BodyFraming::kChunked : BodyFraming::kUntilClose;
}

std::string ClientResponseHead(const ResponseHead& response, BodyFraming framing, bool keep_alive,
                               int client_http_minor) {
  std::string out = "HTTP/1.1 " + std::to_string(response.status) + " " + response.reason + "\r\n";
  for (const Header& h : WithoutHopByHop(response.headers)) {
    if (!EqualsIgnoreCase(h.name, "Content-Length") && !EqualsIgnoreCase(h.name, kBufferingField))
      AppendField(out, h.name, h.value);
  }
  AppendFraming(out, response, framing);
  if (response.is_interim()) return out + "\r\n";
  if (!keep_alive) {
    AppendField(out, "Connection", "close");
  } else if (client_http_minor == 0) {
    AppendField(out, "Connection", "keep-alive");
  }
  return out + "\r\n";
}

std::string ChunkHeader(size_t size) {
  char line[32];
  std::snprintf(line, sizeof line, "%zx\r\n", size);
  return line;
}

const char* ReasonPhrase(int status) {
  const char* phrase = http_status_str(static_cast<http_status>(status));
  return phrase && *phrase && std::string_view(phrase) != "<unknown>" ? phrase : "Unknown";
}

std::string ErrorResponse(int status, std::string_view detail, bool head_request,
                          int retry_after_seconds) {
  std::string body = std::to_string(status) + " " + ReasonPhrase(status) + ": ";
  body.append(detail).append("\n");
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + ReasonPhrase(status) + "\r\n";
  AppendField(out, "Content-Type", "text/plain; charset=utf-8");
  AppendField(out, "Content-Length", std::to_string(body.size()));
  if (retry_after_seconds > 0) AppendField(out, "Retry-After", std::to_string(retry_after_seconds));
  AppendField(out, "Connection", "close");
  out += "\r\n";
  return head_request ? out : out + body;
}

int RetryAfterSeconds(ipc::DenyReason reason) {
  switch (reason) {
    case ipc::DenyReason::kQueueFull:
      return 1;  // a full queue drains quickly when requests are short
    case ipc::DenyReason::kQueueTimeout:
      return 5;  // the children are slow; retrying at once would only queue again
    case ipc::DenyReason::kShuttingDown:
      return 5;  // a restarted server or another instance takes over
    case ipc::DenyReason::kNoChildren:
      return 30;  // children fail to start; someone has to fix the API first
  }
  return 5;
}

std::string_view DenyDetail(ipc::DenyReason reason) {
  switch (reason) {
    case ipc::DenyReason::kQueueFull:
      return "all R processes are busy and the request queue is full";
    case ipc::DenyReason::kQueueTimeout:
      return "no R process became free while the request waited in the queue";
    case ipc::DenyReason::kShuttingDown:
      return "the server is shutting down";
    case ipc::DenyReason::kNoChildren:
      return "no R process could be started";
  }
  return "no R process is available";
}

}  // namespace valved::worker
