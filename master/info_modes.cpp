#include "master/info_modes.h"

#include <ostream>

#include "common/exit_status.h"
#include "master/build_config.h"
#include "master/defaults_yaml.h"
#include "master/help_text.h"
#include "master/signal_command.h"
#include "master/startup_checks.h"

namespace valved::master {
namespace {

using Mode = CommandLine::Mode;

int CheckConfiguration(const CommandLine& cl, std::ostream& out, std::ostream& err) {
  try {
    Config config = BuildConfig(cl);
    CheckPaths(config);
    CheckRunAs(config);
  } catch (const ConfigError& e) {
    err << "valved: " << e.what() << "\n";
    return kExitConfig;
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
