#include "master/child_state.h"

namespace valved::master {

const char* ToString(ChildState state) {
  switch (state) {
    case ChildState::kSpawning:
      return "Spawning";
    case ChildState::kReady:
      return "Ready";
    case ChildState::kBusy:
      return "Busy";
    case ChildState::kDraining:
      return "Draining";
    case ChildState::kStopping:
      return "Stopping";
    case ChildState::kDead:
      return "Dead";
  }
  return "?";
}

bool IsLegalTransition(ChildState from, ChildState to) {
  using S = ChildState;
  if (to == S::kDead) return from != S::kDead;  // a process can exit in any state
  switch (from) {
    case S::kSpawning:
      return to == S::kReady || to == S::kStopping;
    case S::kReady:
      return to == S::kBusy || to == S::kStopping;
    case S::kBusy:
      return to == S::kReady || to == S::kDraining || to == S::kStopping;
    case S::kDraining:
      return to == S::kStopping;
    case S::kStopping:
    case S::kDead:
      return false;
  }
  return false;
}

bool IsLive(ChildState state) {
  return state == ChildState::kSpawning || state == ChildState::kReady ||
         state == ChildState::kBusy;
}

}  // namespace valved::master
