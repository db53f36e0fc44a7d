// The lease protocol between workers and the master.
//
// Principle: each worker has one socketpair to the master. Messages are ASCII
// lines ("\n"-terminated, at most kMaxLineLength bytes), tokens separated by
// one space, the first token an upper-case verb. They carry control only (tens
// of bytes), so text costs nothing and can be logged verbatim and typed by hand.
//
//   W->M  HELLO <version> <worker-id> <pid>     first line from a worker
//   M->W  WELCOME <version>                     handshake accepted
//   W->M  ACQUIRE <req> [<waited-us>]           lease a child for request <req>, which
//                                               already waited <waited-us> in its worker
//   M->W  GRANT <req> <child-id> <socket-path>  lease granted (path: rest of line)
//   M->W  DENY <req> <reason>                   queue_full|queue_timeout|shutting_down|no_children
//   W->M  RELEASE <req> <child-id> <outcome>    ok|broken|timed_out
//   W->M  CANCEL <req>                          client left before GRANT
//   W->M  TRANSFER <from-req> <to-req> <child-id>
//                                               the worker handed the child, whose
//                                               lease for <from-req> ended ok, to its
//                                               waiting request <to-req> (the lease
//                                               table allowed it; common/lease_table.h)
//   W->M  HANDED <child-id> <n> <waited>        the worker gave the child, on its lease, to
//                                               <n> more requests without an ACQUIRE, of
//                                               which <waited> waited in the worker (local
//                                               waits; the rest came while it lingered)
//   M->W  FLUSH                                 send the ACQUIREs of every local waiter
//   M->W  QUIT | TERMINATE | REOPEN             graceful stop | exit now | reopen logs
//   W->M  STATS <family> <n>...                 the worker's counters of one family so far
//                                               (common/request_stats.h); absolute, not deltas
//
// A request id is local to its worker; the master names a lease (worker, req).
// Races are normal: a GRANT may cross a CANCEL or a TRANSFER; the worker
// then RELEASEs the granted child ok.
//
// Bump kProtocolVersion whenever a message changes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace valved::ipc {

inline constexpr int kProtocolVersion = 4;
inline constexpr size_t kMaxLineLength = 512;

enum class DenyReason {
  kQueueFull,     ///< the waitlist is at max_queue
  kQueueTimeout,  ///< waited longer than queue_timeout
  kShuttingDown,  ///< the master is stopping
  kNoChildren,    ///< children cannot start (boot failures)
};

enum class Outcome {
  kOk,        ///< the child answered and its connection ended cleanly
  kBroken,    ///< I/O error with the child mid-request: the master checks the process
  kTimedOut,  ///< the child did not answer within `timeout`: the master replaces it
};

struct Hello {
  int version = kProtocolVersion;
  uint64_t worker_id = 0;
  uint64_t pid = 0;
};
struct Welcome {
  int version = kProtocolVersion;
};
struct Acquire {
  uint64_t req = 0;
  uint64_t waited_us = 0;  ///< time the request waited in its worker before this
};
struct Grant {
  uint64_t req = 0;
  uint64_t child_id = 0;
  std::string socket_path;
};
struct Deny {
  uint64_t req = 0;
  DenyReason reason = DenyReason::kQueueFull;
};
struct Release {
  uint64_t req = 0;
  uint64_t child_id = 0;
  Outcome outcome = Outcome::kOk;
};
struct Cancel {
  uint64_t req = 0;
};
struct Transfer {
  uint64_t from_req = 0;
  uint64_t to_req = 0;
  uint64_t child_id = 0;
};
/// Cumulative counters of one family (a word); a later STATS of the same
/// family replaces the earlier one, so a lost or repeated message costs nothing.
struct Stats {
  std::string family;
  std::vector<uint64_t> values;
};
/// Requests a worker served on a lease without telling the master one by one.
struct Handed {
  uint64_t child_id = 0;
  uint64_t count = 0;
  uint64_t waited = 0;  ///< of `count`
};
struct Flush {};
struct Quit {};
struct Terminate {};
struct Reopen {};

using Message = std::variant<Hello, Welcome, Acquire, Grant, Deny, Release, Cancel, Transfer, Quit,
                             Terminate, Reopen, Stats, Handed, Flush>;

const char* ToString(DenyReason reason);
const char* ToString(Outcome outcome);

/// One line, without the trailing newline.
std::string FormatMessage(const Message& message);
/// Parses one line (without its newline). On failure returns nullopt and sets *error.
std::optional<Message> ParseMessage(std::string_view line, std::string* error);

}  // namespace valved::ipc
