// How many CPUs valved may run on: the default for workers, and for
// max_spawning while children start fresh.
#pragma once

namespace valved {

/// The CPUs in this process's affinity mask (at least 1).
int UsableCpuCount();

}  // namespace valved
