// The access log's line format.
#include "worker/access_log.h"

#include <gtest/gtest.h>

namespace valved::worker {
namespace {

AccessRecord Example() {
  AccessRecord r;
  r.client = "127.0.0.1";
  r.time = std::chrono::system_clock::from_time_t(1796065561);  // 2026-11-30T19:06:01Z
  r.method = "GET";
  r.target = "/echo?msg=hi";
  r.http_minor = 1;
  r.status = 200;
  r.bytes = 27;
  r.user_agent = "curl/7.88.1";
  r.total_seconds = 0.0031;
  r.queue_seconds = 0.0004;
  r.r_seconds = 0.0022;
  r.child_id = 2;
  r.worker_id = 1;
  return r;
}

TEST(AccessLog, CombinedFormatThenValvedsFields) {
  EXPECT_EQ(FormatAccessLine(Example()),
            "127.0.0.1 - - [30/Nov/2026:19:06:01 +0000] \"GET /echo?msg=hi HTTP/1.1\" 200 27 "
            "\"-\" \"curl/7.88.1\" time=0.003 queue=0.000 r=0.002 child=2 worker=1");
}

TEST(AccessLog, RequestWithoutHeadAndHostileFieldsStayOneLine) {
  AccessRecord r = Example();
  r.method.clear();
  r.status = 400;
  r.user_agent = "evil\"\\\n\x01";
  r.child_id = 0;
  std::string line = FormatAccessLine(r);
  EXPECT_NE(line.find(" \"-\" 400 27 "), std::string::npos) << line;
  EXPECT_NE(line.find("\"evil\\\"\\\\\\x0a\\x01\""), std::string::npos) << line;
  EXPECT_EQ(line.find('\n'), std::string::npos);
}

}  // namespace
}  // namespace valved::worker
