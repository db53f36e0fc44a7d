// The effective configuration of a run: defaults, then the -c file, then the
// command line's overrides, checked. Read at start-up, by -t and -s, and
// again on every reload (SIGHUP).
#pragma once

#include "common/config.h"
#include "master/command_line.h"

namespace valved::master {

/// The effective configuration: defaults, then the -c file (if any), then
/// the overrides in order; then Validate; then workers 0 becomes the number
/// of CPUs valved may run on. Throws ConfigError naming where the bad value
/// came from: "/etc/valve.yaml:3:8: n_max: ...", "--n-max: expected a
/// positive integer, got \"four\"", "n_min (5) must not be greater than
/// n_max (3) (n_min set at /etc/valve.yaml:2:1, n_max set by --n-max)".
/// Call it again on reload: it re-reads the file.
Config BuildConfig(const CommandLine& cl);

}  // namespace valved::master
