// valved -s status: the text printed from /status's JSON.
#include "master/status_command.h"

#include <gtest/gtest.h>

#include "master/status_report.h"

namespace valved::master {
namespace {

TEST(StatusCommand, PrintsTheSummaryAWorkerAndAChildRowFromStatusJson) {
  StatusSnapshot s;
  s.version = "0.1.0";
  s.config_file = "/etc/valve.yaml";
  s.api = "/srv/api/plumber.R";
  s.listen = "http://127.0.0.1:3000/";
  s.master_pid = 4120;
  s.uptime_seconds = 3725;
  s.n_max = 10;
  s.readiness = "ready: 1 of 1 R children ready";
  s.last_reload = "ok";
  s.last_reload_age_seconds = 95;
  s.workers.push_back({1, 1, 4131, "Running", 3725, 2, 600, 7 << 20});
  s.children.push_back({3, 4188, "Busy", 1, 300, 120, 45.25, 1.5, 120 << 20, "", 1});
  s.requests.CountRequest("GET", 200, std::chrono::milliseconds(3));
  std::string text = FormatStatus(StatusJson(s));
  EXPECT_NE(text.find("valved 0.1.0, master pid 4120, up 62m 5s, generation 0\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("ready: 1 of 1 R children ready\n"), std::string::npos) << text;
  EXPECT_NE(text.find("config /etc/valve.yaml, API /srv/api/plumber.R"), std::string::npos);
  EXPECT_NE(text.find("requests: 1 (2xx 1, 4xx 0, 5xx 0)"), std::string::npos) << text;
  EXPECT_NE(text.find("last reload: ok (95s ago)\n"), std::string::npos);
  EXPECT_NE(text.find("R children (1 of n_max 10 busy):"), std::string::npos) << text;
  EXPECT_NE(text.find("  3    4188     Busy"), std::string::npos) << text;
  EXPECT_NE(text.find("worker#1"), std::string::npos) << text;
  EXPECT_NE(text.find("  1    4131     Running"), std::string::npos) << text;
}

TEST(StatusCommand, NotStatusJsonThrows) {
  EXPECT_ANY_THROW(FormatStatus("<html>"));
  EXPECT_ANY_THROW(FormatStatus("{\"version\": \"x\"}"));
}

}  // namespace
}  // namespace valved::master
