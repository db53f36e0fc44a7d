#include "master/startup_checks.h"

#include <unistd.h>

#include <filesystem>

#include "master/api_location.h"
#include "master/executable_path.h"
#include "master/install_layout.h"

namespace valved::master {

std::string LocateRscript(const std::string& rscript) {
  std::string path = FindExecutable(rscript);
  if (!path.empty()) return path;
  if (rscript.find('/') != std::string::npos)
    throw ConfigError("rscript: " + rscript + " is not an executable file");
  throw ConfigError("rscript: cannot find \"" + rscript + "\" in PATH (" + SearchPath() +
                    "); is R installed (r-base-core)?");
}

void CheckPaths(const Config& config) {
  LocateApi(config.file);
  LocateRscript(config.rscript);
  CheckLauncherScript();
}

std::optional<Identity> CheckRunAs(const Config& config) {
  std::optional<Identity> identity = ChildIdentity(config, geteuid());
  if (!identity) return identity;
  std::error_code ec;
  std::string api = std::filesystem::absolute(config.file, ec).string();
  // R fails late and obscurely on an API it cannot read; say so at start.
  std::string blocker = FindAccessBlocker(api, *identity, true);
  if (!blocker.empty()) {
    throw ConfigError("file: user " + identity->user + " (setting user) cannot read " + api + ": " +
                      blocker + " is in the way");
  }
  // As master/runtime_dir.cpp decides at start, so that -t sees it too.
  if (!config.runtime_dir.empty()) {
    blocker = FindAccessBlocker(config.runtime_dir, *identity, false);
    if (!blocker.empty()) {
      throw ConfigError("runtime_dir: user " + identity->user + " cannot reach " +
                        config.runtime_dir + ": " + blocker + " is in the way");
    }
  }
  return identity;
}

}  // namespace valved::master
