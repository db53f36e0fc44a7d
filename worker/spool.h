// Bytes on their way to a peer slower than the one they come from: a request
// body read whole before a child is leased, or a response read from R at R's
// pace while the client takes it at its own.
//
// Principle: the evbuffer that will be written out is the spool. Bytes are
// added to it in memory while it holds less than `memory_limit`; beyond that
// they are written to an unlinked temporary file (O_TMPFILE: it never has a
// name, so no exit path can leave it behind) and added as file segments,
// which libevent sends with sendfile() without reading them back into memory.
// The file is shared by the spool's segments and truncated once none is left;
// its bytes count against the worker's TempFileBudget while they wait.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/event_ptr.h"

namespace valved::worker {

/// Bytes a worker may keep in temporary files at once (temp_file_limit).
class TempFileBudget {
 public:
  explicit TempFileBudget(uint64_t limit) : limit_(limit) {}
  bool Take(uint64_t bytes) {
    if (limit_ != 0 && used_ + bytes > limit_) return false;
    used_ += bytes;
    return true;
  }
  void Give(uint64_t bytes) { used_ -= bytes; }
  uint64_t used() const { return used_; }

 private:
  uint64_t limit_;
  uint64_t used_ = 0;
};

class Spool {
 public:
  /// Temporary files go in `dir`.
  Spool(std::string dir, size_t memory_limit, TempFileBudget& budget);
  ~Spool();
  Spool(const Spool&) = delete;
  Spool& operator=(const Spool&) = delete;

  /// Appends `pieces`, in order and together, to `out`: in memory while `out`
  /// holds less than the memory limit, else to the temporary file, from which
  /// they reach `out` at the next Flush(). False with *error when the file
  /// cannot take them (no space, no directory, the budget spent); nothing is
  /// appended then (earlier pieces still wait for Flush()).
  bool Append(evbuffer* out, std::initializer_list<std::string_view> pieces, std::string* error);
  /// Append() for the first `n` bytes of `from`, which are taken from it:
  /// its chains moved (not copied) to `out` while in memory. False with
  /// *error as Append(); `from` is then unchanged.
  bool Move(evbuffer* out, evbuffer* from, size_t n, std::string* error);
  /// Queues what Append() put in the file since the last Flush() on `out`,
  /// as one file segment. `out` must drain to a socket
  /// (EVBUFFER_FLAG_DRAINS_TO_FD), or libevent maps the file into memory.
  /// False with *error when it cannot (out of memory): those bytes are lost.
  bool Flush(evbuffer* out, std::string* error);
  /// Like Append, but in memory whatever the limit: for when the file has
  /// failed and the caller pushes back on the sender instead.
  static void AppendInMemory(evbuffer* out, std::initializer_list<std::string_view> pieces);

 private:
  struct File;
  bool FitsInMemory(const evbuffer* out, size_t size) const;
  bool AppendToFile(std::span<const std::string_view> pieces, size_t size, std::string* error);
  bool OpenFile(std::string* error);
  static void OnSegmentFreed(const evbuffer_file_segment*, int, void* arg);

  std::string dir_;
  size_t memory_limit_;
  TempFileBudget& budget_;
  std::shared_ptr<File> file_;
  uint64_t pending_ = 0;  // bytes in the file after file_->end, not yet in a segment
};

}  // namespace valved::worker
