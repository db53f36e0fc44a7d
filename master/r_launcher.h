// The real Launcher: starts `Rscript launcher.R <socket> <api> <master-pid>`
// with Poco::Process, in the API's directory, and reads its output. With a
// `run_as` identity it starts `valved run-as --user=U --group=G -- Rscript
// ...` instead (master/run_as.h), which becomes R as that user.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/event_ptr.h"
#include "common/privileges.h"
#include "master/child_output.h"
#include "master/launcher.h"

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
  std::string valved_exe = "";  ///< the binary for `valved run-as`; "" = /proc/self/exe
};

class RLauncher final : public Launcher {
 public:
  RLauncher(event_base* base, RLaunchSpec spec, std::function<void(uint64_t)> on_ready);

  /// Children started from now on run `spec` (reload); running ones are untouched.
  void SetSpec(RLaunchSpec spec) { spec_ = std::move(spec); }
  const RLaunchSpec& spec() const { return spec_; }

  pid_t Launch(uint64_t id, const std::string& socket_path) override;
  void Signal(pid_t pid, int signo) override;
  std::string OutputTail(uint64_t id) override;
  void Forget(uint64_t id) override;

 private:
  event_base* base_;
  RLaunchSpec spec_;
  std::function<void(uint64_t)> on_ready_;
  std::map<uint64_t, std::unique_ptr<ChildOutput>> outputs_;
  std::map<uint64_t, std::string> sockets_;  // removed when the child is forgotten
};

}  // namespace valved::master
