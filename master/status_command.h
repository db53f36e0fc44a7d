// `valved -s status`: asks the running master for /status on its status
// listener (status_listen) and prints the pool as passenger-status does.
#pragma once

#include <iosfwd>
#include <string>

#include "common/config.h"

namespace valved::master {

/// Prints the status of the valved listening on config.status_listen on
/// `out` and returns 0; or one line on `err` and 1 (no status_listen,
/// nothing answering there, a bad answer).
int PrintStatusCommand(const Config& config, std::ostream& out, std::ostream& err);

/// The text PrintStatusCommand prints for a /status body. Throws
/// std::exception when `json` is not what /status writes.
std::string FormatStatus(const std::string& json);

}  // namespace valved::master
