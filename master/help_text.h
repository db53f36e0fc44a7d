// What valved prints about itself: --help and --version. The settings'
// part of --help is generated from the settings table (common/settings.h).
#pragma once

#include <string>

namespace valved::master {

/// --help: usage, every flag with its default, signals and exit codes.
std::string HelpText();

/// --version: "valved 0.1.0" (no newline).
std::string VersionText();

}  // namespace valved::master
