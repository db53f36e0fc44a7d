#include "master/signal_command.h"

#include <signal.h>

#include <cerrno>
#include <cstring>
#include <ostream>

namespace valved::master {
namespace {

struct Command {
  const char* name;
  int signo;
  const char* signal_name;
};

const Command kCommands[] = {
    {"reload", SIGHUP, "SIGHUP"},
    {"stop", SIGTERM, "SIGTERM"},
    {"quit", SIGQUIT, "SIGQUIT"},
    {"reopen", SIGUSR1, "SIGUSR1"},
};

const Command* FindCommand(std::string_view name) {
  for (const Command& command : kCommands) {
    if (name == command.name) return &command;
  }
  return nullptr;
}

int Fail(std::ostream& err, const std::string& message) {
  err << "valved: " << message << "\n";
  return 1;
}

}  // namespace

std::optional<int> SignalOfCommand(std::string_view command) {
  const Command* found = FindCommand(command);
  return found ? std::optional<int>(found->signo) : std::nullopt;
}

std::string SignalCommandNames() { return "reload, stop, quit or reopen"; }

int SendSignalCommand(std::string_view name, const std::string& pid_file, std::ostream& out,
                      std::ostream& err, const PidFile::Probe& is_running) {
  const Command* command = FindCommand(name);
  if (!command) {
    return Fail(err, "unknown signal command \"" + std::string(name) + "\"; expected " +
                         SignalCommandNames());
  }
  if (pid_file.empty()) {
    return Fail(err, "no pid_file configured; set pid_file in the config or pass --pid-file");
  }
  pid_t pid = 0;
  try {
    pid = ReadPidFile(pid_file);
  } catch (const PidFileError& e) {
    return Fail(err, std::string(e.what()) + (e.error() == ENOENT ? "; is valved running?" : ""));
  }
  // Never signal a pid that a stale file names: after a crash and a reboot
  // it may belong to any other program.
  if (!is_running(pid)) {
    return Fail(err, "valved is not running: pid file " + pid_file + " names pid " +
                         std::to_string(pid) + ", which is not a running valved (stale pid file)");
  }
  if (::kill(pid, command->signo) == -1) {
    return Fail(err, std::string("cannot send ") + command->signal_name + " to valved (pid " +
                         std::to_string(pid) + "): " + std::strerror(errno));
  }
  out << "valved: sent " << command->signal_name << " (" << command->name << ") to the master, pid "
      << pid << "\n";
  return 0;
}

}  // namespace valved::master
