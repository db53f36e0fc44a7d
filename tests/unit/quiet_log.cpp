// Unit tests exercise failure paths on purpose; keep their logs to errors
// unless VALVED_TEST_LOG=debug asks for more.
#include <cstdlib>

#include "common/log.h"

namespace {

struct QuietLog {
  QuietLog() {
    const char* level = std::getenv("VALVED_TEST_LOG");
    valved::InitLog("test",
                    valved::ParseLogLevel(level ? level : "").value_or(valved::LogLevel::kError));
  }
} quiet_log;

}  // namespace
