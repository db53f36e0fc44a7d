#include <cstring>

#include "worker/worker_main.h"

int main(int argc, char** argv) {
  if (argc > 1 && std::strcmp(argv[1], "worker") == 0) return valved::worker::WorkerMain(argc, argv);
  return 0;
}
