// One client TCP connection: requests parsed in order (keep-alive and
// pipelining), each proxied to a leased child through an Upstream, responses
// written back in order, and the connection's timeouts.
//
// Buffering (request_buffering, response_buffering): a request body is read
// whole into a Spool before a child is leased, and a response is taken from
// the child as fast as it comes, through a Spool into the client's output, so
// the lease ends when the child is done however slow the client is.
//
// Principle: one request at a time. A pipelined request waits, unparsed, in
// the input buffer until the current response is complete, so responses can
// only leave in request order. The phase says what the connection is waiting
// for; the single timer means what the phase says it means.
//
// Lifetime: the connection never deletes itself. When it is done it tells its
// host, which buries it (common/graveyard.h), so callbacks that end it can
// still touch its members until they return.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/clock.h"
#include "common/config.h"
#include "common/event_ptr.h"
#include "common/graveyard.h"
#include "common/request_stats.h"
#include "common/unique_fd.h"
#include "common/write_now.h"
#include "worker/access_log.h"
#include "worker/child_connections.h"
#include "worker/http_util.h"
#include "worker/master_link.h"
#include "worker/request_parser.h"
#include "worker/route_times.h"
#include "worker/spool.h"
#include "worker/upstream.h"

namespace valved::worker {

class ClientConnection;

/// What a connection needs from the worker that owns it.
class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  virtual event_base* base() = 0;
  virtual const Config& config() const = 0;
  virtual MasterLink& master() = 0;
  virtual ChildConnections& child_connections() = 0;
  /// How long each route's requests take in R (queue_in_child).
  virtual RouteTimes& route_times() = 0;
  virtual Graveyard& graveyard() = 0;
  /// Where spools put their temporary files, and the bytes they may hold.
  virtual const std::string& temp_dir() const = 0;
  virtual TempFileBudget& temp_budget() = 0;
  virtual uint64_t NextRequestId() = 0;
  virtual uint64_t worker_id() const = 0;
  /// The worker's counters; call StatsChanged() after changing them.
  virtual RequestStats& stats() = 0;
  virtual void StatsChanged() = 0;
  virtual const AccessLog& access_log() const = 0;
  /// QUIT arrived: answer in-flight requests with Connection: close.
  virtual bool quitting() const = 0;
  /// The connection is finished; the host buries it.
  virtual void OnConnectionClosed(ClientConnection& connection) = 0;
  /// The client left while its child is still answering: the host keeps the
  /// upstream until the child is done.
  virtual void AdoptOrphan(std::unique_ptr<Upstream> upstream) = 0;
};

class ClientConnection final : private Upstream::Sink {
 public:
  enum class Phase {
    kReadingHead,      ///< a request head is arriving (header_timeout)
    kIdle,             ///< keep-alive between requests (keepalive_timeout)
    kReadingBody,      ///< buffering a request body before a lease (timeout without progress)
    kWaitingForLease,  ///< ACQUIRE sent, parser paused, the client is not parsed
    kProxying,         ///< leased: body going up, response coming down (child timeout)
    kClosing,          ///< the last response is being written (timeout without progress)
    kLingering,        ///< write side shut; reading and discarding until EOF (short timer)
    kClosed,           ///< waiting to be buried
  };

  /// Takes the accepted socket; `peer` is who R is told sent the requests.
  ClientConnection(ConnectionHost& host, UniqueFd fd, ClientPeer peer);
  ~ClientConnection() override;
  ClientConnection(const ClientConnection&) = delete;
  ClientConnection& operator=(const ClientConnection&) = delete;

  /// QUIT: a keep-alive connection between requests with nothing pending
  /// closes now; any other one is served once more (Connection: close).
  void OnQuit();
  Phase phase() const { return phase_; }

 private:
  // libevent trampolines.
  static void OnRead(bufferevent*, void* arg);
  static void OnWrite(bufferevent*, void* arg);
  static void OnEvent(bufferevent*, short what, void* arg);
  static void OnTimer(evutil_socket_t, short, void* arg);
  void Guard(const std::function<void()>& body);

  // Requests.
  void ParseInput();
  bool CanParse() const;
  bool HandleParsed(RequestParser::Result result);
  void StartRequest();
  void OnRequestHead();
  void AcquireLease();
  void OnLeaseAnswer(const MasterLink::LeaseAnswer& answer);
  void StartProxying(const ipc::Grant& grant);
  void OnConnectFailed();
  bool CanRetry() const;
  void StartReadingBody();
  void OnRequestBody(std::string_view data);
  void BufferBody(std::string_view data);
  void OnRequestComplete();
  void ForgetExchange();
  void StartIdle();
  bool ClientBytesPending() const;

  // Upstream::Sink.
  void OnResponseHead(const ResponseHead& head) override;
  void OnResponseBody(std::string_view data) override;
  void OnResponseBodyIn(evbuffer* from, size_t n) override;
  void OnResponseEnd() override;
  void OnUpstreamFailed(Upstream::Failure failure, const std::string& detail) override;
  bool IsSinkFull() const override;
  void OnUpstreamDrained() override;

  // Endings.
  void RespondError(int status, std::string_view detail, int retry_after_seconds = 0);
  void CloseAfterWrite();
  void Linger();
  void CloseNow();
  void HandOffUpstream(const std::string& reason);
  void HandleDrained();
  void HandleEvent(short what);
  void HandleClientEof();
  void HandleTimer();

  void Write(std::string_view data);
  void WriteBody(std::initializer_list<std::string_view> pieces);
  template <typename InMemory, typename ToSpool>
  void PassBody(size_t size, InMemory in_memory, ToSpool to_spool);
  void NoteSpoolFailed(const std::string& error);
  void CountWritten(size_t bytes);
  void SendQueued();
  Spool& SpoolFor(std::unique_ptr<Spool>& spool, int64_t memory_limit);
  size_t Unsent() const;
  void WatchSending(Duration duration);
  bool SendProgressed() const;
  void ArmTimer(Duration duration);
  std::string LogPrefix() const;
  /// R is done with the request (answered, or timed out): note how long it took.
  void RecordRouteTime();
  /// The request is answered (by R or by valved): count it and log it.
  void FinishRequest(int status);

  ConnectionHost& host_;
  ClientPeer peer_;
  RequestParser parser_;
  Phase phase_ = Phase::kReadingHead;

  // The current request.
  uint64_t req_ = 0;                                  // 0 until its head is complete
  TimePoint started_at_{};                            // when its head was complete
  TimePoint asked_at_{};                              // when the last lease was asked for
  TimePoint granted_at_{};                            // when a child was granted ({} if none)
  std::chrono::steady_clock::duration queue_wait_{};  // waiting for leases, in total
  bool request_complete_ = false;                     // its body has been read
  bool client_eof_ = false;                           // the client shut its sending side
  std::unique_ptr<Upstream> upstream_;
  EvbufferPtr request_body_;               // the buffered body, until it goes to the child
  std::unique_ptr<Spool> request_spool_;   // kept for the connection's next requests
  std::unique_ptr<Spool> response_spool_;  // (their temporary files are reused)
  bool buffer_response_ = false;  // this response goes through response_spool_ (BuffersResponse)
  bool spool_failed_ = false;     // the response spool's file failed: push back on the child
  uint64_t child_id_ = 0;
  int connect_attempts_ = 0;  // leases granted whose child could not be connected to
  bool served_ = false;       // a response has been completed on this connection

  // The current response.
  bool head_sent_ = false;  // a final head went out; an error status can no longer
  BodyFraming framing_ = BodyFraming::kNone;
  bool keep_alive_ = false;
  int status_ = 0;
  uint64_t body_bytes_ = 0;

  // Bytes given to the client's output buffer, and how many of them the
  // client had taken when the timer was last armed to watch its reading.
  uint64_t written_ = 0;
  uint64_t taken_at_check_ = 0;

  EventPtr timer_;
  SoonCall send_soon_;  // SendQueued() once the running callback is done
  BuffereventPtr bev_;
};

}  // namespace valved::worker
