// The command line of `valved` (not of the hidden `valved worker` and
// `valved run-as` modes, which main() dispatches first). Valve's flags keep
// their meaning: -h/--host, -p/--port, -n/--n-max, -w/--workers, -f/--file,
// --check-unused, --max-age, --n-min; so help is --help only. Every other
// setting of the table (common/settings.h) has a long flag too, and --set
// KEY=VALUE reaches any.
//
// Typical use in main():
//   CommandLine cl = ParseCommandLine(argc, argv);     // UsageError -> exit 64
//   // --help, --version, --print-defaults, -t, -s (master/info_modes.h):
//   if (cl.mode != CommandLine::Mode::kRun) return RunInfoMode(cl, std::cout, std::cerr);
//   Config config = BuildConfig(cl);                   // master/build_config.h
//   CheckPaths(config);                                // master/startup_checks.h
#pragma once

#include <span>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace valved::master {

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
  bool load_api = true;        ///< kCheckConfig: load the API in R (false: --no-load)
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

/// A flag that is not a setting (the setting flags come from the settings
/// table); listed for --help.
struct MetaFlag {
  const char* long_name;
  const char* short_name;
  const char* arg_name;  ///< "" when the flag takes no value
  const char* summary;
};
std::span<const MetaFlag> MetaFlags();

}  // namespace valved::master
