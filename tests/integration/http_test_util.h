// Helpers for the HTTP integration tests (http_*_test.cpp), on top of
// valved_harness.h: a raw socket for byte-exact requests, interim responses
// and streams too large to keep, and readers for tests/fixtures/http.R.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "tests/integration/valved_harness.h"

namespace valved::itest {

/// Tests against tests/fixtures/http.R.
class HttpTest : public ValvedTest {
 protected:
  /// valved with the HTTP fixture, one worker and `children` R children
  /// ready (not merely started), plus `extra` flags; nullptr on failure.
  Valved* StartHttp(int children = 1, std::vector<std::string> extra = {});
};

/// A blocking loopback TCP client that keeps every byte it receives, for
/// what HttpConnection cannot do: see a 100 Continue, read a stream without
/// storing it, stop reading, or wait for the server's close with a deadline.
class RawSocket {
 public:
  /// Connects to 127.0.0.1:`port`. `small_receive_buffer` makes the socket's
  /// receive buffer small (before connecting, so the TCP window agrees), so
  /// that a client that stops reading pushes back on the server soon.
  explicit RawSocket(int port, bool small_receive_buffer = false);
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return fd_ != -1; }
  /// Sends all of `bytes`; false if the server closed or reset.
  bool Send(std::string_view bytes);
  /// Waits up to `timeout` for bytes or the close; appends what came to
  /// received(). False when nothing came.
  bool Receive(Millis timeout);
  /// Waits up to `timeout` for bytes and appends at most `max_bytes` of them
  /// to received(), as a slow reader does. False when nothing came.
  bool ReceiveAtMost(size_t max_bytes, Millis timeout);
  /// Receives until received() contains `text`; false at the deadline or close.
  bool ReceiveUntil(std::string_view text, Millis timeout);
  /// Receives until the server closes; false at the deadline.
  bool ReceiveUntilClosed(Millis timeout);
  void Close();

  const std::string& received() const { return received_; }
  bool closed() const { return closed_; }
  /// The status of the first response in received(), or 0.
  int FirstStatus() const;

  /// Reads one response whose body has a Content-Length without keeping the
  /// body: returns its length after checking that byte i is `i % 256` (the
  /// fixture's pattern), or -1 with *error set.
  int64_t ReceivePatternBody(Millis timeout, std::string* error);

 private:
  int fd_ = -1;
  std::string received_;
  bool closed_ = false;
};

/// The status code of an HTTP response's status line ("HTTP/1.1 400 ..."), or 0.
int StatusOf(std::string_view response);
/// The value of the first header `name` (any case) in the head of `response`.
std::string HeaderOf(std::string_view response, std::string_view name);

/// What the fixture's R process has received (GET /seen): "METHOD /path" in order.
std::vector<std::string> Seen(int port);
/// A string field of a plumber JSON object: `"name":["value"]` -> value.
std::string JsonString(const std::string& body, const std::string& name);

/// The inodes of the connected sockets bound to a path under `dir`, from
/// /proc/net/unix: the R children's ends of valved's connections to them.
std::set<std::string> ChildConnectionInodes(const std::filesystem::path& dir);

/// The peak resident set size (VmHWM) of `pid` in KiB, or -1.
int64_t PeakRssKib(pid_t pid);

}  // namespace valved::itest
