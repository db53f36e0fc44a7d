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
  valved::CommandLine cl;
  try {
    cl = valved::ParseCommandLine(argc, argv);
  } catch (const valved::UsageError& e) {
    std::cerr << "valved: " << e.what() << "\nTry 'valved --help'.\n";
    return valved::kExitUsage;
  }
  if (cl.mode != valved::CommandLine::Mode::kRun)
    return valved::RunInfoMode(cl, std::cout, std::cerr);
  try {
    valved::Config config = valved::BuildConfig(cl);
    valved::CheckPaths(config);
    return RunMaster(config);
  } catch (const valved::ConfigError& e) {
    std::cerr << "valved: " << e.what() << "\n";
    return valved::kExitConfig;
  } catch (const std::exception& e) {
    std::cerr << "valved: internal error: " << e.what() << "\n";
    return valved::kExitSoftware;
  }
}
