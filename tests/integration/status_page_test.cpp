// The status page (/) in a real browser: Debian's headless Chromium loads it
// from valved with two real R children and runs its script, in virtual time
// (--virtual-time-budget), so the page's fetch of /status and its drawing are
// done before the DOM is dumped, without sleeps. The DOM must have one row per
// child; the screenshot (kept as build/status-page.png, a CI artefact) must
// show the children table's Ready colour.
#include <gtest/gtest.h>

#include <regex>

#include "master/executable_path.h"
#include "tests/integration/png_image.h"
#include "tests/integration/status_util.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

constexpr Rgb kReadyColour = {0xc8, 0xf0, 0xc8};  // .Ready in master/status_page.cpp

TEST_F(StatusTest, StatusPageInHeadlessChromiumShowsOneRowPerChild) {
  std::string chromium = master::FindExecutable("chromium");
  if (chromium.empty())
    GTEST_SKIP()
        << "chromium is not installed (scripts/install-deps.sh installs Debian's chromium)";
  ASSERT_NE(StartObservedServing({"-n", "2", "--n-min", "2"}), nullptr);
  ASSERT_TRUE(Eventually(
      120s, [&] { return HttpGet(status_port(), "/readyz", 5s).status == 200; },
      "2 R children ready"));

  std::string url = "http://127.0.0.1:" + std::to_string(status_port()) + "/";
  std::map<std::string, std::string> env = {{"HOME", dir().string()}};
  auto browse = [&](std::vector<std::string> what) {
    std::vector<std::string> args = {
        "--headless",        "--no-sandbox",
        "--disable-gpu",     "--disable-dev-shm-usage",
        "--no-first-run",    "--user-data-dir=" + (dir() / "chromium").string(),
        "--hide-scrollbars", "--virtual-time-budget=5000"};
    args.insert(args.end(), what.begin(), what.end());
    args.push_back(url);
    RunResult run = RunProgram(chromium, args, 90s, env);
    EXPECT_TRUE(run.exited) << "chromium still running after 90 s; killed\n" << run.output;
    EXPECT_EQ(run.ExitCode(), 0) << run.Describe() << "\n" << run.output;
    return run.output;
  };

  std::string dom = browse({"--dump-dom"});
  EXPECT_NE(dom.find("data-loaded=\"yes\""), std::string::npos)
      << "the page's script did not draw /status:\n"
      << dom;
  std::vector<std::string> rows;
  std::regex row("<tr class=\"child (\\w+)\" data-id=\"\\d+\">");
  for (auto it = std::sregex_iterator(dom.begin(), dom.end(), row); it != std::sregex_iterator();
       ++it)
    rows.push_back((*it)[1]);
  EXPECT_EQ(rows, (std::vector<std::string>{"Ready", "Ready"})) << dom;
  EXPECT_EQ(JsonNumbers(StatusJson(), "pid", "\"children\"", "\"totals\"").size(), 2u);

  std::filesystem::path png_path = std::filesystem::path(VALVED_BUILD_DIR) / "status-page.png";
  std::filesystem::remove(png_path);
  browse({"--window-size=1200,700", "--screenshot=" + png_path.string()});
  PngImage png = ReadPng(png_path);
  ASSERT_EQ(png.error, "");
  EXPECT_EQ(png.width, 1200);
  EXPECT_EQ(png.height, 700);
  EXPECT_GT(png.Colours(), 2u) << png_path << " is blank";
  // Two table rows of a few hundred by about twenty pixels each.
  EXPECT_GT(png.PixelsNear(kReadyColour, 3), 2000u)
      << png_path << " does not show the children table's Ready rows";
}

}  // namespace
}  // namespace valved::itest
