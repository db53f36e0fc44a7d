// One end of the master<->worker socketpair: a line-framed peer over a
// bufferevent (tmux's peer). Parses each line with ipc_protocol and hands it
// to OnMessage; a malformed or overlong line is a protocol error that closes
// the channel ("mark bad, close"), reported once through OnClose.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/event_ptr.h"
#include "common/ipc_protocol.h"
#include "common/unique_fd.h"

namespace valved {

class IpcChannel {
 public:
  using MessageHandler = std::function<void(const ipc::Message&)>;
  /// Called once, when the peer closed, an I/O error happened or a protocol error was seen.
  using CloseHandler = std::function<void(const std::string& reason)>;

  /// Takes ownership of `fd` (made non-blocking). `name` prefixes debug logs ("worker#2").
  IpcChannel(event_base* base, UniqueFd fd, std::string name, MessageHandler on_message,
             CloseHandler on_close);
  ~IpcChannel();
  IpcChannel(const IpcChannel&) = delete;
  IpcChannel& operator=(const IpcChannel&) = delete;

  /// Writes one message at once, with any batched before it. Does nothing
  /// once the channel is closed.
  void Send(const ipc::Message& message);
  /// Queues one message to leave in one write with the others batched in
  /// the same turn of the event loop: at the turn's end, or with the next
  /// Send(), whichever comes first. The peer then wakes once per batch
  /// instead of once per message, and nothing waits beyond the turn.
  void SendBatched(const ipc::Message& message);
  bool open() const { return open_; }
  /// Sends what is queued, then stops reading; no handler runs afterwards.
  void Shutdown();
  /// Calls `done` once everything queued so far has been written to the
  /// socket (at once when nothing is queued), so that a process can exit
  /// without losing its last messages.
  void WhenFlushed(std::function<void()> done);

 private:
  static void OnRead(bufferevent* bev, void* arg);
  static void OnWrite(bufferevent* bev, void* arg);
  static void OnEvent(bufferevent* bev, short what, void* arg);
  static void OnFlush(evutil_socket_t, short, void* arg);
  void Queue(const ipc::Message& message);
  void Flush();
  void ReadLines();
  void Fail(const std::string& reason);

  std::string name_;
  MessageHandler on_message_;
  CloseHandler on_close_;
  std::function<void()> on_flushed_;
  bool open_ = true;
  // Lets the read loop notice that a handler destroyed this channel.
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  BuffereventPtr bev_;
  // Writes the batch; activated at the base's lowest priority, so that it
  // runs after the callbacks already due in this turn (libevent runs a
  // priority's active events in the order they were activated).
  EventPtr flush_;
  bool flush_scheduled_ = false;
};

}  // namespace valved
