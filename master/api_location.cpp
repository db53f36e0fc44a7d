#include "master/api_location.h"

#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/config.h"

namespace valved::master {
namespace {

namespace fs = std::filesystem;

bool HasApiEntryFile(const fs::path& dir) {
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(dir, ec)) {
    std::string name = item.path().filename().string();
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (name == "entrypoint.r" || name == "plumber.r") return true;
  }
  return false;
}

}  // namespace

ApiLocation LocateApi(const std::string& file) {
  std::error_code ec;
  fs::path path = fs::canonical(file, ec);
  if (ec) throw ConfigError("file: cannot use the API " + file + ": " + ec.message());
  if (fs::is_directory(path, ec)) {
    if (!HasApiEntryFile(path))
      throw ConfigError("file: " + file + " is a directory without entrypoint.R or plumber.R");
    return {path.string(), path.string()};
  }
  if (::access(path.c_str(), R_OK) != 0)
    throw ConfigError("file: cannot read the API " + file + ": " + std::strerror(errno));
  return {path.string(), path.parent_path().string()};
}

}  // namespace valved::master
