#include "common/signal_set.h"

#include <csignal>

#include "common/log.h"

namespace valved {

void SignalSet::Add(int signo, std::function<void()> callback) {
  auto entry = std::make_unique<Entry>();
  entry->callback = std::move(callback);
  entry->event.reset(evsignal_new(base_, signo, OnSignal, entry.get()));
  evsignal_add(entry->event.get(), nullptr);
  entries_.push_back(std::move(entry));
}

void SignalSet::OnSignal(evutil_socket_t signo, short, void* arg) {
  try {
    static_cast<Entry*>(arg)->callback();
  } catch (const std::exception& e) {
    Log(LogLevel::kError) << "handling signal " << signo << " failed: " << e.what();
  }
}

void IgnoreSigpipe() { std::signal(SIGPIPE, SIG_IGN); }

}  // namespace valved
