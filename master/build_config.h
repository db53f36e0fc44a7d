// The effective configuration of a run: defaults, then the -c file, then the
// command line's overrides, checked. Read at start-up, by -t and -s, and
// again on every reload (SIGHUP).
#pragma once

#include "common/config.h"
#include "master/command_line.h"

namespace valved::master {

/// The effective configuration: defaults, then the -c file (if any), then
/// the overrides in order; then Validate; then workers 0 becomes
/// DefaultWorkers() of the CPUs valved may run on, and max_spawning 0 their
/// number. Throws ConfigError naming where the bad value
/// came from: "/etc/valve.yaml:3:8: n_max: ...", "--n-max: expected a
/// positive integer, got \"four\"", "n_min (5) must not be greater than
/// n_max (3) (n_min set at /etc/valve.yaml:2:1, n_max set by --n-max)".
/// Call it again on reload: it re-reads the file.
Config BuildConfig(const CommandLine& cl);

/// `workers: 0`: one worker per kCpusPerWorker CPUs, at least one. A worker
/// costs 1/25 of R's CPU per /echo and 1/6 per MiB of a large response
/// (bench/compare.sh), so one keeps up with several cores of R children;
/// and with more than one, a request that waits for a child held by another
/// worker costs a round trip through the master (docs/ARCHITECTURE.md,
/// "Local waits"): on 2 cores, -w 2 cost 1.3-1.8 x the proxy CPU per
/// request of -w 1 for the same throughput.
inline constexpr int kCpusPerWorker = 4;
int DefaultWorkers(int cpus);

}  // namespace valved::master
