// Finding a program on $PATH, the one way valved does it (rscript at -t,
// start-up and reload).
#pragma once

#include <string>

namespace valved::master {

/// The directories searched: $PATH, or /usr/local/bin:/usr/bin:/bin when it
/// is unset (a service manager may start valved without one).
std::string SearchPath();

/// `program` itself when it holds a '/' and is an executable file; else the
/// first executable file of that name in SearchPath(). Empty entries of PATH
/// are skipped rather than read as ".": a daemon's working directory is no
/// place to pick up an Rscript from. "" when there is none.
std::string FindExecutable(const std::string& program);

}  // namespace valved::master
