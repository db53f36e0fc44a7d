// The bundled example API and the accepted forms of -f, served by the real
// binary with real R children.
#include <string>

#include "tests/integration/valved_harness.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

constexpr auto npos = std::string::npos;

class ExampleApiTest : public ValvedTest {};

TEST_F(ExampleApiTest, ServesValvesExampleEndpoints) {
  Valved* valved = StartServing({"-f", Example("plumber.R"), "-n", "2", "-w", "2"});
  ASSERT_NE(valved, nullptr);
  int port = valved->port();

  HttpResponse echo = HttpGet(port, "/echo?msg=hello%20valved");
  EXPECT_EQ(echo.status, 200) << echo.Describe();
  EXPECT_NE(echo.body.find("The message is: 'hello valved'"), npos) << echo.Describe();

  HttpResponse sum = HttpPost(port, "/sum", R"({"x": [1, 2, 3.5]})");
  EXPECT_EQ(sum.status, 200) << sum.Describe();
  EXPECT_EQ(JsonNumber(sum.body, "sum"), 6.5) << sum.Describe();

  HttpResponse sleep = HttpGet(port, "/sleep?zzz=0.1");
  EXPECT_EQ(sleep.status, 200) << sleep.Describe();
  EXPECT_TRUE(JsonNumber(sleep.body, "pid").has_value()) << sleep.Describe();

  HttpResponse plot = HttpGet(port, "/plot");
  EXPECT_EQ(plot.status, 200) << plot.Describe();
  EXPECT_EQ(plot.Header("Content-Type"), "image/png");
  EXPECT_EQ(plot.body.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8)) << "not a PNG";
}

TEST_F(ExampleApiTest, RootIsServedByTheApiNotRedirectedToDocs) {
  Valved* valved = StartServing({"-f", Example("plumber.R"), "-n", "1", "-w", "1"});
  ASSERT_NE(valved, nullptr);
  HttpResponse root = HttpGet(valved->port(), "/");
  EXPECT_EQ(root.status, 200) << root.Describe();
  EXPECT_FALSE(root.HasHeader("Location")) << root.Describe();
  EXPECT_NE(root.body.find("valved example"), npos) << root.Describe();
}

TEST_F(ExampleApiTest, DocsAndOpenApiAnswerAsFromPlumber) {
  Valved* valved = StartServing({"-f", Example("plumber.R"), "-n", "1", "-w", "1"});
  ASSERT_NE(valved, nullptr);
  int port = valved->port();

  HttpResponse docs = HttpGet(port, "/__docs__/");
  EXPECT_EQ(docs.status, 200) << docs.Describe();
  EXPECT_NE(docs.Header("Content-Type").find("text/html"), npos) << docs.Describe();
  EXPECT_NE(docs.body.find("swagger"), npos) << docs.Describe();

  HttpResponse spec = HttpGet(port, "/openapi.json");
  EXPECT_EQ(spec.status, 200) << spec.Describe();
  EXPECT_NE(spec.Header("Content-Type").find("application/json"), npos) << spec.Describe();
  EXPECT_NE(spec.body.find("\"openapi\""), npos) << spec.Describe();
  for (const char* path : {"\"/echo\"", "\"/sleep\"", "\"/sum\"", "\"/plot\""}) {
    EXPECT_NE(spec.body.find(path), npos) << "openapi.json does not mention " << path;
  }
}

// -f accepts what plumber::plumb() accepts, and paths only ever reach R as
// arguments: spaces and quotes in them are harmless.
class ApiPathTest : public ValvedTest {};

TEST_F(ApiPathTest, DirectoryWithEntrypointAndASpaceInItsName) {
  Valved* valved = StartServing({"-f", Fixture("api dir"), "-n", "1", "-w", "1"});
  ASSERT_NE(valved, nullptr);
  HttpResponse root = HttpGet(valved->port(), "/");
  EXPECT_EQ(root.status, 200) << root.Describe();
  EXPECT_NE(root.body.find("\"entrypoint\""), npos) << root.Describe();
  EXPECT_NE(root.body.find("\"api dir\""), npos)
      << "R runs in the API's directory; " << root.Describe();
}

TEST_F(ApiPathTest, FileInADirectoryWithQuotesInItsName) {
  Valved* valved = StartServing({"-f", Fixture("quote'd \"dir\"/plumber.R"), "-n", "1", "-w", "1"});
  ASSERT_NE(valved, nullptr);
  HttpResponse root = HttpGet(valved->port(), "/");
  EXPECT_EQ(root.status, 200) << root.Describe();
  EXPECT_NE(root.body.find("\"quoted\""), npos) << root.Describe();
}

TEST_F(ApiPathTest, DirectoryWithPlumberRAndNoEntrypoint) {
  Valved* valved = StartServing({"-f", Fixture("quote'd \"dir\""), "-n", "1", "-w", "1"});
  ASSERT_NE(valved, nullptr);
  HttpResponse root = HttpGet(valved->port(), "/");
  EXPECT_EQ(root.status, 200) << root.Describe();
  EXPECT_NE(root.body.find("\"quoted\""), npos) << root.Describe();
}

// plumber::plumb(dir=) finds plumber.R in any case; so do -t and start-up.
TEST_F(ApiPathTest, DirectoryWithPlumberRSpeltInCapitals) {
  std::filesystem::path api = dir() / "capitals";
  std::filesystem::create_directory(api);
  std::filesystem::copy_file(Fixture("quote'd \"dir\"/plumber.R"), api / "Plumber.R");
  RunResult check = RunToExit({"-t", "-f", api.string(), "--allow-root"}, 60s);
  EXPECT_EQ(check.ExitCode(), 0) << check.Describe();
  Valved* valved = StartServing({"-f", api.string(), "-n", "1", "-w", "1"});
  ASSERT_NE(valved, nullptr);
  HttpResponse root = HttpGet(valved->port(), "/");
  EXPECT_EQ(root.status, 200) << root.Describe();
  EXPECT_NE(root.body.find("\"quoted\""), npos) << root.Describe();
}

}  // namespace
}  // namespace valved::itest
