#include "common/process_title.h"

#include <unistd.h>

#include <cstring>

namespace valved {
namespace {

char* title_start = nullptr;
size_t title_room = 0;

// The end of `s` if it starts exactly at `end` (the strings are contiguous).
char* Extend(char* end, char* s) { return s == end ? s + std::strlen(s) + 1 : end; }

}  // namespace

void InitProcessTitle(int argc, char** argv) {
  if (argc < 1 || title_start) return;
  char* end = argv[0] + std::strlen(argv[0]) + 1;
  for (int i = 1; i < argc; ++i) end = Extend(end, argv[i]);
  size_t count = 0;
  while (environ[count]) ++count;
  // Kept for the life of the process: environ points at it from now on.
  auto** copy = new char*[count + 1];
  for (size_t i = 0; i < count; ++i) {
    end = Extend(end, environ[i]);
    copy[i] = strdup(environ[i]);
  }
  copy[count] = nullptr;
  environ = copy;
  title_start = argv[0];
  title_room = static_cast<size_t>(end - argv[0]);
}

void SetProcessTitle(const std::string& title) {
  if (!title_start) return;
  size_t length = std::min(title.size(), title_room - 1);
  std::memset(title_start, 0, title_room);
  std::memcpy(title_start, title.data(), length);
}

}  // namespace valved
