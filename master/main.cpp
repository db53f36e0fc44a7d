// valved's entry point: parse the command line, build the configuration and
// hand over to the Master (or, for `valved worker ...`, to a proxy worker).
// No logic lives here beyond mapping failures to exit codes.
#include <cstring>
#include <iostream>

#include "common/exit_status.h"
#include "common/log.h"
#include "common/signal_set.h"
#include "master/cli.h"
#include "master/master.h"
#include "worker/worker_main.h"

namespace {

using valved::CommandLine;

int CheckConfig(const valved::Config& config, const std::string& path) {
  valved::master::LocateApi(config.file);
  std::cout << "configuration " << (path.empty() ? "(command line)" : path) << " is ok; API "
            << config.file << " found\n";
  return valved::kExitOk;
}

int RunMaster(const valved::Config& config) {
  valved::InitLog("master",
                  valved::ParseLogLevel(config.log_level).value_or(valved::LogLevel::kNotice));
  std::string error;
  if (!valved::SetLogFile(config.log_file, &error)) {
    std::cerr << "valved: " << error << "\n";
    return valved::kExitConfig;
  }
  valved::IgnoreSigpipe();
  valved::master::Master master(config);
  return master.Run();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "worker") == 0)
    return valved::worker::WorkerMain(argc, argv);
  CommandLine cl;
  try {
    cl = valved::ParseCommandLine(argc, argv);
  } catch (const valved::UsageError& e) {
    std::cerr << "valved: " << e.what() << "\nTry 'valved --help'.\n";
    return valved::kExitUsage;
  }
  switch (cl.mode) {
    case CommandLine::Mode::kHelp:
      std::cout << valved::HelpText();
      return valved::kExitOk;
    case CommandLine::Mode::kVersion:
      std::cout << "valved " << VALVED_VERSION << "\n";
      return valved::kExitOk;
    case CommandLine::Mode::kPrintDefaults:
      std::cout << valved::DefaultsYaml();
      return valved::kExitOk;
    default:
      break;
  }
  try {
    valved::Config config = valved::BuildConfig(cl);
    if (cl.mode == CommandLine::Mode::kCheckConfig) return CheckConfig(config, cl.config_path);
    return RunMaster(config);
  } catch (const valved::ConfigError& e) {
    std::cerr << "valved: " << e.what() << "\n";
    return valved::kExitConfig;
  } catch (const valved::master::StartupError& e) {
    std::cerr << "valved: " << e.what() << "\n";
    return e.exit_code();
  } catch (const std::exception& e) {
    std::cerr << "valved: internal error: " << e.what() << "\n";
    return valved::kExitSoftware;
  }
}
