#include "worker/client_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <chrono>
#include <sstream>
#include <stdexcept>

#include "common/log.h"
#include "common/write_now.h"

namespace valved::worker {
namespace {

// Unparsed client bytes kept while a request waits for its child or its
// response (pipelined requests): beyond this, reading the client pauses.
constexpr size_t kClientReadHigh = 64 * 1024;
// Bytes handed to the parser at once, bounding what one call can push upstream.
constexpr size_t kFeedChunk = 16 * 1024;
// After the last response, how long to read and discard what the client still
// sends, so that closing does not reset the connection before it read the response.
constexpr Duration kLingerTime = std::chrono::seconds(2);
// Request targets longer than this are cut in log lines.
constexpr size_t kLoggedTargetLength = 120;
// Leases tried per request when connecting to the granted child fails (it
// died after the master's last look at it). The bound stops the loop when
// children die faster than the master notices.
constexpr int kMaxConnectAttempts = 3;

std::string SecondsText(Duration d) {
  std::ostringstream out;
  out << Seconds(d) << "s";
  return out.str();
}

}  // namespace

ClientConnection::ClientConnection(ConnectionHost& host, UniqueFd fd, ClientPeer peer)
    : host_(host),
      peer_(std::move(peer)),
      parser_(RequestLimits::FromConfig(host.config())),
      timer_(evtimer_new(host.base(), OnTimer, this)),
      send_soon_(host.base(), [this] { Guard([this] { SendQueued(); }); }) {
  // Without this a small last chunk waits for the client's delayed ACK (40ms).
  int one = 1;
  setsockopt(fd.get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  evutil_make_socket_nonblocking(fd.get());
  bev_.reset(bufferevent_socket_new(host.base(), fd.release(), BEV_OPT_CLOSE_ON_FREE));
  UseLargeIo(bev_.get());
  bufferevent_setcb(bev_.get(), OnRead, OnWrite, OnEvent, this);
  bufferevent_setwatermark(bev_.get(), EV_READ, 0, kClientReadHigh);
  ReadAndWriteNow(bev_.get());
  parser_.SetBodyHandler([this](std::string_view data) { OnRequestBody(data); });
  ArmTimer(host.config().header_timeout);
}

ClientConnection::~ClientConnection() = default;

// Only a connection that has been served and sits between requests may be
// closed unasked (as nginx does): its client knows keep-alive connections
// can close. A new connection was accepted to be served, and header_timeout
// still bounds one that sends nothing. The socket is looked at, not just what
// libevent has read, because a request may be waiting there already.
void ClientConnection::OnQuit() {
  bool between_requests =
      phase_ == Phase::kIdle || (phase_ == Phase::kReadingHead && !parser_.in_message());
  // Otherwise answered with Connection: close (or 408), then closed.
  if (!between_requests || !served_ || ClientBytesPending()) return;
  Unsent() > 0 ? CloseAfterWrite() : CloseNow();
}

// True when request bytes wait, read by libevent or still in the socket (an
// EOF or error counts as nothing: the read event will report it).
bool ClientConnection::ClientBytesPending() const {
  if (evbuffer_get_length(bufferevent_get_input(bev_.get())) > 0) return true;
  char byte;
  return ::recv(bufferevent_getfd(bev_.get()), &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0;
}

// --- libevent entry points -------------------------------------------------

void ClientConnection::OnRead(bufferevent*, void* arg) {
  auto* self = static_cast<ClientConnection*>(arg);
  self->Guard([self] {
    if (self->phase_ == Phase::kClosing || self->phase_ == Phase::kLingering) {
      evbuffer* in = bufferevent_get_input(self->bev_.get());
      evbuffer_drain(in, evbuffer_get_length(in));  // nobody will answer it
      return;
    }
    // A body being buffered is all taken: read it in large pieces.
    if (self->phase_ == Phase::kReadingBody) ReadAvailable(self->bev_.get());
    self->ParseInput();
  });
}

void ClientConnection::OnWrite(bufferevent*, void* arg) {
  auto* self = static_cast<ClientConnection*>(arg);
  self->Guard([self] {
    WriteDrained(self->bev_.get());
    self->HandleDrained();
  });
}

void ClientConnection::OnEvent(bufferevent*, short what, void* arg) {
  auto* self = static_cast<ClientConnection*>(arg);
  self->Guard([self, what] { self->HandleEvent(what); });
}

void ClientConnection::OnTimer(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<ClientConnection*>(arg);
  self->Guard([self] { self->HandleTimer(); });
}

void ClientConnection::Guard(const std::function<void()>& body) {
  try {
    body();
  } catch (const std::exception& e) {
    Log(LogLevel::kError) << LogPrefix() << ": internal error: " << e.what()
                          << "; closing the connection";
    CloseNow();
  }
}

// --- requests --------------------------------------------------------------

void ClientConnection::ParseInput() {
  while (CanParse()) {
    evbuffer* in = bufferevent_get_input(bev_.get());
    evbuffer_iovec chunk;
    if (evbuffer_peek(in, -1, nullptr, &chunk, 1) < 1 || chunk.iov_len == 0) return;
    if (phase_ == Phase::kIdle) StartRequest();
    size_t used = 0;
    std::string_view data(static_cast<char*>(chunk.iov_base), std::min(chunk.iov_len, kFeedChunk));
    RequestParser::Result result = parser_.Feed(data, &used);
    evbuffer_drain(in, used);
    host_.stats().bytes_in += used;
    if (!HandleParsed(result)) return;
  }
}

bool ClientConnection::CanParse() const {
  switch (phase_) {
    case Phase::kReadingHead:
    case Phase::kIdle:
    case Phase::kReadingBody:
      return true;
    case Phase::kProxying:  // the body flows only as fast as the child takes it
      return !request_complete_ && upstream_ && !upstream_->full();
    default:
      return false;
  }
}

// Returns false when parsing must stop until something else happens.
bool ClientConnection::HandleParsed(RequestParser::Result result) {
  switch (result) {
    case RequestParser::Result::kNeedMore:
      return true;
    case RequestParser::Result::kHeadComplete:
      OnRequestHead();
      return false;
    case RequestParser::Result::kMessageComplete:
      OnRequestComplete();
      return false;
    case RequestParser::Result::kError:
      RespondError(parser_.error().status, parser_.error().detail);
      return false;
  }
  return false;
}

void ClientConnection::StartRequest() {
  phase_ = Phase::kReadingHead;
  ArmTimer(host_.config().header_timeout);
}

void ClientConnection::OnRequestHead() {
  evtimer_del(timer_.get());
  ForgetExchange();
  req_ = host_.NextRequestId();
  started_at_ = std::chrono::steady_clock::now();
  if (host_.config().request_buffering && parser_.head().has_body()) return StartReadingBody();
  AcquireLease();
}

// The body is read whole before a child is leased, so that a slow upload
// holds no R process. The client that waits for 100 Continue gets it now:
// valved, not R, accepts the body.
void ClientConnection::StartReadingBody() {
  phase_ = Phase::kReadingBody;
  request_body_.reset(evbuffer_new());
  // It will be moved into the child's socket output: its file segments are
  // then sent with sendfile(), never mapped.
  evbuffer_set_flags(request_body_.get(), EVBUFFER_FLAG_DRAINS_TO_FD);
  if (ExpectsContinue(parser_.head())) Write("HTTP/1.1 100 Continue\r\n\r\n");
  ArmTimer(host_.config().timeout);
  parser_.Resume();
  ParseInput();
}

// The parser stays paused at the end of the head until a child is connected,
// so the body is still unread in the input buffer while the lease is sought.
void ClientConnection::AcquireLease() {
  phase_ = Phase::kWaitingForLease;
  asked_at_ = std::chrono::steady_clock::now();
  if (LogEnabled(LogLevel::kDebug)) Log(LogLevel::kDebug) << LogPrefix() << ": waiting for a child";
  host_.master().Acquire(req_, [this](const MasterLink::LeaseAnswer& answer) {
    Guard([this, &answer] { OnLeaseAnswer(answer); });
  });
}

void ClientConnection::OnLeaseAnswer(const MasterLink::LeaseAnswer& answer) {
  auto waited = std::chrono::steady_clock::now() - asked_at_;
  queue_wait_ += waited;
  host_.stats().queue_wait.Observe(waited);
  if (const auto* deny = std::get_if<ipc::Deny>(&answer)) {
    return RespondError(503, DenyDetail(deny->reason), RetryAfterSeconds(deny->reason));
  }
  StartProxying(std::get<ipc::Grant>(answer));
}

void ClientConnection::StartProxying(const ipc::Grant& grant) {
  child_id_ = grant.child_id;
  granted_at_ = std::chrono::steady_clock::now();
  RequestHead head = parser_.head();
  if (request_body_) head = WithBufferedBody(head, evbuffer_get_length(request_body_.get()));
  bool keep_alive = host_.config().child_keepalive && !head.is_head();
  upstream_ = std::make_unique<Upstream>(
      host_.base(), host_.master(), host_.child_connections(),
      Upstream::Lease{grant.req, grant.child_id, grant.socket_path}, host_.config().timeout,
      head.is_head(), keep_alive, static_cast<Upstream::Sink*>(this), LogPrefix());
  std::string error;
  if (!upstream_->Start(ChildRequestHead(head, peer_, keep_alive), head.chunked, &error)) {
    host_.graveyard().Bury(std::move(upstream_));
    return OnConnectFailed();
  }
  phase_ = Phase::kProxying;
  if (host_.master().Serving(grant.req, grant.child_id, grant.socket_path,
                             host_.route_times().IsQuick(head.method, head.target))) {
    upstream_->NoteQueued();
    ++host_.stats().queued_in_child;
  }
  if (request_body_) {
    upstream_->SendBody(request_body_.get());  // moves the chains, file segments included
    request_body_.reset();
  }
  // A buffered body, or a second try of a bodyless request (OnUpstreamFailed).
  if (request_complete_) return upstream_->EndBody();
  parser_.Resume();
  ParseInput();  // the body, or the end of a bodyless request
}

// The lease has been released broken, which makes the master check the
// child. No request byte reached R, so the request can ask for another child
// (under the same id: the master knows the old lease is over) instead of
// failing for a death that was not its doing.
void ClientConnection::OnConnectFailed() {
  child_id_ = 0;
  if (++connect_attempts_ >= kMaxConnectAttempts)
    return RespondError(502, "could not connect to the R process");
  Log(LogLevel::kInfo) << LogPrefix() << ": asking for another child";
  AcquireLease();
}

void ClientConnection::OnRequestBody(std::string_view data) {
  if (phase_ == Phase::kReadingBody) return BufferBody(data);
  if (upstream_) upstream_->WriteBody(data);
}

void ClientConnection::BufferBody(std::string_view data) {
  std::string error;
  if (!SpoolFor(request_spool_, host_.config().request_buffer_size)
           .Append(request_body_.get(), {data}, &error))
    return RespondError(507, "cannot buffer the request body: " + error);
  ArmTimer(host_.config().timeout);  // bytes arrived
}

void ClientConnection::OnRequestComplete() {
  if (phase_ == Phase::kReadingBody) {
    std::string error;
    if (!SpoolFor(request_spool_, host_.config().request_buffer_size)
             .Flush(request_body_.get(), &error))
      return RespondError(507, "cannot buffer the request body: " + error);
    request_complete_ = true;
    evtimer_del(timer_.get());
    return AcquireLease();
  }
  if (phase_ != Phase::kProxying) return;  // refused while buffering
  request_complete_ = true;
  if (upstream_) upstream_->EndBody();
}

// Clears what belonged to the previous request and its response, so that an
// error in the next request's head is answered with a status of its own.
void ClientConnection::ForgetExchange() {
  req_ = 0;
  request_complete_ = false;
  request_body_.reset();
  buffer_response_ = false;
  spool_failed_ = false;
  head_sent_ = false;
  framing_ = BodyFraming::kNone;
  keep_alive_ = false;
  status_ = 0;
  body_bytes_ = 0;
  child_id_ = 0;
  connect_attempts_ = 0;
  granted_at_ = {};
  queue_wait_ = {};
}

void ClientConnection::StartIdle() {
  phase_ = Phase::kIdle;
  ForgetExchange();
  parser_.Resume();
  WatchSending(host_.config().keepalive_timeout);
}

// --- the response (Upstream::Sink) -------------------------------------------

void ClientConnection::OnResponseHead(const ResponseHead& head) {
  const RequestHead& request = parser_.head();
  if (head.is_interim()) {
    // 100 Continue and friends mean nothing to an HTTP/1.0 client.
    if (request.http_minor >= 1) Write(ClientResponseHead(head, BodyFraming::kNone, true, 1));
    return;
  }
  framing_ = ChooseFraming(head, request.http_minor);
  // A request whose body is still arriving cannot be followed by another.
  keep_alive_ = request.keep_alive && request_complete_ && framing_ != BodyFraming::kUntilClose &&
                !host_.quitting() && !client_eof_;
  status_ = head.status;
  buffer_response_ = BuffersResponse(head, host_.config().response_buffering);
  head_sent_ = true;
  Write(ClientResponseHead(head, framing_, keep_alive_, request.http_minor));
}

void ClientConnection::OnResponseBody(std::string_view data) {
  body_bytes_ += data.size();
  if (framing_ == BodyFraming::kNone) return;
  if (framing_ == BodyFraming::kChunked)
    return WriteBody({ChunkHeader(data.size()), data, kChunkEnd});
  WriteBody({data});
}

// The body bytes pass as they are (kLength) or not at all (kNone), so the
// chains move on; any other framing takes them through OnResponseBody().
void ClientConnection::OnResponseBodyIn(evbuffer* from, size_t n) {
  if (framing_ == BodyFraming::kNone || !bev_) {
    body_bytes_ += n;
    evbuffer_drain(from, n);
    return;
  }
  if (framing_ != BodyFraming::kLength) {
    std::string copy(n, '\0');
    evbuffer_remove(from, copy.data(), n);
    return OnResponseBody(copy);
  }
  body_bytes_ += n;
  // In pieces no larger than the memory limit (one wake-up may read more
  // from R), so that each can stay in memory when the client keeps up.
  auto largest = static_cast<size_t>(std::max<int64_t>(host_.config().response_buffer_size, 1));
  while (n > 0) {
    size_t piece = std::min(n, largest);
    PassBody(
        piece, [&](evbuffer* out) { evbuffer_remove_buffer(from, out, piece); },
        [&](Spool& spool, evbuffer* out, std::string* error) {
          return spool.Move(out, from, piece, error);
        });
    n -= piece;
  }
}

void ClientConnection::OnResponseEnd() {
  RecordRouteTime();
  if (framing_ == BodyFraming::kChunked) Write(kLastChunk);
  FinishRequest(status_);
  host_.graveyard().Bury(std::move(upstream_));
  served_ = true;
  if (!keep_alive_ || host_.quitting() || client_eof_) return CloseAfterWrite();
  StartIdle();
  ParseInput();  // a pipelined request may be waiting already
}

void ClientConnection::OnUpstreamFailed(Upstream::Failure failure, const std::string&) {
  if (failure == Upstream::Failure::kTimedOut) RecordRouteTime();
  host_.graveyard().Bury(std::move(upstream_));
  if (failure == Upstream::Failure::kClientNotReading) {
    FinishRequest(status_);
    return CloseNow();  // waiting for it to read the rest would hold the connection for ever
  }
  if (failure == Upstream::Failure::kIdleConnectionLost && CanRetry()) return OnConnectFailed();
  if (head_sent_) {
    FinishRequest(status_);
    // Mid-response: the close, short of the announced length or the last
    // chunk, is the only way left to tell the client.
    return CloseAfterWrite();
  }
  switch (failure) {
    case Upstream::Failure::kConnectFailed:
      return RespondError(502, "could not connect to the R process");
    case Upstream::Failure::kBroken:
    case Upstream::Failure::kIdleConnectionLost:
      return RespondError(502, "the R process failed before completing its response");
    case Upstream::Failure::kTimedOut:
      return RespondError(
          504, "the R process did not answer within " + SecondsText(host_.config().timeout));
    case Upstream::Failure::kClientStalled:
      return RespondError(408, "the request body did not arrive in time");
    case Upstream::Failure::kClientNotReading:
      return;  // handled above
  }
}

// A request whose kept connection closed before any answer may go to another
// child when resending it loses nothing and repeats nothing harmful: it was
// read whole, has no body, and its method is safe (RFC 9110 §9.2.1). The child
// has died (or closed the connection) before answering; no byte reached the
// client.
bool ClientConnection::CanRetry() const {
  const RequestHead& head = parser_.head();
  return request_complete_ && !head_sent_ && !head.has_body() &&
         (head.method == "GET" || head.method == "OPTIONS");
}

// Buffering takes all the child sends, unless the temporary file failed: then,
// as without buffering, the child waits for the client.
bool ClientConnection::IsSinkFull() const {
  if (!bev_) return false;
  if (buffer_response_ && !spool_failed_) return false;
  size_t limit = std::max<size_t>(kMaxBuffered, host_.config().response_buffer_size);
  return Unsent() > limit;
}

void ClientConnection::OnUpstreamDrained() {
  if (phase_ == Phase::kProxying) ParseInput();
}

// --- endings -----------------------------------------------------------------

void ClientConnection::RespondError(int status, std::string_view detail, int retry_after_seconds) {
  if (upstream_) HandOffUpstream("request failed: " + std::string(detail));
  if (head_sent_) return CloseAfterWrite();  // too late for a status of our own
  Log(LogLevel::kInfo) << LogPrefix() << ": " << status << " " << ReasonPhrase(status) << ": "
                       << detail;
  status_ = status;
  host_.stats().CountRejection(status);
  FinishRequest(status);
  bool head_request = req_ != 0 && parser_.head().is_head();
  Write(ErrorResponse(status, detail, head_request, retry_after_seconds));
  CloseAfterWrite();
}

// A client that stops reading cannot hold a closing connection (and a
// quitting worker) for ever: it gets `timeout` without progress.
void ClientConnection::CloseAfterWrite() {
  if (phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kWaitingForLease) host_.master().Cancel(req_);
  phase_ = Phase::kClosing;
  if (Unsent() == 0) return Linger();
  WatchSending(host_.config().timeout);
}

// Shuts the write side and reads until the client closes (or briefly), so
// unread request bytes do not make close() send a reset that could destroy
// the response in the client's receive buffer.
void ClientConnection::Linger() {
  if (client_eof_) return CloseNow();
  phase_ = Phase::kLingering;
  ::shutdown(bufferevent_getfd(bev_.get()), SHUT_WR);
  bufferevent_enable(bev_.get(), EV_READ);
  ArmTimer(kLingerTime);
}

void ClientConnection::CloseNow() {
  if (phase_ == Phase::kClosed) return;
  if (phase_ == Phase::kWaitingForLease) host_.master().Cancel(req_);
  if (upstream_) HandOffUpstream("the client left");
  phase_ = Phase::kClosed;
  evtimer_del(timer_.get());
  bev_.reset();  // closes the socket; safe inside the bufferevent's own callback
  Log(LogLevel::kDebug) << "connection from " << peer_.address << " closed";
  host_.OnConnectionClosed(*this);
}

// A child that saw the whole request is busy with it: it keeps its lease
// until its response has been read. Otherwise it never saw a request.
void ClientConnection::HandOffUpstream(const std::string& reason) {
  if (request_complete_) return host_.AdoptOrphan(std::move(upstream_));
  upstream_->Abandon(reason);
  host_.graveyard().Bury(std::move(upstream_));
}

void ClientConnection::HandleDrained() {
  spool_failed_ = false;  // room again: the file may be tried again
  if (phase_ == Phase::kClosing) return Linger();
  if (upstream_) upstream_->ResumeReading();
}

void ClientConnection::HandleEvent(short what) {
  if (what & BEV_EVENT_EOF) return HandleClientEof();
  if (what & BEV_EVENT_ERROR) {
    Log(LogLevel::kDebug) << LogPrefix() << ": client connection error ("
                          << ErrnoString(EVUTIL_SOCKET_ERROR()) << ")";
    CloseNow();
  }
}

// The client shut its sending side. After a whole request it may still be
// reading (a half-close), so it gets its response; while a request is queued
// for a child it counts as gone (as nginx does), so the waiter is cancelled.
void ClientConnection::HandleClientEof() {
  client_eof_ = true;
  switch (phase_) {
    case Phase::kProxying:
      if (!request_complete_) CloseNow();
      return;
    case Phase::kClosing:
      return;
    case Phase::kIdle:
    case Phase::kReadingHead:
      return CloseAfterWrite();  // a previous response may still be going out
    default:
      return CloseNow();
  }
}

void ClientConnection::HandleTimer() {
  const Config& config = host_.config();
  switch (phase_) {
    case Phase::kReadingHead:
      return RespondError(
          408, "the request head did not arrive within " + SecondsText(config.header_timeout));
    case Phase::kReadingBody:
      return RespondError(408,
                          "the request body stopped arriving for " + SecondsText(config.timeout));
    case Phase::kIdle:
      // Still sending the last response: wait on while the client reads it.
      if (Unsent() > 0 && SendProgressed()) return WatchSending(config.keepalive_timeout);
      return CloseNow();
    case Phase::kClosing:
      if (SendProgressed()) return WatchSending(config.timeout);
      Log(LogLevel::kInfo) << LogPrefix() << ": the client took no response bytes for "
                           << SecondsText(config.timeout) << "; closing";
      return CloseNow();
    case Phase::kLingering:
      return CloseNow();
    default:
      return;
  }
}

void ClientConnection::Write(std::string_view data) {
  if (!bev_) return;
  bufferevent_write(bev_.get(), data.data(), data.size());
  CountWritten(data.size());
}

// A response body goes through the spool (memory, then the temporary file)
// when response_buffering is on; if the file fails it stays in memory and
// IsSinkFull() makes the child wait instead.
void ClientConnection::WriteBody(std::initializer_list<std::string_view> pieces) {
  if (!bev_) return;
  size_t size = 0;
  for (std::string_view piece : pieces) size += piece.size();
  PassBody(
      size, [&](evbuffer* out) { Spool::AppendInMemory(out, pieces); },
      [&](Spool& spool, evbuffer* out, std::string* error) {
        return spool.Append(out, pieces, error);
      });
}

// The one way `size` response body bytes reach the client's output:
// `in_memory` puts them there directly, `to_spool` through the response spool.
// Before bytes would spill to the spool's file, the client is offered what
// waits in memory: one that keeps up takes it at once, and only what it
// cannot take now goes to the file (R never waits for the client).
template <typename InMemory, typename ToSpool>
void ClientConnection::PassBody(size_t size, InMemory in_memory, ToSpool to_spool) {
  evbuffer* out = bufferevent_get_output(bev_.get());
  if (buffer_response_ &&
      evbuffer_get_length(out) + size > static_cast<size_t>(host_.config().response_buffer_size))
    SendQueued();
  size_t before = evbuffer_get_length(out);
  std::string error;
  if (!buffer_response_) {
    in_memory(out);
  } else if (Spool& spool = SpoolFor(response_spool_, host_.config().response_buffer_size);
             !to_spool(spool, out, &error)) {
    NoteSpoolFailed(error);
    in_memory(out);
  } else if (!spool.Flush(out, &error)) {
    throw std::runtime_error(error);  // bytes lost: the Upstream fails the response
  }
  CountWritten(evbuffer_get_length(out) - before);
}

// The temporary file could not take a response's bytes: they stay in memory
// and IsSinkFull() makes the child wait for the client instead.
void ClientConnection::NoteSpoolFailed(const std::string& error) {
  if (!spool_failed_)
    Log(LogLevel::kWarn) << LogPrefix() << ": " << error << "; the child waits for the client";
  spool_failed_ = true;
}

// Queued bytes leave once the running callback is done, together with what
// else it queues (a head, its body, the last chunk).
void ClientConnection::CountWritten(size_t bytes) {
  written_ += bytes;
  host_.stats().bytes_out += bytes;
  send_soon_.Schedule();
}

void ClientConnection::SendQueued() {
  if (bev_ && WriteNow(bev_.get())) HandleDrained();
}

Spool& ClientConnection::SpoolFor(std::unique_ptr<Spool>& spool, int64_t memory_limit) {
  if (!spool)
    spool = std::make_unique<Spool>(host_.temp_dir(), static_cast<size_t>(memory_limit),
                                    host_.temp_budget());
  return *spool;
}

size_t ClientConnection::Unsent() const {
  return bev_ ? evbuffer_get_length(bufferevent_get_output(bev_.get())) : 0;
}

// Notes how much the client has taken so far and arms the timer, whose
// expiry then asks SendProgressed().
void ClientConnection::WatchSending(Duration duration) {
  taken_at_check_ = written_ - Unsent();
  ArmTimer(duration);
}

bool ClientConnection::SendProgressed() const { return written_ - Unsent() != taken_at_check_; }

void ClientConnection::ArmTimer(Duration duration) {
  if (duration.count() <= 0) {
    evtimer_del(timer_.get());
    return;
  }
  timeval tv = ToTimeval(duration);
  evtimer_add(timer_.get(), &tv);
}

std::string ClientConnection::LogPrefix() const {
  if (req_ == 0) return "client " + peer_.address;
  const RequestHead& head = parser_.head();
  std::string target = head.target.substr(0, kLoggedTargetLength);
  if (head.target.size() > kLoggedTargetLength) target += "...";
  return "req " + std::to_string(req_) + " " + head.method + " " + target;
}

void ClientConnection::RecordRouteTime() {
  if (granted_at_ == TimePoint{}) return;
  const RequestHead& head = parser_.head();
  host_.route_times().Record(head.method, head.target,
                             std::chrono::steady_clock::now() - granted_at_);
}

void ClientConnection::FinishRequest(int status) {
  auto now = std::chrono::steady_clock::now();
  bool has_head = req_ != 0;
  const RequestHead& head = parser_.head();
  // A head refused by valved's checks (413, 431...) was read whole: its
  // request line is known even though the request never started.
  bool head_read = has_head || (parser_.in_message() && !head.method.empty());
  auto total = has_head ? now - started_at_ : std::chrono::steady_clock::duration{};
  auto in_r =
      granted_at_ != TimePoint{} ? now - granted_at_ : std::chrono::steady_clock::duration{};
  RequestStats& stats = host_.stats();
  stats.CountRequest(head_read ? head.method : "", status, total);
  if (granted_at_ != TimePoint{}) stats.r_time.Observe(in_r);
  host_.StatsChanged();
  if (!host_.access_log().enabled()) return;
  auto seconds = [](auto d) { return std::chrono::duration<double>(d).count(); };
  auto header = [&](std::string_view name) {
    const Header* h = head_read ? FindHeader(head.headers, name) : nullptr;
    return h ? h->value : std::string();
  };
  host_.access_log().Write({peer_.address, std::chrono::system_clock::now(),
                            head_read ? head.method : "", head_read ? head.target : "",
                            head.http_minor, status, body_bytes_, header("Referer"),
                            header("User-Agent"), seconds(total), seconds(queue_wait_),
                            seconds(in_r), child_id_, host_.worker_id()});
}

}  // namespace valved::worker
