#include "master/install_layout.h"

#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <filesystem>

#include "common/config.h"

namespace valved::master {

std::string SelfExe() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n == -1 ? "" : std::string(buf, static_cast<size_t>(n));
}

std::string FindLauncherScript(const std::string& exe) {
  if (const char* env = std::getenv("VALVED_LAUNCHER"); env && *env) return env;
  std::string installed = std::string(VALVED_DATADIR) + "/launcher.R";
  std::string beside =
      std::filesystem::path(exe).parent_path().parent_path().string() + "/share/valved/launcher.R";
  for (const std::string& path :
       {beside, installed, std::string(VALVED_SOURCE_DIR) + "/r/launcher.R"}) {
    if (access(path.c_str(), R_OK) == 0) return path;
  }
  return installed;
}

std::string FindLauncherScript() { return FindLauncherScript(SelfExe()); }

std::string CheckLauncherScript() {
  std::string path = FindLauncherScript();
  if (access(path.c_str(), R_OK) != 0) {
    throw ConfigError("cannot read the R launcher " + path +
                      " (set VALVED_LAUNCHER or reinstall valved)");
  }
  return path;
}

std::string TemplateScriptFor(const std::string& launcher_script) {
  size_t slash = launcher_script.rfind('/');
  std::string dir = slash == std::string::npos ? "." : launcher_script.substr(0, slash);
  return dir + "/template.R";
}

}  // namespace valved::master
