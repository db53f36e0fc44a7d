#include "master/child_output.h"

#include <fcntl.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>

#include "common/log.h"

namespace valved::master {
namespace {

constexpr size_t kTailLines = 30;
constexpr size_t kMaxLine = 4096;  // longer lines are split, not buffered without bound

}  // namespace

ChildOutput::ChildOutput(event_base* base, std::string name, UniqueFd out, UniqueFd err,
                         std::string ready_line, std::function<void()> on_ready)
    : name_(std::move(name)), ready_line_(std::move(ready_line)), on_ready_(std::move(on_ready)) {
  Open(base, out_, std::move(out), true);
  Open(base, err_, std::move(err), false);
}

void ChildOutput::Open(event_base* base, Stream& stream, UniqueFd fd, bool is_stdout) {
  if (!fd) return;
  fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) | O_NONBLOCK);
  stream.owner = this;
  stream.is_stdout = is_stdout;
  stream.event.reset(event_new(base, fd.get(), EV_READ | EV_PERSIST, OnReadable, &stream));
  event_add(stream.event.get(), nullptr);
  stream.fd = std::move(fd);
}

void ChildOutput::OnReadable(evutil_socket_t, short, void* arg) {
  auto* stream = static_cast<Stream*>(arg);
  stream->owner->ReadAvailable(*stream);
}

void ChildOutput::ReadAvailable(Stream& stream) {
  char buf[4096];
  while (stream.fd) {
    ssize_t n = ::read(stream.fd.get(), buf, sizeof buf);
    if (n == -1 && errno == EINTR) continue;
    if (n <= 0) {
      if (n == 0 || errno != EAGAIN) Close(stream);
      return;
    }
    stream.partial.append(buf, static_cast<size_t>(n));
    size_t start = 0, nl;
    while ((nl = stream.partial.find('\n', start)) != std::string::npos) {
      HandleLine(stream, stream.partial.substr(start, nl - start));
      start = nl + 1;
    }
    stream.partial.erase(0, start);
    if (stream.partial.size() > kMaxLine) HandleLine(stream, std::exchange(stream.partial, {}));
  }
}

void ChildOutput::HandleLine(Stream& stream, std::string line) {
  if (stream.is_stdout && line == ready_line_) {
    if (on_ready_) std::exchange(on_ready_, nullptr)();
    return;
  }
  if (line.empty()) return;  // R prints blank lines around interrupts and errors
  // R writes warnings, messages and errors on stderr: those must show at the
  // default level; stdout is the API's own chatter.
  if (stream.is_stdout) {
    Log(LogLevel::kInfo) << name_ << ": R: " << line;
  } else {
    Log(LogLevel::kWarn) << name_ << ": R stderr: " << line;
  }
  tail_.push_back(std::move(line));
  if (tail_.size() > kTailLines) tail_.pop_front();
}

void ChildOutput::Close(Stream& stream) {
  if (!stream.partial.empty()) HandleLine(stream, std::exchange(stream.partial, {}));
  stream.event.reset();
  stream.fd.reset();
}

std::string ChildOutput::Tail() {
  ReadAvailable(out_);
  ReadAvailable(err_);
  std::string text;
  for (const std::string& line : tail_) text += line + "\n";
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  return text;
}

}  // namespace valved::master
