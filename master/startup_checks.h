// What the configuration points at, checked the same way by -t, at start-up
// and on reload: things Validate (common/settings.h) cannot see because they
// live in the file system and the user database.
#pragma once

#include <optional>
#include <string>

#include "common/config.h"
#include "common/privileges.h"

namespace valved::master {

/// The R front end `rscript` names, as a path: checked when it holds a '/',
/// else looked up in PATH (master/executable_path.h). Throws ConfigError
/// naming the setting.
std::string LocateRscript(const std::string& rscript);

/// LocateApi(config.file) (master/api_location.h),
/// LocateRscript(config.rscript) and CheckLauncherScript()
/// (master/install_layout.h). Throws ConfigError naming the setting.
void CheckPaths(const Config& config);

/// What the workers and R children run as (ChildIdentity, common/privileges.h,
/// for this process's effective uid), having checked that such a user can
/// read the API and reach runtime_dir (when set): "file: user nobody
/// (setting user) cannot read /root/api/plumber.R: /root (owner 0, mode
/// 0700) is in the way". Throws ConfigError.
std::optional<Identity> CheckRunAs(const Config& config);

}  // namespace valved::master
