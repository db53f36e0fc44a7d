// --print-defaults: every setting with its default, as a YAML file that
// valved reads back unchanged; generated from the settings table.
#pragma once

#include <string>

namespace valved::master {

/// A valid YAML file setting every key to its default, each preceded by its
/// documentation as comments.
std::string DefaultsYaml();

}  // namespace valved::master
