// `valved -t` loads the API once in R, as an R child would, so that a syntax
// error or a missing package shows up before a start or a reload, not after.
#pragma once

#include <string>

#include "common/config.h"

namespace valved::master {

/// What one trial load in R gave.
struct ApiLoadResult {
  bool loaded = false;
  std::string output;  ///< R's stdout and stderr together: the R error when not loaded
};

/// Runs r/launcher.R in its check mode (`launcher.R --check <api>`: attach
/// plumber, plumb() the API, exit 0, or 3 with the R error) with the
/// children's rscript, user and working directory. Waits up to
/// config.spawn_timeout, then kills R and reports that. Expects CheckPaths()
/// and CheckRunAs() to have passed.
ApiLoadResult LoadApiOnce(const Config& config);

}  // namespace valved::master
