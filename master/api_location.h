// Where the plumber API is, found as plumber::plumb() finds it, so that -t,
// start-up and reload all accept exactly what R will load.
#pragma once

#include <string>

namespace valved::master {

/// The API's paths as R needs them.
struct ApiLocation {
  std::string path;         ///< canonical path of the file or directory
  std::string working_dir;  ///< where R runs: the file's directory, or the directory
};

/// `file` (setting "file") as a readable file, or as a directory holding
/// entrypoint.R or plumber.R in any case (plumber::plumb(dir=) lists them
/// with ignore.case = TRUE). Throws ConfigError naming the setting:
/// "file: /srv/api is a directory without entrypoint.R or plumber.R".
ApiLocation LocateApi(const std::string& file);

}  // namespace valved::master
