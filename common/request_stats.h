// What a worker counts about the requests it serves, and how those counters
// travel to the master (STATS lines, common/ipc_protocol.h).
//
// Principle: counters are cumulative for the life of a worker process, and a
// worker reports them whole, family by family (absolute values, not deltas).
// The master keeps the last report of every worker and adds the final report
// of every worker that has exited; a repeated or coalesced report therefore
// changes nothing, and the totals add up exactly.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/histogram.h"
#include "common/ipc_protocol.h"

namespace valved {

struct RequestStats {
  /// Methods counted by name; anything else is "other".
  static constexpr std::array<std::string_view, 8> kMethods = {
      "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"};
  /// Statuses valved answers itself (never R): limits, timeouts, a child gone.
  static constexpr std::array<int, 11> kRejections = {400, 408, 413, 414, 417, 431,
                                                      501, 502, 503, 504, 505};

  std::array<uint64_t, 5> by_class{};  ///< responses by status class: 1xx (index 0) .. 5xx
  std::array<uint64_t, kMethods.size()> by_method{};
  std::array<uint64_t, kRejections.size()> rejections{};  ///< parallel to kRejections
  uint64_t bytes_in = 0;                                  ///< bytes read from clients
  uint64_t bytes_out = 0;                                 ///< bytes written to clients
  uint64_t connections_accepted = 0;                      ///< client connections accepted
  uint64_t connections_open = 0;                          ///< a gauge: client connections open now
  uint64_t queued_in_child = 0;  ///< requests sent to a busy child behind another (queue_in_child)
  Histogram duration;            ///< request head complete -> response complete (0 without a head)
  Histogram queue_wait;          ///< ACQUIRE -> GRANT or DENY, one per lease asked for
  Histogram r_time;              ///< GRANT -> the child's response complete or failed

  /// One request answered with `status` (by R or by valved).
  void CountRequest(std::string_view method, int status, std::chrono::nanoseconds total);
  /// A response valved generated itself; statuses outside kRejections are ignored.
  void CountRejection(int status);
  /// Adds every counter and gauge of `other`.
  void Add(const RequestStats& other);
  bool operator==(const RequestStats&) const = default;

  /// Every family as one STATS message.
  std::vector<ipc::Stats> ToMessages() const;
  /// Replaces one family with a reported one; false (and *error) for an
  /// unknown family or a wrong number of values.
  bool Apply(const ipc::Stats& stats, std::string* error);
};

}  // namespace valved
