#include "tests/integration/direct_plumber.h"

#include <thread>

namespace valved::itest {
namespace {

// The API path and port arrive as arguments, never pasted into R code.
constexpr const char* kRunDirectly = R"R(
args <- commandArgs(trailingOnly = TRUE)
library(plumber)
api <- args[[1L]]
if (tolower(basename(api)) == "entrypoint.r") api <- dirname(api)
pr <- if (dir.exists(api)) plumb(dir = api) else plumb(api)
pr_run(pr, host = "127.0.0.1", port = as.integer(args[[2L]]))
)R";

}  // namespace

DirectPlumber::DirectPlumber(const std::filesystem::path& dir, const std::string& name,
                             const std::string& api)
    : process_(name, dir / (name + ".log"), FreePort()) {
  process_.Spawn("/usr/bin/env", {"Rscript", "-e", kRunDirectly, api, std::to_string(port())}, {},
                 dir);
}

bool DirectPlumber::WaitServing(Millis timeout) {
  auto end = SteadyClock::now() + timeout;
  while (true) {
    if (HttpGet(port(), "/__valved_probe__", Millis(5'000)).status != 0) return true;
    if (!process_.Running()) {
      ADD_FAILURE() << process_.name() << " " << DescribeStatus(*process_.wait_status())
                    << " before serving:\n"
                    << Log();
      return false;
    }
    if (SteadyClock::now() >= end) {
      ADD_FAILURE() << process_.name() << " not serving after " << timeout.count() / 1000.0
                    << "s:\n"
                    << Log();
      return false;
    }
    std::this_thread::sleep_for(Millis(100));
  }
}

}  // namespace valved::itest
