#include "master/run_as.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <string_view>

#include "common/config.h"
#include "common/exit_status.h"

namespace valved::master {
namespace {

int Fail(int code, const std::string& message) {
  std::cerr << "valved run-as: " << message << "\n";
  return code;
}

/// The environment R reads its user files from ($HOME/.Rprofile, R_LIBS_USER)
/// must be the new user's, not root's, as with `runuser -l` or `sudo -H`.
void SetUserEnvironment(const Identity& identity) {
  setenv("USER", identity.user.c_str(), 1);
  setenv("LOGNAME", identity.user.c_str(), 1);
  if (!identity.home.empty()) setenv("HOME", identity.home.c_str(), 1);
}

}  // namespace

std::vector<std::string> RunAsArgs(const std::optional<Identity>& identity,
                                   const std::string& program,
                                   const std::vector<std::string>& args) {
  std::vector<std::string> out = {"run-as"};
  if (identity) {
    out.push_back("--user=" + identity->user);
    out.push_back("--group=" + identity->group);
  }
  out.push_back("--");
  out.push_back(program);
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

std::optional<RunAsRequest> ParseRunAsArgs(int argc, char** argv, std::string* error) {
  RunAsRequest request;
  int i = 2;
  for (; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") break;
    if (arg.substr(0, 7) == "--user=") {
      request.user = arg.substr(7);
    } else if (arg.substr(0, 8) == "--group=") {
      request.group = arg.substr(8);
    } else {
      *error = "unknown argument \"" + std::string(arg) + "\"";
      return std::nullopt;
    }
  }
  for (++i; i < argc; ++i) request.command.emplace_back(argv[i]);
  if (request.user.empty() && !request.group.empty()) *error = "--group=GROUP needs --user=USER";
  if (request.command.empty()) *error = "no program to run after \"--\"";
  if (!error->empty()) return std::nullopt;
  return request;
}

int RunAsMain(int argc, char** argv) {
  std::string error;
  std::optional<RunAsRequest> request = ParseRunAsArgs(argc, argv, &error);
  if (!request) return Fail(kExitUsage, error);
  // Its own process group: the master can then stop R together with any
  // process R started (and the R front end's own helpers while it starts),
  // and a Ctrl-C in a terminal reaches only the master, which stops R in order.
  setpgid(0, 0);
  signal(SIGPIPE, SIG_DFL);  // the master ignores it; R expects the default
  if (!request->user.empty()) {
    if (int code = SwitchUser(*request); code != kExitOk) return code;
  }
  std::vector<char*> args;
  for (std::string& arg : request->command) args.push_back(arg.data());
  args.push_back(nullptr);
  execvp(args[0], args.data());
  return Fail(kExitOsErr,
              "cannot run " + request->command[0] + ": execvp() failed: " + std::strerror(errno));
}

int SwitchUser(const RunAsRequest& request) {
  Identity identity;
  try {
    identity = ResolveIdentity(request.user, request.group);
  } catch (const ConfigError& e) {
    return Fail(kExitConfig, e.what());
  }
  try {
    DropPrivileges(identity);
  } catch (const std::exception& e) {
    return Fail(kExitOsErr, "cannot run as user " + identity.user + ": " + e.what());
  }
  SetUserEnvironment(identity);
  return kExitOk;
}

}  // namespace valved::master
