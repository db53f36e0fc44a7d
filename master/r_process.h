// Starting one R process: `Rscript <script> <args>` through `valved run-as`
// (its own process group, the configured user), in the API's directory, with
// pipes for its stdin, stdout and stderr. Fresh children (r_launcher.h) and
// templates (template_supervisor.h) both start this way.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/privileges.h"
#include "common/unique_fd.h"

namespace valved::master {

struct RLaunchSpec {
  std::string rscript;          ///< the R front end (Config::rscript)
  std::string launcher_script;  ///< r/launcher.R as installed
  std::string api_path;         ///< absolute path of the plumber file or directory
  std::string working_dir;      ///< the API's directory
  std::string public_host;      ///< where valved serves, for plumber's docs URL
  int public_port = 0;
  bool warmup = false;  ///< Config::warmup
  // Initialised so that positional initialisers that stop before them stay
  // free of -Wmissing-field-initializers.
  std::optional<Identity> run_as = std::nullopt;  ///< the user R runs as; nullopt: as the master
  std::string valved_exe = "";       ///< the binary for `valved run-as`; "" = /proc/self/exe
  bool fork = false;                 ///< spawn_method: fork (and the master is a subreaper)
  std::string template_script = "";  ///< r/template.R, next to launcher_script
  size_t spares = 0;                 ///< Config::fork_spares (not part of SameProgram)
};

/// The same R program: whether children started from `a` and from `b` run
/// the same code the same way (a reload that changes neither reuses a template).
bool SameProgram(const RLaunchSpec& a, const RLaunchSpec& b);

struct RProcess {
  pid_t pid = -1;
  UniqueFd in;   ///< write end of its stdin (close-on-exec)
  UniqueFd out;  ///< read end of its stdout (close-on-exec)
  UniqueFd err;  ///< read end of its stderr (close-on-exec)
};

/// Starts `Rscript script args...` as `spec` says, with `env` added to the
/// master's environment. Throws std::runtime_error when nothing started.
RProcess StartRProcess(const RLaunchSpec& spec, const std::string& script,
                       const std::vector<std::string>& args,
                       const std::map<std::string, std::string>& env);

/// The environment every R process gets: the public host and port.
std::map<std::string, std::string> REnvironment(const RLaunchSpec& spec);

/// 32 random hex digits, for ready lines.
std::string RandomToken();

}  // namespace valved::master
