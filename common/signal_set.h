// Signals delivered into a libevent loop (evsignal): the callbacks run as
// ordinary events, so they may log and allocate. Mechanism only; the policy
// (which signal means what) is the caller's table.
#pragma once

#include <functional>
#include <vector>

#include "common/event_ptr.h"

namespace valved {

class SignalSet {
 public:
  explicit SignalSet(event_base* base) : base_(base) {}
  /// Runs `callback` in the loop whenever `signo` arrives.
  void Add(int signo, std::function<void()> callback);

 private:
  struct Entry {
    std::function<void()> callback;
    EventPtr event;
  };
  static void OnSignal(evutil_socket_t signo, short what, void* arg);

  event_base* base_;
  std::vector<std::unique_ptr<Entry>> entries_;
};

/// Ignores SIGPIPE: a peer that went away is an I/O error, not a death.
void IgnoreSigpipe();

}  // namespace valved
