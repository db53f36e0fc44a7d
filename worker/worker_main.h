#pragma once

namespace valved::worker {

/// Entry point of a proxy worker: `valved worker --channel-fd=N --listen-fd=M
/// --id=K [--set key=value]...`, exec'd by the master. Returns the exit code.
int WorkerMain(int argc, char** argv);

}  // namespace valved::worker
