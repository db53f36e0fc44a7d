// The hidden mode that starts an R child as the configured user:
//
//   valved run-as --user=U [--group=G] -- PROGRAM [ARG]...
//
// Poco::Process cannot run code between fork and exec, so a root master that
// must not run R as root starts this mode instead of R itself: it drops
// privileges (common/privileges.h), sets HOME, USER and LOGNAME for the new
// user, and execvp()s PROGRAM in its own place, so that the pid the master
// holds is R's. main() dispatches it, before any option parsing.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/privileges.h"

namespace valved::master {

/// What `valved run-as` was asked to do.
struct RunAsRequest {
  std::string user;                  ///< --user: a name or a number
  std::string group;                 ///< --group: "" for the user's primary group
  std::vector<std::string> command;  ///< PROGRAM and its arguments, after "--"
};

/// The arguments (after the valved binary itself) that run `program` with
/// `args` as `identity`: {"run-as", "--user=U", "--group=G", "--", program,
/// args...}.
std::vector<std::string> RunAsArgs(const std::optional<Identity>& identity,
                                   const std::string& program,
                                   const std::vector<std::string>& args);

/// Parses argv (argv[1] is "run-as"). On failure returns nullopt and sets
/// *error.
std::optional<RunAsRequest> ParseRunAsArgs(int argc, char** argv, std::string* error);

/// Drops privileges to request.user/group and sets HOME, USER, LOGNAME.
/// Returns 0, or prints why and returns 78 (unknown user) or 71 (failed).
int SwitchUser(const RunAsRequest& request);

/// Runs the mode (a new process group, the user if given, then exec): returns only on failure,
/// after printing "valved run-as: <why>" on stderr (which the master logs as the child's output):
/// 64 for a bad command line, 78 for an unknown user, 71 when switching user or exec failed.
int RunAsMain(int argc, char** argv);

}  // namespace valved::master
