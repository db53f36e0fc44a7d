#include "worker/spool.h"

#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <span>
#include <utility>
#include <vector>

#include "common/log.h"
#include "common/unique_fd.h"

namespace valved::worker {

// Shared with every segment that points into the file, which may outlive the
// spool (they sit in a bufferevent's output until sent or freed).
struct Spool::File {
  UniqueFd fd;
  TempFileBudget* budget = nullptr;
  off_t end = 0;         // where the next bytes go
  int segments = 0;      // not yet freed
  uint64_t waiting = 0;  // bytes in segments not yet freed
};

namespace {

// One segment's share of the file, given back when libevent frees the segment.
struct SegmentRef {
  std::shared_ptr<void> keep;  // the File
  off_t offset;
  uint64_t length;
};

size_t TotalSize(std::span<const std::string_view> pieces) {
  size_t total = 0;
  for (std::string_view piece : pieces) total += piece.size();
  return total;
}

// pwritev() until everything is written.
bool WriteAll(int fd, off_t offset, std::span<const std::string_view> pieces, std::string* error) {
  for (std::string_view piece : pieces) {
    while (!piece.empty()) {
      ssize_t n = ::pwrite(fd, piece.data(), piece.size(), offset);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        *error = "cannot write the temporary file (" + ErrnoString(n < 0 ? errno : ENOSPC) + ")";
        return false;
      }
      piece.remove_prefix(static_cast<size_t>(n));
      offset += n;
    }
  }
  return true;
}

// Frees the disk blocks of the whole pages inside [offset, offset + length).
void PunchWholePages(int fd, off_t offset, uint64_t length) {
  static const off_t page = ::sysconf(_SC_PAGESIZE);
  off_t start = (offset + page - 1) / page * page;
  off_t end = (offset + static_cast<off_t>(length)) / page * page;
  if (end <= start) return;
  if (::fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, start, end - start) != 0)
    Log(LogLevel::kDebug) << "cannot free temporary file blocks (" << ErrnoString(errno) << ")";
}

}  // namespace

Spool::Spool(std::string dir, size_t memory_limit, TempFileBudget& budget)
    : dir_(std::move(dir)), memory_limit_(memory_limit), budget_(budget) {}

Spool::~Spool() = default;

// Bytes for the file are written at once but queued as one segment per
// Flush(), so a body read in 4 KiB pieces does not become thousands of
// segments (each one a chain, a sendfile() call and, in an evbuffer that is
// not a socket's, an mmap()).
bool Spool::Append(evbuffer* out, std::initializer_list<std::string_view> pieces,
                   std::string* error) {
  size_t size = TotalSize(pieces);
  if (size == 0) return true;
  if (FitsInMemory(out, size)) {
    AppendInMemory(out, pieces);
    return true;
  }
  return AppendToFile(std::span(pieces.begin(), pieces.size()), size, error);
}

bool Spool::Move(evbuffer* out, evbuffer* from, size_t n, std::string* error) {
  if (FitsInMemory(out, n)) {
    evbuffer_remove_buffer(from, out, n);
    return true;
  }
  int count = evbuffer_peek(from, static_cast<ev_ssize_t>(n), nullptr, nullptr, 0);
  std::vector<evbuffer_iovec> chains(static_cast<size_t>(std::max(count, 0)));
  evbuffer_peek(from, static_cast<ev_ssize_t>(n), nullptr, chains.data(), count);
  std::vector<std::string_view> pieces;
  size_t left = n;
  for (const evbuffer_iovec& chain : chains) {
    size_t take = std::min(chain.iov_len, left);
    pieces.emplace_back(static_cast<const char*>(chain.iov_base), take);
    left -= take;
  }
  if (!AppendToFile(pieces, n, error)) return false;
  evbuffer_drain(from, n);
  return true;
}

bool Spool::FitsInMemory(const evbuffer* out, size_t size) const {
  return pending_ == 0 && evbuffer_get_length(out) + size <= memory_limit_;
}

bool Spool::AppendToFile(std::span<const std::string_view> pieces, size_t size,
                         std::string* error) {
  if (!file_ && !OpenFile(error)) return false;
  if (!budget_.Take(size)) {
    *error = "temp_file_limit reached";
    return false;
  }
  if (!WriteAll(file_->fd.get(), file_->end + static_cast<off_t>(pending_), pieces, error)) {
    budget_.Give(size);
    return false;
  }
  pending_ += size;
  return true;
}

bool Spool::Flush(evbuffer* out, std::string* error) {
  if (pending_ == 0) return true;
  uint64_t size = std::exchange(pending_, 0);
  File& file = *file_;
  evbuffer_file_segment* segment = evbuffer_file_segment_new(
      file.fd.get(), file.end, static_cast<ev_off_t>(size), EVBUF_FS_DISABLE_LOCKING);
  if (!segment) {
    budget_.Give(size);
    *error = "cannot queue the temporary file";
    return false;
  }
  // From here the segment's cleanup callback gives the bytes back.
  evbuffer_file_segment_add_cleanup_cb(
      segment, OnSegmentFreed,
      new SegmentRef{std::static_pointer_cast<void>(file_), file.end, size});
  file.end += static_cast<off_t>(size);
  file.segments++;
  file.waiting += size;
  int added = evbuffer_add_file_segment(out, segment, 0, static_cast<ev_off_t>(size));
  evbuffer_file_segment_free(segment);  // the buffer holds its own reference
  if (added != 0) {
    *error = "cannot queue the temporary file";
    return false;
  }
  return true;
}

void Spool::AppendInMemory(evbuffer* out, std::initializer_list<std::string_view> pieces) {
  for (std::string_view piece : pieces) evbuffer_add(out, piece.data(), piece.size());
}

namespace {

// O_TMPFILE where the file system has it; elsewhere a named file unlinked
// at once, which leaves nothing behind unless the worker dies in between.
UniqueFd OpenUnlinked(const std::string& dir) {
  UniqueFd fd(::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600));
  if (fd || (errno != EOPNOTSUPP && errno != EISDIR)) return fd;
  std::string path = dir + "/valved-spool.XXXXXX";
  fd = UniqueFd(::mkostemp(path.data(), O_CLOEXEC));
  if (fd) ::unlink(path.c_str());
  return fd;
}

}  // namespace

bool Spool::OpenFile(std::string* error) {
  UniqueFd fd = OpenUnlinked(dir_);
  if (!fd) {
    *error = "cannot create a temporary file in " + dir_ + " (" + ErrnoString(errno) + ")";
    return false;
  }
  file_ = std::make_shared<File>();
  file_->fd = std::move(fd);
  file_->budget = &budget_;
  return true;
}

// A segment has been sent (or its buffer freed): its bytes leave the budget,
// and the whole pages it alone covered leave the disk (a hole is punched),
// so that the file's blocks are about what still waits. Only whole pages:
// sendfile() hands page-cache pages to the socket by reference, and punching
// part of a page would zero bytes of a neighbour that may still be in flight
// (a whole page is dropped from the cache, not cleared, as on truncation).
// Once no segment is left the file is emptied and starts again at offset 0.
void Spool::OnSegmentFreed(const evbuffer_file_segment*, int, void* arg) {
  std::unique_ptr<SegmentRef> ref(static_cast<SegmentRef*>(arg));
  auto* file = static_cast<File*>(ref->keep.get());
  file->budget->Give(ref->length);
  file->waiting -= ref->length;
  if (--file->segments > 0) return PunchWholePages(file->fd.get(), ref->offset, ref->length);
  file->end = 0;
  if (::ftruncate(file->fd.get(), 0) != 0)
    Log(LogLevel::kDebug) << "cannot truncate a temporary file (" << ErrnoString(errno) << ")";
}

}  // namespace valved::worker
