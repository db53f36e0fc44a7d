// Where valved's own files are, wherever it was installed: its binary and the
// R launcher each child runs. An install keeps the two together under one
// prefix (<prefix>/sbin/valved, <prefix>/share/valved/launcher.R), so the
// launcher is found next to the binary first, and a package or a `cmake
// --install --prefix` other than the configured one still works.
#pragma once

#include <string>

namespace valved::master {

/// The running binary's path (/proc/self/exe); "" if it cannot be read.
std::string SelfExe();

/// Where launcher.R is for a binary at `exe`: $VALVED_LAUNCHER when set;
/// else the first readable of <exe's dir>/../share/valved/launcher.R, the
/// configured install path (VALVED_DATADIR) and the source tree's r/launcher.R
/// (a binary run from its build directory); else the configured install path,
/// for the error message.
std::string FindLauncherScript(const std::string& exe);
std::string FindLauncherScript();

/// template.R (spawn_method fork): the file next to `launcher_script`.
std::string TemplateScriptFor(const std::string& launcher_script);

/// FindLauncherScript(), checked readable (valved -t, start-up, reload).
/// Throws ConfigError naming the path tried.
std::string CheckLauncherScript();

}  // namespace valved::master
