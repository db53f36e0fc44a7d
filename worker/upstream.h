// One lease in use: the connection to the leased child's Unix socket, the
// request going up and the child's response coming down.
//
// Timing: `timeout` bounds every wait without progress, not the whole
// exchange, so that a 1 GiB upload or download on a slow link is not cut off
// while bytes still move. When nothing moved for `timeout`, the side that
// holds things up is blamed: the client when it stopped sending its body or
// stopped reading the response (the child is released ok: it saw no complete
// request, or it has answered already), otherwise the child (timed_out: the
// master replaces it, since R may still be busy). Bytes the child sent that
// the worker has not read yet are progress: a worker held up past `timeout`
// (a loaded machine) finds its timer due before the read that was waiting,
// and must not blame the child for its own delay.
//
// Principle: the lease is released exactly once, by this object, when the
// child is done with the request: after a complete response (ok), when the
// child's connection breaks (broken), when the child is too slow (timed_out),
// or when the request could not be completed by the client and the connection
// to the child is closed before the child saw a whole request (ok: httpuv calls
// R only for complete requests, so the child is idle again). A response is
// only ever delivered to the client that sent the request; once that client
// is gone the rest is read and discarded, and the lease ends when the child
// has finished writing it.
//
// Keep-alive: when the request head let the child keep the connection
// (`keep_alive`), a connection that carried one clean exchange goes back to
// the worker's ChildConnections for the next lease of the same child. Clean
// means httpuv's rules hold: the whole request was taken, exactly one final
// response came back, complete by its own framing, with no interim response
// before it, no Connection: close and no byte after it. Anything else (HEAD,
// whose late body httpuv may still send; a cut or odd response; a timeout)
// closes it. Nothing is ever pipelined: a connection carries one request at a
// time.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/event_ptr.h"
#include "common/ipc_protocol.h"
#include "common/write_now.h"
#include "worker/child_connections.h"
#include "worker/master_link.h"
#include "worker/response_parser.h"
#include "worker/socket_io.h"

namespace valved::worker {

/// Bytes queued towards a peer before the other side stops being read.
inline constexpr size_t kMaxBuffered = 256 * 1024;

class Upstream {
 public:
  enum class Failure {
    kConnectFailed,       ///< a connect still in progress failed: 502, released broken (one
                          ///< that fails at once is no Failure: see Start())
    kBroken,              ///< the child closed, reset or sent garbage mid-response: 502, broken
    kTimedOut,            ///< the child made no progress for `timeout`: 504, timed_out
    kClientStalled,       ///< the client's request body stopped arriving: 408, released ok
    kClientNotReading,    ///< the client took no response bytes for `timeout`: released ok
    kIdleConnectionLost,  ///< a kept connection, or one queued behind another request, closed
                          ///< before any response byte (the child died in between): released
                          ///< broken; no response reached the client, so a bodyless request
                          ///< may ask for another child
  };

  /// The client side: where the response goes and who is told about progress.
  class Sink {
   public:
    virtual ~Sink() = default;
    /// A final head, or an interim (1xx) one that another head will follow.
    virtual void OnResponseHead(const ResponseHead& head) = 0;
    virtual void OnResponseBody(std::string_view data) = 0;
    /// The next `n` bytes of `from` are response body: take (drain) them all.
    virtual void OnResponseBodyIn(evbuffer* from, size_t n) = 0;
    /// The response is complete and the lease released ok.
    virtual void OnResponseEnd() = 0;
    /// The lease has been released (see Failure); no other call follows.
    virtual void OnUpstreamFailed(Failure failure, const std::string& detail) = 0;
    /// True while the client has too much unsent response; reading the child
    /// pauses until ResumeReading().
    virtual bool IsSinkFull() const = 0;
    /// The child has taken all queued request bytes; more body may follow.
    virtual void OnUpstreamDrained() = 0;
  };

  struct Lease {
    uint64_t req = 0;
    uint64_t child_id = 0;
    std::string socket_path;
  };

  /// `log_prefix` names the request in log lines ("req 7 GET /hello").
  /// `keep_alive`: the request head lets the child keep the connection, which
  /// then goes back to `connections` after a clean exchange.
  Upstream(event_base* base, MasterLink& master, ChildConnections& connections, Lease lease,
           Duration timeout, bool head_request, bool keep_alive, Sink* sink,
           std::string log_prefix);
  /// Passive: an unfinished lease is not released here (only the worker's own
  /// teardown destroys one, and the master then revokes the worker's leases).
  ~Upstream();
  Upstream(const Upstream&) = delete;
  Upstream& operator=(const Upstream&) = delete;

  /// Takes a kept connection to the child or connects, and queues
  /// `request_head`. When the connect fails
  /// at once, the lease is released broken, *error says why and false is
  /// returned (the sink is not called): no request byte left, so the caller
  /// may lease another child. (A connect to a Unix socket never stays in
  /// progress on Linux, so this is how a dead child's refusal shows.)
  bool Start(const std::string& request_head, bool chunked_body, std::string* error);
  /// The request waits in the child behind another (queue_in_child): if the
  /// child closes before any answer, it died before R reached this request.
  void NoteQueued() { queued_ = true; }
  /// Queues request body bytes (chunk-framed when the request is chunked).
  void WriteBody(std::string_view data);
  /// Moves a whole buffered body (already framed by Content-Length) to the child.
  void SendBody(evbuffer* body);
  /// The request body is complete.
  void EndBody();
  /// True while more than kMaxBuffered request bytes wait for the child.
  bool full() const;
  /// The sink has room again.
  void ResumeReading();
  /// The client left after sending its whole request: discard the rest of
  /// the response, then call `on_done` (the lease is then released).
  void Detach(std::function<void(Upstream&)> on_done);
  /// The client left or failed before the request was complete: close the
  /// child's connection and release the lease ok. No sink call follows.
  void Abandon(const std::string& reason);

  bool finished() const { return finished_; }
  uint64_t child_id() const { return lease_.child_id; }

 private:
  static void OnRead(bufferevent*, void* arg);
  static void OnWrite(bufferevent*, void* arg);
  static void OnEvent(bufferevent*, short what, void* arg);
  static void OnTimeout(evutil_socket_t, short, void* arg);

  void Guard(const std::function<void()>& body);
  void SendQueued();
  void OnRequestSent();
  void ReadResponse();
  bool MoveBody(evbuffer* in);
  bool HandleParsed(ResponseParser::Result result);
  void HandleEvent(short what);
  void HandleChildClosed();
  void HandleTimeout();
  /// Whether the child has sent bytes not read yet.
  bool ChildBytesWaiting() const;
  void PauseReading();
  void NoteProgress();
  void Complete();
  void Fail(Failure failure, const std::string& detail);
  /// Ends the lease; `may_hand_over`: ok, and the child may go straight to
  /// this worker's next waiting request (MasterLink::ReleaseOk).
  void Finish(ipc::Outcome outcome, bool may_hand_over = false);
  bool Reusable() const;
  void ArmTimer();

  event_base* base_;
  MasterLink& master_;
  ChildConnections& connections_;
  Lease lease_;
  Duration timeout_;
  Sink* sink_;  // nullptr once detached or abandoned
  std::function<void(Upstream&)> on_done_;
  std::string log_prefix_;
  ResponseParser parser_;
  bool chunked_body_ = false;
  bool keep_alive_ = false;
  bool reused_ = false;     // the connection came from connections_
  bool queued_ = false;     // the request waits in the child behind another
  bool clean_end_ = false;  // the response completed by its own framing
  bool connecting_ = false;
  bool request_sent_ = false;  // EndBody() was called
  bool write_broken_ = false;  // the child stopped reading the request
  bool reading_paused_ = false;
  bool finished_ = false;
  EventPtr timer_;
  SoonCall send_soon_;  // SendQueued() once the running callback is done
  BuffereventPtr bev_;
};

}  // namespace valved::worker
