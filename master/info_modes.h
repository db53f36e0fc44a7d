// The modes of `valved` that do not run the server: --help, --version,
// --print-defaults, -t (check) and -s (signal the running master).
#pragma once

#include <iosfwd>

#include "master/command_line.h"

namespace valved::master {

/// Carries out every mode but kRun, writing to `out` and `err`, and returns
/// the process exit code. For kCheckConfig: BuildConfig, CheckPaths and
/// CheckRunAs (for the user running the check), then, unless --no-load, the
/// API loaded once in R (master/api_load_check.h), then "configuration file
/// X is ok" (0) or "valved: <error>" (with R's error for an API that fails)
/// on `err` (78). For kSignal: BuildConfig (and, for reload with -c,
/// CheckPaths; 78 on error) for pid_file, then SendSignalCommand
/// (master/signal_command.h): 0, or 1 with the reason.
/// Returns 70 (internal error) if called with kRun.
int RunInfoMode(const CommandLine& cl, std::ostream& out, std::ostream& err);

}  // namespace valved::master
