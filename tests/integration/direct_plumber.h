// Plain plumber, as an R user runs an API without valved: `library(plumber);
// pr_run(plumb(...), host = "127.0.0.1", port = ...)` in one Rscript, on a
// loopback port. Tests compare valved's answers with its answers.
#pragma once

#include <string>

#include "tests/integration/valved_harness.h"

namespace valved::itest {

/// One Rscript serving an API directly, in its own process group, with its
/// output in `<dir>/<name>.log`. The destructor kills the group and reaps it.
class DirectPlumber {
 public:
  /// `api` is a plumber file or a directory (plumb(dir = ...)); a file named
  /// entrypoint.R is given to plumb() as its directory, as plumber wants.
  DirectPlumber(const std::filesystem::path& dir, const std::string& name, const std::string& api);
  DirectPlumber(const DirectPlumber&) = delete;
  DirectPlumber& operator=(const DirectPlumber&) = delete;

  /// Waits until the API answers an HTTP request (any status); records a
  /// failure and returns false if R exits first or `timeout` passes.
  bool WaitServing(Millis timeout = Millis(60'000));
  int port() const { return process_.port(); }
  std::string Log() const { return process_.Log(); }

 private:
  Valved process_;  // the harness's process holder: spawn, group kill, log
};

}  // namespace valved::itest
