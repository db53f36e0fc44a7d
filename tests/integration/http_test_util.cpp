#include "tests/integration/http_test_util.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

namespace valved::itest {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

Millis Remaining(SteadyClock::time_point deadline) {
  auto left = std::chrono::duration_cast<Millis>(deadline - SteadyClock::now());
  return std::max(left, Millis(0));
}

}  // namespace

RawSocket::RawSocket(int port, bool small_receive_buffer) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (small_receive_buffer) {
    int small = 4096;
    setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  }
  int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval ten_seconds{10, 0};  // bounds a send() into a full buffer
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &ten_seconds, sizeof ten_seconds);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = htons(static_cast<uint16_t>(port));
  if (connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == -1) Close();
}

RawSocket::~RawSocket() { Close(); }

void RawSocket::Close() {
  if (fd_ != -1) close(fd_);
  fd_ = -1;
}

bool RawSocket::Send(std::string_view bytes) {
  while (!bytes.empty() && fd_ != -1) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n == -1 && errno == EINTR) continue;
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return bytes.empty();
}

bool RawSocket::Receive(Millis timeout) { return ReceiveAtMost(65536, timeout); }

bool RawSocket::ReceiveAtMost(size_t max_bytes, Millis timeout) {
  if (fd_ == -1 || closed_) return false;
  pollfd ready{fd_, POLLIN, 0};
  if (poll(&ready, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char chunk[65536];
  ssize_t n = recv(fd_, chunk, std::min(max_bytes, sizeof chunk), 0);
  if (n <= 0) {
    closed_ = true;  // closed or reset
    return false;
  }
  received_.append(chunk, static_cast<size_t>(n));
  return true;
}

bool RawSocket::ReceiveUntil(std::string_view text, Millis timeout) {
  auto deadline = SteadyClock::now() + timeout;
  while (received_.find(text) == std::string::npos) {
    if (!Receive(Remaining(deadline))) return received_.find(text) != std::string::npos;
  }
  return true;
}

bool RawSocket::ReceiveUntilClosed(Millis timeout) {
  auto deadline = SteadyClock::now() + timeout;
  while (!closed_ && Remaining(deadline).count() > 0) Receive(Remaining(deadline));
  return closed_;
}

int RawSocket::FirstStatus() const { return StatusOf(received_); }

int64_t RawSocket::ReceivePatternBody(Millis timeout, std::string* error) {
  auto deadline = SteadyClock::now() + timeout;
  if (!ReceiveUntil("\r\n\r\n", timeout)) {
    *error = "no response head";
    return -1;
  }
  size_t head_end = received_.find("\r\n\r\n") + 4;
  std::string length = HeaderOf(received_, "Content-Length");
  if (StatusOf(received_) != 200 || length.empty()) {
    *error = "unexpected head: " + received_.substr(0, head_end);
    return -1;
  }
  uint64_t expected = std::stoull(length);
  uint64_t got = received_.size() - head_end;
  std::string_view first(received_.data() + head_end, got);
  for (size_t i = 0; i < first.size(); ++i) {
    if (static_cast<unsigned char>(first[i]) != i % 256) {
      *error = "wrong byte at " + std::to_string(i);
      return -1;
    }
  }
  std::vector<char> chunk(1 << 20);
  while (got < expected) {
    pollfd ready{fd_, POLLIN, 0};
    if (poll(&ready, 1, static_cast<int>(Remaining(deadline).count())) <= 0) {
      *error = "timeout after " + std::to_string(got) + " bytes";
      return -1;
    }
    ssize_t n = recv(fd_, chunk.data(), chunk.size(), 0);
    if (n <= 0) {
      *error = "closed after " + std::to_string(got) + " bytes";
      return -1;
    }
    for (ssize_t i = 0; i < n; ++i) {
      if (static_cast<unsigned char>(chunk[i]) != (got + i) % 256) {
        *error = "wrong byte at " + std::to_string(got + i);
        return -1;
      }
    }
    got += static_cast<uint64_t>(n);
  }
  return static_cast<int64_t>(got);
}

int StatusOf(std::string_view response) {
  if (response.substr(0, 7) != "HTTP/1." || response.size() < 12) return 0;
  return std::atoi(std::string(response.substr(9, 3)).c_str());
}

std::string HeaderOf(std::string_view response, std::string_view name) {
  std::string_view head = response.substr(0, response.find("\r\n\r\n"));
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos) {
    size_t start = pos + 2;
    size_t end = head.find("\r\n", start);
    std::string_view line = head.substr(start, end == std::string_view::npos ? end : end - start);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos && EqualsIgnoreCase(line.substr(0, colon), name)) {
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      return std::string(value);
    }
    pos = end;
  }
  return "";
}

std::set<std::string> ChildConnectionInodes(const std::filesystem::path& dir) {
  std::set<std::string> inodes;
  std::ifstream table("/proc/net/unix");
  std::string line;
  std::getline(table, line);  // the column names
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string num, refs, protocol, flags, type, state, inode, path;
    fields >> num >> refs >> protocol >> flags >> type >> state >> inode >> path;
    if (state == "03" && path.rfind(dir.string() + "/", 0) == 0) inodes.insert(inode);
  }
  return inodes;
}

std::vector<std::string> Seen(int port) {
  HttpResponse response = HttpGet(port, "/seen", Millis(30'000));
  std::vector<std::string> seen;
  std::smatch list;
  if (!std::regex_search(response.body, list, std::regex("\"seen\":\\[([^\\]]*)\\]"))) {
    ADD_FAILURE() << "GET /seen: " << response.Describe();
    return seen;
  }
  std::string items = list[1].str();
  std::regex item("\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(items.begin(), items.end(), item);
       it != std::sregex_iterator(); ++it)
    seen.push_back((*it)[1].str());
  return seen;
}

std::string JsonString(const std::string& body, const std::string& name) {
  std::smatch match;
  std::regex pattern("\"" + name + "\":\\[?\"((?:[^\"\\\\]|\\\\.)*)\"");
  return std::regex_search(body, match, pattern) ? match[1].str() : "";
}

int64_t PeakRssKib(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

Valved* HttpTest::StartHttp(int children, std::vector<std::string> extra) {
  std::vector<std::string> args = {
      "-f",      Fixture("http.R"),        "-n", std::to_string(children),
      "--n-min", std::to_string(children), "-w", "1"};
  args.insert(args.end(), extra.begin(), extra.end());
  Valved* valved = StartServing(args);
  bool ready = valved && Eventually(
                             std::chrono::seconds(60),
                             [&] { return valved->ReadyRChildPids().size() == size_t(children); },
                             "all R children ready");
  return ready ? valved : nullptr;
}

}  // namespace valved::itest
