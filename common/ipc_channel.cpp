#include "common/ipc_channel.h"

#include <event2/buffer.h>
#include <event2/util.h>

#include <cstdlib>
#include <utility>

#include "common/log.h"
#include "common/socket_read.h"
#include "common/write_now.h"

namespace valved {

IpcChannel::IpcChannel(event_base* base, UniqueFd fd, std::string name, MessageHandler on_message,
                       CloseHandler on_close)
    : name_(std::move(name)), on_message_(std::move(on_message)), on_close_(std::move(on_close)) {
  evutil_make_socket_nonblocking(fd.get());
  bev_.reset(bufferevent_socket_new(base, fd.release(), BEV_OPT_CLOSE_ON_FREE));
  ReadWithoutSizing(bev_.get());
  bufferevent_setcb(bev_.get(), OnRead, OnWrite, OnEvent, this);
  // Send() writes at once (common/write_now.h), so a worker's RELEASE
  // reaches the master before the end of the response that lets the client
  // send its next request, perhaps through another worker, which must then
  // find the child free: a client's bytes leave later in the callback's turn.
  // The highest priority, where the base has several (the worker's): an
  // answer from the master is handled before the clients' events.
  bufferevent_priority_set(bev_.get(), 0);
  ReadAndWriteNow(bev_.get());
  flush_.reset(event_new(base, -1, 0, OnFlush, this));
  event_priority_set(flush_.get(), event_base_get_npriorities(base) - 1);
}

IpcChannel::~IpcChannel() { *alive_ = false; }

void IpcChannel::Send(const ipc::Message& message) {
  if (!open_) return;
  Queue(message);
  // Now, before what the same callback queues elsewhere.
  Flush();
}

void IpcChannel::SendBatched(const ipc::Message& message) {
  if (!open_) return;
  Queue(message);
  if (std::exchange(flush_scheduled_, true)) return;
  event_active(flush_.get(), EV_TIMEOUT, 0);
}

void IpcChannel::Queue(const ipc::Message& message) {
  std::string line = ipc::FormatMessage(message);
  Log(LogLevel::kDebug) << name_ << ": send " << line;
  line += '\n';
  bufferevent_write(bev_.get(), line.data(), line.size());
}

void IpcChannel::Flush() {
  if (std::exchange(flush_scheduled_, false)) event_del(flush_.get());
  if (WriteNow(bev_.get()) && on_flushed_) std::exchange(on_flushed_, nullptr)();
}

void IpcChannel::OnFlush(evutil_socket_t, short, void* arg) {
  auto* self = static_cast<IpcChannel*>(arg);
  self->flush_scheduled_ = false;
  self->Flush();
}

void IpcChannel::Shutdown() {
  open_ = false;
  bufferevent_disable(bev_.get(), EV_READ);
}

void IpcChannel::WhenFlushed(std::function<void()> done) {
  if (evbuffer_get_length(bufferevent_get_output(bev_.get())) == 0) return done();
  on_flushed_ = std::move(done);
}

void IpcChannel::OnRead(bufferevent*, void* arg) { static_cast<IpcChannel*>(arg)->ReadLines(); }

// Runs when the output buffer has drained (the write low-watermark is 0).
void IpcChannel::OnWrite(bufferevent*, void* arg) {
  auto* self = static_cast<IpcChannel*>(arg);
  WriteDrained(self->bev_.get());
  if (self->on_flushed_) std::exchange(self->on_flushed_, nullptr)();
}

void IpcChannel::OnEvent(bufferevent*, short what, void* arg) {
  auto* self = static_cast<IpcChannel*>(arg);
  if (what & BEV_EVENT_EOF) {
    self->Fail("peer closed the channel");
  } else if (what & BEV_EVENT_ERROR) {
    self->Fail("channel error: " + ErrnoString(EVUTIL_SOCKET_ERROR()));
  }
}

void IpcChannel::ReadLines() {
  evbuffer* in = bufferevent_get_input(bev_.get());
  std::shared_ptr<bool> alive = alive_;
  while (open_) {
    size_t len = 0;
    char* raw = evbuffer_readln(in, &len, EVBUFFER_EOL_LF);
    if (!raw) break;
    std::string line(raw, len);
    std::free(raw);
    Log(LogLevel::kDebug) << name_ << ": recv " << line;
    std::string error;
    auto message = ipc::ParseMessage(line, &error);
    if (!message) return Fail("protocol error: " + error + " in \"" + line + "\"");
    on_message_(*message);
    if (!*alive) return;  // the handler destroyed this channel
  }
  if (open_ && evbuffer_get_length(in) > ipc::kMaxLineLength) {
    Fail("protocol error: line longer than " + std::to_string(ipc::kMaxLineLength) + " bytes");
  }
}

void IpcChannel::Fail(const std::string& reason) {
  if (!open_) return;
  open_ = false;
  if (std::exchange(flush_scheduled_, false)) event_del(flush_.get());
  bufferevent_disable(bev_.get(), EV_READ | EV_WRITE);
  on_close_(reason);  // may destroy this channel: nothing may follow
}

}  // namespace valved
