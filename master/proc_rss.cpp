#include "master/proc_rss.h"

#include <unistd.h>

#include <fstream>
#include <string>

namespace valved::master {

int64_t ResidentBytes(pid_t pid) {
  // statm: size resident shared ... in pages.
  std::ifstream statm("/proc/" + std::to_string(pid) + "/statm");
  int64_t size = 0, resident = 0;
  if (!(statm >> size >> resident)) return -1;
  return resident * sysconf(_SC_PAGESIZE);
}

}  // namespace valved::master
