#include "worker/upstream.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <sstream>

#include "common/log.h"
#include "common/net.h"
#include "common/unique_fd.h"
#include "common/write_now.h"
#include "worker/http_util.h"

namespace valved::worker {
namespace {

// A non-blocking connect to a Unix socket. Such a connect completes or fails
// at once (EAGAIN means the child's backlog is full, not "in progress"); an
// EINPROGRESS is still handled in case the kernel ever reports it.
UniqueFd ConnectChild(const std::string& path, bool* in_progress, std::string* error) {
  UniqueFd fd;
  int err = ConnectUnix(path, &fd);
  *in_progress = err == EINPROGRESS;
  if (err == 0 || *in_progress) return fd;
  *error = err == ENAMETOOLONG ? "socket path too long: " + path
                               : "connect(" + path + ") failed (" + ErrnoString(err) + ")";
  return fd;
}

ipc::Outcome OutcomeValue(Upstream::Failure failure) {
  switch (failure) {
    case Upstream::Failure::kTimedOut:
      return ipc::Outcome::kTimedOut;
    case Upstream::Failure::kIdleConnectionLost:
      return ipc::Outcome::kBroken;
    case Upstream::Failure::kClientStalled:
    case Upstream::Failure::kClientNotReading:
      return ipc::Outcome::kOk;
    default:
      return ipc::Outcome::kBroken;
  }
}

}  // namespace

Upstream::Upstream(event_base* base, MasterLink& master, ChildConnections& connections, Lease lease,
                   Duration timeout, bool head_request, bool keep_alive, Sink* sink,
                   std::string log_prefix)
    : base_(base),
      master_(master),
      connections_(connections),
      lease_(std::move(lease)),
      timeout_(timeout),
      sink_(sink),
      log_prefix_(std::move(log_prefix)),
      parser_(head_request),
      keep_alive_(keep_alive && !head_request),
      timer_(evtimer_new(base, OnTimeout, this)),
      send_soon_(base, [this] { Guard([this] { SendQueued(); }); }) {
  parser_.SetBodyHandler([this](std::string_view data) {
    if (sink_) sink_->OnResponseBody(data);
  });
}

Upstream::~Upstream() = default;

bool Upstream::Start(const std::string& request_head, bool chunked_body, std::string* error) {
  chunked_body_ = chunked_body;
  bev_ = connections_.Take(lease_.child_id);
  reused_ = bev_ != nullptr;
  if (!reused_) {
    UniqueFd fd = ConnectChild(lease_.socket_path, &connecting_, error);
    if (!fd) {
      Log(LogLevel::kWarn) << log_prefix_ << ": child#" << lease_.child_id << ": " << *error
                           << "; lease released broken";
      Finish(ipc::Outcome::kBroken);
      return false;
    }
    bev_.reset(bufferevent_socket_new(base_, fd.release(), BEV_OPT_CLOSE_ON_FREE));
    if (connecting_) bufferevent_socket_connect(bev_.get(), nullptr, 0);
    UseLargeIo(bev_.get());  // after the connect, which resets the read event
  }
  bufferevent_setcb(bev_.get(), OnRead, OnWrite, OnEvent, this);
  if (connecting_) {  // its write event stays: libevent writes once the connect completes
    bufferevent_enable(bev_.get(), EV_READ);
  } else {
    ReadAndWriteNow(bev_.get());
  }
  bufferevent_write(bev_.get(), request_head.data(), request_head.size());
  send_soon_.Schedule();
  ArmTimer();
  return true;
}

void Upstream::WriteBody(std::string_view data) {
  if (!bev_ || write_broken_ || data.empty()) return;  // an empty chunk would end the body
  evbuffer* out = bufferevent_get_output(bev_.get());
  if (chunked_body_) {
    std::string size_line = ChunkHeader(data.size());
    evbuffer_add(out, size_line.data(), size_line.size());
  }
  evbuffer_add(out, data.data(), data.size());
  if (chunked_body_) evbuffer_add(out, kChunkEnd.data(), kChunkEnd.size());
  send_soon_.Schedule();
  NoteProgress();
}

void Upstream::SendBody(evbuffer* body) {
  if (!bev_ || write_broken_) return;
  evbuffer_add_buffer(bufferevent_get_output(bev_.get()), body);
  send_soon_.Schedule();
  NoteProgress();
}

void Upstream::EndBody() {
  request_sent_ = true;
  NoteProgress();  // the child's time to answer starts now
  if (!bev_ || write_broken_ || !chunked_body_) return;
  bufferevent_write(bev_.get(), kLastChunk.data(), kLastChunk.size());
  send_soon_.Schedule();
}

bool Upstream::full() const {
  return bev_ && evbuffer_get_length(bufferevent_get_output(bev_.get())) > kMaxBuffered;
}

void Upstream::ResumeReading() {
  if (!reading_paused_ || finished_) return;
  reading_paused_ = false;
  NoteProgress();
  bufferevent_enable(bev_.get(), EV_READ);
  ReadResponse();  // what arrived before the pause is already buffered
}

void Upstream::Detach(std::function<void(Upstream&)> on_done) {
  sink_ = nullptr;
  on_done_ = std::move(on_done);
  Log(LogLevel::kInfo) << log_prefix_ << ": client left; discarding the rest of child#"
                       << lease_.child_id << "'s response";
  ResumeReading();
}

void Upstream::Abandon(const std::string& reason) {
  sink_ = nullptr;
  if (finished_) return;
  Log(LogLevel::kInfo) << log_prefix_ << ": " << reason << "; closing the connection to child#"
                       << lease_.child_id << " (lease released ok)";
  Finish(ipc::Outcome::kOk);
}

void Upstream::OnRead(bufferevent*, void* arg) {
  auto* self = static_cast<Upstream*>(arg);
  self->Guard([self] {
    self->NoteProgress();
    if (!self->reading_paused_ && !self->finished_) ReadAvailable(self->bev_.get());
    self->ReadResponse();
  });
}

void Upstream::OnWrite(bufferevent*, void* arg) {
  auto* self = static_cast<Upstream*>(arg);
  self->Guard([self] {
    WriteDrained(self->bev_.get());
    self->OnRequestSent();
  });
}

// What the running callback queued for the child leaves in one write, once
// it is done (a head and its body together).
void Upstream::SendQueued() {
  if (!bev_ || finished_) return;
  if (connecting_) {  // libevent writes once the connect completes
    bufferevent_enable(bev_.get(), EV_WRITE);
    return;
  }
  if (WriteNow(bev_.get())) OnRequestSent();
}

// The child has taken every request byte queued so far.
void Upstream::OnRequestSent() {
  NoteProgress();
  if (sink_) sink_->OnUpstreamDrained();
}

void Upstream::OnEvent(bufferevent*, short what, void* arg) {
  auto* self = static_cast<Upstream*>(arg);
  self->Guard([self, what] { self->HandleEvent(what); });
}

void Upstream::OnTimeout(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<Upstream*>(arg);
  self->Guard([self] { self->HandleTimeout(); });
}

// Runs one entry point; an exception becomes a broken lease instead of
// unwinding through libevent.
void Upstream::Guard(const std::function<void()>& body) {
  try {
    body();
  } catch (const std::exception& e) {
    Fail(Failure::kBroken, std::string("internal error: ") + e.what());
  }
}

void Upstream::ReadResponse() {
  while (!finished_ && !reading_paused_) {
    evbuffer* in = bufferevent_get_input(bev_.get());
    if (parser_.body_left() > 0) {
      if (!MoveBody(in)) return;
      continue;
    }
    evbuffer_iovec chunk;
    if (evbuffer_peek(in, -1, nullptr, &chunk, 1) < 1 || chunk.iov_len == 0) return;
    // One byte ends a head whose body MoveBody() then takes.
    size_t length = parser_.head_end_pending() ? 1 : chunk.iov_len;
    size_t used = 0;
    auto result = parser_.Feed(std::string_view(static_cast<char*>(chunk.iov_base), length), &used);
    evbuffer_drain(in, used);
    if (!HandleParsed(result)) return;
    if (sink_ && sink_->IsSinkFull()) PauseReading();
  }
}

// A body framed by a Content-Length goes to the sink as evbuffer chains,
// moved rather than copied through the parser. Returns false when there is
// nothing more to read now.
bool Upstream::MoveBody(evbuffer* in) {
  size_t n = static_cast<size_t>(std::min<uint64_t>(parser_.body_left(), evbuffer_get_length(in)));
  if (n == 0) return false;
  if (sink_) {
    sink_->OnResponseBodyIn(in, n);
  } else {
    evbuffer_drain(in, n);
  }
  if (!HandleParsed(parser_.SkipBody(n))) return false;
  if (sink_ && sink_->IsSinkFull()) PauseReading();
  return true;
}

// Returns false when the response ended (or failed) and nothing more is read.
bool Upstream::HandleParsed(ResponseParser::Result result) {
  switch (result) {
    case ResponseParser::Result::kNeedMore:
      return true;
    case ResponseParser::Result::kHeadComplete:
      if (sink_) sink_->OnResponseHead(parser_.head());
      parser_.Resume();
      return !finished_;
    case ResponseParser::Result::kMessageComplete:
      if (parser_.head().is_interim()) {  // the final response follows
        parser_.Resume();
        return true;
      }
      Complete();
      return false;
    case ResponseParser::Result::kError:
      Fail(Failure::kBroken, parser_.error());
      return false;
  }
  return false;
}

void Upstream::HandleEvent(short what) {
  if (what & BEV_EVENT_CONNECTED) {
    connecting_ = false;
    return;
  }
  if (what & BEV_EVENT_EOF) return HandleChildClosed();
  if (!(what & BEV_EVENT_ERROR)) return;
  int err = EVUTIL_SOCKET_ERROR();
  if ((what & BEV_EVENT_WRITING) && !connecting_) {
    // The child stopped reading the request (an early answer such as 413,
    // or a crash); its response, if any, can still be read.
    write_broken_ = true;
    evbuffer* out = bufferevent_get_output(bev_.get());
    evbuffer_drain(out, evbuffer_get_length(out));
    return;
  }
  std::string detail = std::string(connecting_ ? "connect failed" : "connection error") + " (" +
                       ErrnoString(err) + ")";
  if (connecting_) return Fail(Failure::kConnectFailed, detail);
  Fail((reused_ || queued_) && !parser_.started() ? Failure::kIdleConnectionLost : Failure::kBroken,
       detail);
}

void Upstream::HandleChildClosed() {
  if (parser_.FeedEof() == ResponseParser::Result::kMessageComplete) return Complete();
  if ((reused_ || queued_) && !parser_.started())
    return Fail(Failure::kIdleConnectionLost, "the child's connection closed before any answer");
  Fail(Failure::kBroken, parser_.error());
}

// Nothing moved for `timeout`: see "Timing" in upstream.h. Reading is only
// paused when the child has answered (R writes a response once its handler
// returned), so a client that does not read costs the child nothing more.
void Upstream::HandleTimeout() {
  std::ostringstream idle;
  idle << Seconds(timeout_) << "s";
  if (reading_paused_)
    return Fail(Failure::kClientNotReading, "the client took no response bytes for " + idle.str());
  bool waiting_for_client = !request_sent_ && !write_broken_ &&
                            evbuffer_get_length(bufferevent_get_output(bev_.get())) == 0;
  if (waiting_for_client)
    return Fail(Failure::kClientStalled, "the request body stopped arriving for " + idle.str());
  // A worker held up for `timeout` (a loaded machine, a long batch of
  // callbacks) finds its timer due before the read of what the child sent.
  if (ChildBytesWaiting()) return NoteProgress();
  Fail(Failure::kTimedOut, "no answer from the child for " + idle.str());
}

void Upstream::PauseReading() {
  reading_paused_ = true;
  bufferevent_disable(bev_.get(), EV_READ);
}

void Upstream::Complete() {
  clean_end_ = true;
  Finish(ipc::Outcome::kOk, true);
  if (sink_) return sink_->OnResponseEnd();
  if (on_done_) on_done_(*this);
}

void Upstream::Fail(Failure failure, const std::string& detail) {
  if (finished_) return;
  Log(LogLevel::kWarn) << log_prefix_ << ": child#" << lease_.child_id << ": " << detail
                       << "; lease released " << ipc::ToString(OutcomeValue(failure));
  Finish(OutcomeValue(failure));
  if (sink_) return sink_->OnUpstreamFailed(failure, detail);
  if (on_done_) on_done_(*this);
}

// The connection goes back to connections_ before the RELEASE leaves, so it
// is there when this worker gets the child's next lease, which a hand-over
// gives at once: the next request is written on it before this returns.
void Upstream::Finish(ipc::Outcome outcome, bool may_hand_over) {
  bool reusable = Reusable();
  finished_ = true;
  evtimer_del(timer_.get());
  if (reusable) {
    connections_.Put(lease_.child_id, std::move(bev_));
  } else {
    bev_.reset();  // closes the child's connection; safe inside its own callback
  }
  if (may_hand_over) return master_.ReleaseOk(lease_.req, lease_.child_id, lease_.socket_path);
  master_.Release(lease_.req, lease_.child_id, outcome);
}

// httpuv's rules for a second request on a connection: see upstream.h.
bool Upstream::Reusable() const {
  if (!keep_alive_ || !clean_end_ || !bev_ || !request_sent_ || write_broken_) return false;
  if (!parser_.keeps_connection() || parser_.head().status == 101) return false;
  return evbuffer_get_length(bufferevent_get_output(bev_.get())) == 0 &&
         evbuffer_get_length(bufferevent_get_input(bev_.get())) == 0;
}

bool Upstream::ChildBytesWaiting() const {
  int unread = 0;
  return ioctl(bufferevent_getfd(bev_.get()), FIONREAD, &unread) == 0 && unread > 0;
}

// Restarts the `timeout` clock: bytes moved in one direction or the other.
void Upstream::NoteProgress() {
  if (!finished_) ArmTimer();
}

void Upstream::ArmTimer() {
  if (timeout_.count() <= 0) return;
  timeval tv = ToTimeval(timeout_);
  evtimer_add(timer_.get(), &tv);
}

}  // namespace valved::worker
