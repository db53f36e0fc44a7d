#include "common/cpu_count.h"

#include <sched.h>

#include <thread>

namespace valved {

// The affinity mask, not the machine's core count: under taskset or a
// container's cpuset, more processes than usable CPUs only add contention.
int UsableCpuCount() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

}  // namespace valved
