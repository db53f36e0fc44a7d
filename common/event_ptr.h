// std::unique_ptr aliases that free libevent objects with the right function.
// Member order is teardown order: declare the base before the events that use it.
#pragma once

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include <memory>

namespace valved {

template <typename T, void (*Free)(T*)>
struct EventDeleter {
  void operator()(T* p) const {
    if (p) Free(p);
  }
};

using EventBasePtr = std::unique_ptr<event_base, EventDeleter<event_base, event_base_free>>;
using EventPtr = std::unique_ptr<event, EventDeleter<event, event_free>>;
using BuffereventPtr = std::unique_ptr<bufferevent, EventDeleter<bufferevent, bufferevent_free>>;
using EvconnlistenerPtr =
    std::unique_ptr<evconnlistener, EventDeleter<evconnlistener, evconnlistener_free>>;
using EvhttpPtr = std::unique_ptr<evhttp, EventDeleter<evhttp, evhttp_free>>;
using EvbufferPtr = std::unique_ptr<evbuffer, EventDeleter<evbuffer, evbuffer_free>>;

}  // namespace valved
