// The private directory (mode 0700) that holds the children's sockets.
#pragma once

#include <optional>
#include <string>

#include "common/privileges.h"

namespace valved::master {

/// Creates `<base>/valved.<pid>.XXXXXX` with mode 0700, where base is
/// `configured`, else $XDG_RUNTIME_DIR, else /tmp. With an `owner` (the user
/// the children run as, see common/privileges.h) the directory is given to
/// that user, so that R can create its socket there, and base must be
/// reachable by that user: an unreachable $XDG_RUNTIME_DIR (root's own) is
/// passed over for /tmp, an unreachable `configured` directory is an error.
/// Throws std::runtime_error.
std::string CreateRuntimeDir(const std::string& configured,
                             const std::optional<Identity>& owner = std::nullopt);
/// Removes the directory and the sockets in it (children that were killed
/// leave their socket files behind). Explicit, never from a destructor.
void RemoveRuntimeDir(const std::string& path);

}  // namespace valved::master
