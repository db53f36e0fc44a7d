#include "master/info_modes.h"

#include <ostream>

#include "common/exit_status.h"
#include "master/api_load_check.h"
#include "master/build_config.h"
#include "master/defaults_yaml.h"
#include "master/help_text.h"
#include "master/signal_command.h"
#include "master/startup_checks.h"
#include "master/status_command.h"

namespace valved::master {
namespace {

using Mode = CommandLine::Mode;

// The API loaded once in R, as a child would load it: a syntax error or a
// library() of a missing package is reported here, with R's own words.
int CheckApiLoads(const Config& config, std::ostream& out, std::ostream& err) {
  ApiLoadResult load = LoadApiOnce(config);
  if (!load.loaded) {
    err << "valved: file: the API " << config.file << " failed to load in R:\n" << load.output;
    if (!load.output.empty() && load.output.back() != '\n') err << "\n";
    return kExitConfig;
  }
  out << "the API " << config.file << " loads in R\n";
  return kExitOk;
}

int CheckConfiguration(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  Config config;
  try {
    config = BuildConfig(cl);
    CheckPaths(config);
    CheckRunAs(config);
  } catch (const ConfigError& e) {
    err << "valved: " << e.what() << "\n";
    return kExitConfig;
  }
  if (cl.load_api) {
    if (int code = CheckApiLoads(config, out, err); code != kExitOk) return code;
  }
  if (cl.config_path.empty()) {
    out << "configuration (defaults and command line) is ok\n";
  } else {
    out << "configuration file " << cl.config_path << " is ok\n";
  }
  return kExitOk;
}

int SignalMaster(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  Config config;
  if (cl.signal_command == "status") {
    try {
      config = BuildConfig(cl);
    } catch (const ConfigError& e) {
      err << "valved: " << e.what() << "\n";
      return kExitConfig;
    }
    return PrintStatusCommand(config, out, err);
  }
  try {
    config = BuildConfig(cl);
    // With the master's file (-c), a reload the master would refuse is
    // refused here, so that the unit's ExecReload (systemctl reload) fails
    // and says why, as nginx -s reload does. Without -c the settings here are
    // not the master's; without a pid file SendSignalCommand says what is
    // missing.
    if (cl.signal_command == "reload" && !cl.config_path.empty() && !config.pid_file.empty())
      CheckPaths(config);
  } catch (const ConfigError& e) {
    err << "valved: " << e.what() << "\n";
    return kExitConfig;
  }
  return SendSignalCommand(cl.signal_command, config.pid_file, out, err);
}

}  // namespace

int RunInfoMode(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  switch (cl.mode) {
    case Mode::kHelp:
      out << HelpText();
      return kExitOk;
    case Mode::kVersion:
      out << VersionText() << "\n";
      return kExitOk;
    case Mode::kPrintDefaults:
      out << DefaultsYaml();
      return kExitOk;
    case Mode::kCheckConfig:
      return CheckConfiguration(cl, out, err);
    case Mode::kSignal:
      return SignalMaster(cl, out, err);
    case Mode::kRun:
      break;
  }
  err << "valved: internal error: RunInfoMode called to run the server\n";
  return kExitSoftware;
}

}  // namespace valved::master
