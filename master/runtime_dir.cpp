#include "master/runtime_dir.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "common/log.h"
#include "common/socket_paths.h"

namespace valved::master {
namespace {

/// Where the runtime directory goes: see CreateRuntimeDir.
std::string ChooseBase(const std::string& configured, const std::optional<Identity>& owner) {
  if (!configured.empty()) {
    std::string blocker = owner ? FindAccessBlocker(configured, *owner, false) : "";
    if (!blocker.empty()) {
      throw std::runtime_error("runtime_dir: user " + owner->user + " cannot reach " + configured +
                               ": " + blocker + " is in the way");
    }
    return configured;
  }
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  bool usable = xdg && *xdg && access(xdg, W_OK) == 0;
  // $XDG_RUNTIME_DIR is normally private to the user who started valved.
  if (usable && owner) usable = FindAccessBlocker(xdg, *owner, false).empty();
  return usable ? xdg : "/tmp";
}

}  // namespace

std::string CreateRuntimeDir(const std::string& configured, const std::optional<Identity>& owner) {
  std::string base = ChooseBase(configured, owner);
  std::string pattern = RuntimeSubdirPattern(base, getpid());
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (!mkdtemp(buf.data())) {
    throw std::runtime_error("cannot create runtime directory " + pattern + ": " +
                             ErrnoString(errno));
  }
  std::string path(buf.data());
  // runtime_dir's length was checked, but $XDG_RUNTIME_DIR's was not.
  if (!ChildSocketsFit(path)) {
    rmdir(path.c_str());
    throw std::runtime_error("runtime directory path " + path +
                             " is too long for Unix sockets; set runtime_dir to a shorter path");
  }
  // R, running as `owner`, creates its socket here; the master (root) can
  // still connect to it and remove it.
  if (owner && chown(path.c_str(), owner->uid, owner->gid) == -1) {
    int err = errno;
    rmdir(path.c_str());
    throw std::runtime_error("cannot give runtime directory " + path + " to user " + owner->user +
                             ": chown() failed: " + ErrnoString(err));
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
