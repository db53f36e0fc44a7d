// The private directory (mode 0700) that holds the children's sockets.
#pragma once

#include <string>

namespace valved::master {

/// Creates `<base>/valved.<pid>.XXXXXX` with mode 0700, where base is
/// `configured`, else $XDG_RUNTIME_DIR, else /tmp. Throws std::runtime_error.
std::string CreateRuntimeDir(const std::string& configured);
/// Removes the directory and the sockets in it (children that were killed
/// leave their socket files behind). Explicit, never from a destructor.
void RemoveRuntimeDir(const std::string& path);

}  // namespace valved::master
