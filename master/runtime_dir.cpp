#include "master/runtime_dir.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "common/log.h"

namespace valved::master {

std::string CreateRuntimeDir(const std::string& configured) {
  std::string base = configured;
  if (base.empty()) {
    const char* xdg = std::getenv("XDG_RUNTIME_DIR");
    base = (xdg && *xdg && access(xdg, W_OK) == 0) ? xdg : "/tmp";
  }
  std::string pattern = base + "/valved." + std::to_string(getpid()) + ".XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) {
    throw std::runtime_error("cannot create runtime directory " + pattern + ": " +
                             ErrnoString(errno));
  }
  std::string path(buf.data());
  // Unix socket paths are limited to 107 bytes (sun_path).
  if (path.size() + 32 > 107) {
    rmdir(path.c_str());
    throw std::runtime_error("runtime directory path " + path +
                             " is too long for Unix sockets; set runtime_dir to a shorter path");
  }
  return path;
}

void RemoveRuntimeDir(const std::string& path) {
  if (path.empty()) return;
  if (DIR* dir = opendir(path.c_str())) {
    while (dirent* entry = readdir(dir)) {
      std::string name = entry->d_name;
      if (name != "." && name != "..") unlink((path + "/" + name).c_str());
    }
    closedir(dir);
  }
  if (rmdir(path.c_str()) == -1 && errno != ENOENT) {
    Log(LogLevel::kWarn) << "cannot remove runtime directory " << path << ": "
                         << ErrnoString(errno);
  }
}

}  // namespace valved::master
