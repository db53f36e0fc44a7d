#include "master/runtime_dir.h"

#include <dirent.h>
#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <vector>

#include "common/log.h"

namespace valved::master {
namespace {

std::vector<gid_t> GroupsOf(const Identity& identity) {
  int count = 64;
  std::vector<gid_t> groups(static_cast<size_t>(count));
  while (getgrouplist(identity.user.c_str(), identity.gid, groups.data(), &count) == -1) {
    groups.resize(static_cast<size_t>(count));
  }
  groups.resize(static_cast<size_t>(count));
  return groups;
}

bool CanSearch(const struct stat& st, const Identity& identity, const std::vector<gid_t>& groups) {
  if (st.st_uid == identity.uid) return st.st_mode & S_IXUSR;
  if (std::find(groups.begin(), groups.end(), st.st_gid) != groups.end()) {
    return st.st_mode & S_IXGRP;
  }
  return st.st_mode & S_IXOTH;
}

std::string Octal(mode_t mode) {
  char buf[8];
  snprintf(buf, sizeof buf, "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

/// Where the runtime directory goes: see CreateRuntimeDir.
std::string ChooseBase(const std::string& configured, const std::optional<Identity>& owner) {
  if (!configured.empty()) {
    std::string blocker = owner ? FindTraversalBlocker(configured, *owner) : "";
    if (!blocker.empty()) {
      throw std::runtime_error("runtime_dir: user " + owner->user + " cannot reach " + configured +
                               ": " + blocker + " is in the way");
    }
    return configured;
  }
  const char* xdg = std::getenv("XDG_RUNTIME_DIR");
  bool usable = xdg && *xdg && access(xdg, W_OK) == 0;
  // $XDG_RUNTIME_DIR is normally private to the user who started valved.
  if (usable && owner) usable = FindTraversalBlocker(xdg, *owner).empty();
  return usable ? xdg : "/tmp";
}

}  // namespace

std::string FindTraversalBlocker(const std::string& dir, const Identity& identity) {
  std::vector<gid_t> groups = GroupsOf(identity);
  std::string path;
  size_t start = 0;
  // "/", then each prefix of `dir` ending at a slash, then `dir` itself.
  while (start != std::string::npos) {
    size_t slash = dir.find('/', start);
    path = slash == 0 ? "/" : dir.substr(0, slash);
    start = slash == std::string::npos ? slash : slash + 1;
    struct stat st {};
    if (path.empty() || stat(path.c_str(), &st) == -1) continue;
    if (!CanSearch(st, identity, groups)) {
      return path + " (owner " + std::to_string(st.st_uid) + ", mode " + Octal(st.st_mode) + ")";
    }
  }
  return "";
}

std::string CreateRuntimeDir(const std::string& configured, const std::optional<Identity>& owner) {
  std::string base = ChooseBase(configured, owner);
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
