// `valved -s reload|stop|quit|reopen`: signals the running master, found
// through its pid file (nginx's -s). The command names map onto valved's
// signal table (docs/ARCHITECTURE.md, "Signals"), not onto nginx's meanings: "stop" is
// valved's graceful SIGTERM and "quit" its fast SIGQUIT.
#pragma once

#include <sys/types.h>

#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>

#include "master/pidfile.h"

namespace valved::master {

/// The signal a command sends: reload SIGHUP, stop SIGTERM, quit SIGQUIT,
/// reopen SIGUSR1; nullopt for any other word.
std::optional<int> SignalOfCommand(std::string_view command);

/// The commands, for messages: "reload, stop, quit or reopen".
std::string SignalCommandNames();

/// Sends the signal of `command` to the master whose pid is in `pid_file`.
/// On success prints "valved: sent SIGHUP (reload) to the master, pid N" on
/// `out` and returns 0. Otherwise prints one line on `err` and returns 1:
/// no pid file configured, a pid file missing, unreadable or without a pid,
/// a pid that is not a running valved, or kill() refused. `is_running` is
/// for tests.
int SendSignalCommand(std::string_view command, const std::string& pid_file, std::ostream& out,
                      std::ostream& err, const PidFile::Probe& is_running = IsValvedRunning);

}  // namespace valved::master
