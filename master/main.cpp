// valved's entry point: parse the command line, build the configuration and
// hand over to the Master (or, for the hidden modes `valved worker ...` and
// `valved run-as ...`, to a proxy worker or to R as another user). No logic
// lives here beyond the start-up checks and mapping failures to exit codes.
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <optional>

#include "common/exit_status.h"
#include "common/log.h"
#include "common/privileges.h"
#include "common/process_title.h"
#include "common/settings.h"
#include "common/signal_set.h"
#include "master/build_config.h"
#include "master/command_line.h"
#include "master/info_modes.h"
#include "master/master.h"
#include "master/pidfile.h"
#include "master/run_as.h"
#include "master/startup_checks.h"
#include "worker/worker_main.h"

namespace {

/// Says who the workers and children run as, once, since it is easy to get
/// wrong.
void LogIdentity(const valved::Config& config, const std::optional<valved::Identity>& identity) {
  if (identity) {
    valved::Log(valved::LogLevel::kNotice)
        << "workers and R children run as user " << identity->user << ", group " << identity->group;
  } else if (!config.user.empty() &&
             valved::ResolveIdentity(config.user, config.group).uid != geteuid()) {
    valved::Log(valved::LogLevel::kWarn)
        << "user \"" << config.user << "\" is ignored: valved is not running as root";
  }
}

/// The workers reopen the log file on SIGUSR1 as `identity`, so the file the
/// master (root) opened, and perhaps created, must be theirs.
void GiveLogFile(const valved::Config& config, const std::optional<valved::Identity>& identity) {
  std::string error;
  if (identity && !valved::GiveFileTo(config.log_file, *identity, &error))
    valved::Log(valved::LogLevel::kWarn) << error << "; workers may fail to reopen it";
}

/// The configuration as a reload sees it: the file and the command line read
/// again, and checked as at start-up. Throws ConfigError.
valved::Config ReloadConfig(const valved::master::CommandLine& cl) {
  valved::Config config = valved::master::BuildConfig(cl);
  valved::master::CheckPaths(config);
  valved::master::CheckRunAs(config);
  return config;
}

int RunMaster(const valved::Config& config, const valved::master::CommandLine& cl) {
  valved::InitLog("master", valved::LogLevelOf(config));
  std::string error;
  if (!valved::SetLogFile(config.log_file, &error)) {
    std::cerr << "valved: " << error << "\n";
    return valved::kExitConfig;
  }
  std::optional<valved::Identity> identity;
  std::optional<valved::master::PidFile> pid_file;
  try {
    identity = valved::master::CheckRunAs(config);
    if (!config.pid_file.empty()) pid_file = valved::master::PidFile::Create(config.pid_file);
  } catch (const valved::ConfigError& e) {
    // main() prints it on stderr; with log_file set, it belongs in the log
    // too, since under a service manager stderr may be going nowhere.
    if (!config.log_file.empty()) valved::Log(valved::LogLevel::kError) << e.what();
    throw;
  }
  LogIdentity(config, identity);
  GiveLogFile(config, identity);
  valved::IgnoreSigpipe();
  valved::SetProcessTitle("valved: master");
  valved::master::Master master(config, cl.config_path, [cl] { return ReloadConfig(cl); });
  int code = 0;
  try {
    code = master.Run();
  } catch (...) {
    // Still the master leaving on its own: the file would only mislead.
    if (pid_file) pid_file->Remove();
    throw;
  }
  if (pid_file) pid_file->Remove();
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  valved::InitProcessTitle(argc, argv);
  if (argc > 1 && std::strcmp(argv[1], "worker") == 0)
    return valved::worker::WorkerMain(argc, argv);
  if (argc > 1 && std::strcmp(argv[1], "run-as") == 0) return valved::master::RunAsMain(argc, argv);
  valved::master::CommandLine cl;
  try {
    cl = valved::master::ParseCommandLine(argc, argv);
  } catch (const valved::master::UsageError& e) {
    std::cerr << "valved: " << e.what() << "\nTry 'valved --help'.\n";
    return valved::kExitUsage;
  }
  if (cl.mode != valved::master::CommandLine::Mode::kRun)
    return valved::master::RunInfoMode(cl, std::cout, std::cerr);
  try {
    valved::Config config = valved::master::BuildConfig(cl);
    valved::master::CheckPaths(config);
    return RunMaster(config, cl);
  } catch (const valved::ConfigError& e) {
    std::cerr << "valved: " << e.what() << "\n";
    return valved::kExitConfig;
  } catch (const std::exception& e) {
    std::cerr << "valved: internal error: " << e.what() << "\n";
    return valved::kExitSoftware;
  }
}
