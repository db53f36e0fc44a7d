// Pure HTTP helpers for the proxy: header lookup, hop-by-hop stripping,
// rewriting a client's request head for a child and a child's response head
// for the client, body framing, and the short error responses the worker
// writes itself. No I/O, so every rule here has a unit test.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "common/ipc_protocol.h"
#include "worker/http_message.h"

namespace valved::worker {

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

/// The elements of a comma-separated header list, trimmed, empty ones dropped.
std::vector<std::string_view> SplitList(std::string_view value);

/// The first field called `name` (any case), or nullptr.
const Header* FindHeader(const Headers& headers, std::string_view name);
size_t CountHeaders(const Headers& headers, std::string_view name);

/// True for the fixed hop-by-hop fields (RFC 7230 §6.1 and common practice):
/// Connection, Keep-Alive, Proxy-Connection, TE, Trailer, Upgrade, Transfer-Encoding.
bool IsHopByHop(std::string_view name);

/// `headers` without hop-by-hop fields and without the fields the Connection
/// header names. Host is always kept: a client cannot make the child see a
/// request without one by listing it in Connection.
Headers WithoutHopByHop(const Headers& headers);

/// The origin-form of a request target: "http://h:1/a?b" -> "/a?b",
/// "http://h" -> "/", "/a" and "*" unchanged. plumber routes on the whole
/// target, so an absolute-form target would reach the wrong endpoint.
std::string OriginForm(std::string_view target);

/// The authority of an absolute-form target ("http://h:1/a" -> "h:1"), or
/// "" for any other form.
std::string_view TargetAuthority(std::string_view target);

/// The host the request is for: the authority of an absolute-form target,
/// which RFC 9112 §3.2.2 puts before the Host field, else the Host field
/// ("" when there is none, as HTTP/1.0 allows).
std::string ChildHost(const RequestHead& request);

/// Who sent a request, as R is to see it.
struct ClientPeer {
  std::string address = "";       ///< the TCP peer: "192.0.2.1", "2001:db8::1"
  std::string port = "0";         ///< its TCP port
  std::string server_name = "";   ///< the listener's host (setting host), as plumber's SERVER_NAME
  std::string server_port = "0";  ///< the listener's port
  bool trusted = false;           ///< on forwarded_allow_ips: its X-Forwarded-* are believed
};

/// The field that carries the client to r/launcher.R, which applies it to
/// req (REMOTE_ADDR, REMOTE_PORT, SERVER_NAME, SERVER_PORT, rook.url_scheme)
/// and removes it before the API sees the request. A client's copy is
/// always dropped, so it cannot be forged.
inline constexpr std::string_view kPeerField = "X-Valved-Peer";

/// The head sent to a child: origin-form target, HTTP/1.1, Host from
/// ChildHost() (empty when unknown), hop-by-hop fields removed, the body framed from the parsed
/// request (Content-Length, or chunked, since the worker re-chunks),
/// X-Forwarded-For with the peer appended; X-Forwarded-Proto and
/// X-Forwarded-Host as a trusted peer sent them, else "http" and ChildHost()
/// (when known); X-Valved-Peer (kPeerField): "remote_addr=A; remote_port=P;
/// server_name=N; server_port=S; scheme=http|https", where a trusted peer's
/// last X-Forwarded-For address is the client; and Connection: close unless
/// `keep_alive` (the connection is to carry the next request too: HTTP/1.1's
/// default, no Connection field).
std::string ChildRequestHead(const RequestHead& request, const ClientPeer& peer,
                             bool keep_alive = false);

/// `request` as sent to a child once valved holds its whole body of `length`
/// bytes: framed by Content-Length, without Expect (valved has answered it).
RequestHead WithBufferedBody(const RequestHead& request, uint64_t length);

/// True when the client waits for 100 Continue before sending its body.
bool ExpectsContinue(const RequestHead& request);

/// The response field with which the API turns response buffering off (or
/// on) for one response, as behind nginx; it is not passed to the client.
inline constexpr std::string_view kBufferingField = "X-Accel-Buffering";

/// Whether `response` is taken from the child at the child's pace:
/// `configured` (response_buffering) unless kBufferingField says "no" or "yes".
bool BuffersResponse(const ResponseHead& response, bool configured);

/// How a response body is delimited towards the client.
enum class BodyFraming {
  kNone,        ///< no body: a response to HEAD, 1xx, 204, 304
  kLength,      ///< the child's Content-Length, passed through
  kChunked,     ///< re-chunked for an HTTP/1.1 client
  kUntilClose,  ///< HTTP/1.0 client without a length: the close ends the body
};
BodyFraming ChooseFraming(const ResponseHead& response, int client_http_minor);

/// The head sent to the client: the child's status code and reason phrase,
/// its fields minus hop-by-hop ones (repeated fields such as Set-Cookie
/// kept), framing per `framing`, and Connection: close or, for an HTTP/1.0
/// client that keeps the connection, Connection: keep-alive.
std::string ClientResponseHead(const ResponseHead& response, BodyFraming framing, bool keep_alive,
                               int client_http_minor);

/// Chunked framing: the size line before `size` bytes of data, the CRLF after
/// them, and the last chunk (no trailers).
std::string ChunkHeader(size_t size);
inline constexpr std::string_view kChunkEnd = "\r\n";
inline constexpr std::string_view kLastChunk = "0\r\n\r\n";

/// "Bad Gateway" for 502; "Unknown" for codes the parser library does not name.
const char* ReasonPhrase(int status);

/// A complete response the worker writes itself: `status`, a one-line text
/// body "<status> <reason>: <detail>", Connection: close, and Retry-After
/// when `retry_after_seconds` > 0. The body is left out for HEAD requests.
std::string ErrorResponse(int status, std::string_view detail, bool head_request,
                          int retry_after_seconds = 0);

/// How long a client should wait before retrying after a DENY.
int RetryAfterSeconds(ipc::DenyReason reason);
/// What a DENY means, for the 503 body.
std::string_view DenyDetail(ipc::DenyReason reason);

}  // namespace valved::worker
