// Deferred deletion. An object often learns that it is finished inside one of
// its own libevent callbacks, with its members still on the stack (a worker's
// client connection; the master's record of a worker whose channel callback
// ran the reaper); it is handed here and destroyed on the next turn of the
// loop, when no callback of it can be running.
#pragma once

#include <memory>
#include <vector>

#include "common/event_ptr.h"

namespace valved {

class Graveyard {
 public:
  explicit Graveyard(event_base* base);
  Graveyard(const Graveyard&) = delete;
  Graveyard& operator=(const Graveyard&) = delete;

  /// Destroys `object` on the next loop turn.
  template <typename T>
  void Bury(std::unique_ptr<T> object) {
    if (object) Add(std::make_unique<Grave<T>>(std::move(object)));
  }
  bool empty() const { return graves_.empty(); }

 private:
  struct GraveBase {
    virtual ~GraveBase() = default;
  };
  template <typename T>
  struct Grave : GraveBase {
    explicit Grave(std::unique_ptr<T> p) : object(std::move(p)) {}
    std::unique_ptr<T> object;
  };

  static void OnSweep(evutil_socket_t, short, void* arg);
  void Add(std::unique_ptr<GraveBase> grave);

  std::vector<std::unique_ptr<GraveBase>> graves_;
  EventPtr sweep_;
};

}  // namespace valved
