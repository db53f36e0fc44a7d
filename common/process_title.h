// Process titles, as nginx sets them: `ps` and `top -c` show "valved: master"
// and "valved: worker 2" instead of the command lines that started them.
//
// Linux shows a process's argv memory as its command line, so the title is
// written over argv (and over the environment strings that follow it, which
// are first copied elsewhere and `environ` pointed at the copy). The short
// name (comm, what `top` shows without -c) stays "valved", as nginx's does:
// `valved -s` recognises the master named in pid_file by it.
#pragma once

#include <string>

namespace valved {

/// Notes where argv lies and moves the environment out of the way. Call once,
/// early in main(); argv stays readable until the first SetProcessTitle().
void InitProcessTitle(int argc, char** argv);

/// Shows `title` as the command line (cut to the room argv and the
/// environment had). Does nothing before
/// InitProcessTitle().
void SetProcessTitle(const std::string& title);

}  // namespace valved
