// The command line of `valved` (not of the hidden `valved worker` mode, which
// main() dispatches first). Valve's flags keep their meaning: -h/--host,
// -p/--port, -n/--n-max, -w/--workers, -f/--file, --check-unused, --max-age,
// --n-min; so help is --help only. Every other setting of the table
// (common/settings.h) has a long flag too, and --set KEY=VALUE reaches any.
//
// Typical use in main():
//   CommandLine cl = ParseCommandLine(argc, argv);     // UsageError -> exit 64
//   // --help, --version, --print-defaults, -t, -s:
//   if (cl.mode != CommandLine::Mode::kRun) return RunInfoMode(cl, std::cout, std::cerr);
//   Config config = BuildConfig(cl);                   // ConfigError -> exit 78
//   CheckPaths(config);                                // ConfigError -> exit 78
//   std::optional<Identity> run_as = CheckRunAs(config);  // ConfigError -> exit 78
#pragma once

#include <iosfwd>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "common/config.h"
#include "common/privileges.h"

namespace valved {

/// What the command line asked for, before any file is read.
struct CommandLine {
  enum class Mode {
    kRun,            ///< no mode flag: run the server
    kHelp,           ///< --help: print HelpText(), exit 0
    kVersion,        ///< --version: print VersionText(), exit 0
    kCheckConfig,    ///< -t/--check-config: check config and API, exit 0 or 78
    kPrintDefaults,  ///< --print-defaults: print DefaultsYaml(), exit 0
    kSignal,         ///< -s/--signal COMMAND: signal the running master, exit 0 or 1
  };
  Mode mode = Mode::kRun;
  std::string signal_command;  ///< kSignal: reload, stop, quit or reopen
  std::string config_path;     ///< "" when no -c: then no file is read at all
  /// (setting key, text) in argv order, from setting flags and --set; later
  /// ones win.
  std::vector<std::pair<std::string, std::string>> overrides;
  /// How each override was written, for messages ("--n-max", "--set n_max");
  /// parallel to `overrides`. May be left empty (then "--<key>" is used).
  std::vector<std::string> override_flags;
};

/// A malformed command line (unknown flag, missing argument...). what() is
/// one line without the program name: "unknown option --n-maxx; did you mean
/// --n-max?". main() exits 64.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Parses argv[1..argc). Long flags must be spelt in full (no abbreviation,
/// so that adding a flag never breaks a script); "-n 10", "-n10",
/// "--n-max 10" and "--n-max=10" are all accepted; boolean flags take an
/// optional "=true"/"=false". Values are not checked here, only recorded
/// (BuildConfig checks them), but --set keys are. Throws UsageError.
CommandLine ParseCommandLine(int argc, char** argv);

/// The effective configuration: defaults, then the -c file (if any), then
/// the overrides in order; then Validate; then workers 0 becomes the number
/// of CPUs valved may run on. Throws ConfigError naming where the bad value
/// came from: "/etc/valve.yaml:3:8: n_max: ...", "--n-max: expected a
/// positive integer, got \"four\"", "n_min (5) must not be greater than
/// n_max (3) (n_min set at /etc/valve.yaml:2:1, n_max set by --n-max)".
/// Call it again on reload: it re-reads the file.
Config BuildConfig(const CommandLine& cl);

/// Checks what the configuration points at, which Validate cannot: `file` is
/// a readable file, or a directory holding entrypoint.R or plumber.R (as
/// plumber::plumb accepts), and `rscript` is an executable file (looked up
/// in PATH when it has no slash). Throws ConfigError naming the setting.
void CheckPaths(const Config& config);

/// What the workers and R children run as (ChildIdentity, common/privileges.h,
/// for this process's effective uid), having checked that such a user can
/// read the API and reach runtime_dir (when set): "file: user nobody
/// (setting user) cannot read /root/api/plumber.R: /root (owner 0, mode
/// 0700) is in the way". Throws ConfigError.
std::optional<Identity> CheckRunAs(const Config& config);

/// --help: usage, every flag with its default, signals and exit codes.
std::string HelpText();

/// --version: "valved 0.1.0" (no newline).
std::string VersionText();

/// --print-defaults: a valid YAML file setting every key to its default,
/// each preceded by its documentation as comments.
std::string DefaultsYaml();

/// Carries out every mode but kRun, writing to `out` and `err`, and returns
/// the process exit code. For kCheckConfig: BuildConfig, CheckPaths and
/// CheckRunAs (for the user running the check), then
/// "configuration file X is ok" (0) or "valved: <error>" on `err` (78). For
/// kSignal: BuildConfig (78 on error) for pid_file, then SendSignalCommand
/// (master/signal_command.h): 0, or 1 with the reason.
/// Returns 70 (internal error) if called with kRun.
int RunInfoMode(const CommandLine& cl, std::ostream& out, std::ostream& err);

}  // namespace valved
