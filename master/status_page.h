// The HTML status page served at / on the status listener: one
// self-contained page (no external assets) whose script reads /status every
// second and draws the workers, the children (one table row each, coloured by
// state), the queue and the request rate.
#pragma once

#include <string_view>

namespace valved::master {

std::string_view StatusPageHtml();

}  // namespace valved::master
