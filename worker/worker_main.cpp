#include "worker/worker_main.h"

namespace valved::worker {

int WorkerMain(int, char**) { return 70; }

}  // namespace valved::worker
