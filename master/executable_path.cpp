#include "master/executable_path.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace valved::master {
namespace {

bool IsExecutableFile(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec) && ::access(path.c_str(), X_OK) == 0;
}

}  // namespace

std::string SearchPath() {
  const char* path = std::getenv("PATH");
  return path ? path : "/usr/local/bin:/usr/bin:/bin";
}

std::string FindExecutable(const std::string& program) {
  if (program.find('/') != std::string::npos) return IsExecutableFile(program) ? program : "";
  std::istringstream dirs(SearchPath());
  for (std::string dir; std::getline(dirs, dir, ':');) {
    if (!dir.empty() && IsExecutableFile(dir + "/" + program)) return dir + "/" + program;
  }
  return "";
}

}  // namespace valved::master
