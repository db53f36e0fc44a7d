// The parts of an HTTP message the worker looks at: heads as parsed, with
// header fields in arrival order. Bodies never live here; they stream.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace valved::worker {

struct Header {
  std::string name;   ///< as the peer spelled it
  std::string value;  ///< surrounding whitespace removed by the parser
};
using Headers = std::vector<Header>;

/// A client's request head, after RequestParser checked it.
struct RequestHead {
  std::string method;  ///< "GET"
  std::string target;  ///< as sent; may be absolute-form ("http://host/path")
  int http_minor = 1;  ///< HTTP/1.<minor>; only 1.0 and 1.1 get this far
  Headers headers;
  std::optional<uint64_t> content_length;  ///< from Content-Length
  bool chunked = false;                    ///< Transfer-Encoding: chunked
  bool keep_alive = true;                  ///< the client lets the connection stay open

  bool is_head() const { return method == "HEAD"; }
  bool has_body() const { return chunked || content_length.value_or(0) > 0; }
};

/// A child's response head.
struct ResponseHead {
  int status = 0;
  std::string reason;  ///< the child's reason phrase, kept as is
  Headers headers;
  std::optional<uint64_t> content_length;
  bool chunked = false;
  /// No body follows, whatever the headers say: a response to HEAD, 1xx, 204, 304.
  bool bodyless = false;

  bool is_interim() const { return status >= 100 && status < 200; }
};

}  // namespace valved::worker
