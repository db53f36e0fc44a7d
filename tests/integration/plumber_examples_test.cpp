// The example APIs that ship inside plumber (system.file("plumber", package =
// "plumber"), rstudio/plumber's inst/plumber/) answer through valved exactly
// as they answer when run directly with `library(plumber); pr_run(plumb(...))`:
// same status, content type, end-to-end headers and body, or the same shape
// of body and headers where they hold random numbers, times or encrypted
// cookies; examples/vetiver is compared the same way. Each example is served
// both ways, one R process each, and gets the same requests in the same order
// (several examples keep state).
//
// Left out:
//   03-github   POST /update: needs ./github-key.txt, digest (not in the
//               suite's packages) and the network (remotes::install_github);
//               GET /version is compared.
//   13-promises /async, /async-bad: 5 s each; the async path is covered by
//               the concurrency tests. /sync and /sync-bad are compared.
//   14-future   library(coro): coro is not packaged in Debian 12.
#include <array>
#include <cctype>
#include <cstdio>
#include <ostream>
#include <string>
#include <vector>

#include "tests/integration/direct_plumber.h"
#include "tests/integration/valved_harness.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

enum class Compare {
  kExact,  ///< byte for byte (but Date)
  kShape,  ///< after Shape(): digits and long random tokens masked
};

struct Probe {
  std::string method;
  std::string target;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  Compare compare = Compare::kExact;
};

struct Example {
  std::string api;  ///< relative to plumber's examples directory, or absolute
  std::vector<Probe> probes;
};

void PrintTo(const Example& example, std::ostream* out) { *out << example.api; }

Probe Get(std::string target, Compare compare = Compare::kExact,
          std::vector<std::pair<std::string, std::string>> headers = {}) {
  return {"GET", std::move(target), "", std::move(headers), compare};
}

Probe Send(std::string method, std::string target, std::string body, std::string content_type,
           Compare compare = Compare::kExact) {
  return {std::move(method),
          std::move(target),
          std::move(body),
          {{"Content-Type", std::move(content_type)}},
          compare};
}

const char* kForm = "application/x-www-form-urlencoded";
const char* kJson = "application/json";

std::vector<Example> Examples() {
  return {
      {"01-append/plumber.R",
       {Get("/tail"), Send("POST", "/append", "val=42", kForm),
        Send("POST", "/append", R"({"val": 7})", kJson), Get("/tail?n=3"), Get("/tail?n=500"),
        Get("/graph")}},
      {"02-filters/plumber.R",
       {Get("/about"), Get("/me"), Get("/me?username=joe"), Get("/me?username=kim"),
        Get("/me?username=nobody")}},
      {"03-github/plumber.R", {Get("/version")}},
      {"04-mean-sum/plumber.R",
       {Get("/mean", Compare::kShape), Get("/mean?samples=3", Compare::kShape),
        Send("POST", "/sum", "a=1&b=2.5", kForm),
        Send("POST", "/sum", R"({"a": 3, "b": 4})", kJson)}},
      {"05-static/plumber.R",
       {Get("/"), Get("/a.html"), Get("/b.txt"), Get("/static/a.html"),
        Get("/static/missing.txt")}},
      {"06-sessions/plumber.R",
       {Get("/counter"), Get("/counter", Compare::kExact, {{"Cookie", "visitcounter=4"}}),
        Get("/sessionCounter", Compare::kShape), Get("/iframe.html")}},
      {"07-mailgun/plumber.R",
       {Get("/tail"), Send("POST", "/mail", "from=ann&subject=%3Cb%3Ehi%3C%2Fb%3E", kForm),
        Get("/tail", Compare::kShape)}},
      {"08-identity/plumber.R", {Get("/name")}},
      {"09-content-type/plumber.R",
       {Get("/pdf", Compare::kShape), Get("/text"), Get("/html"), Get("/download-binary")}},
      {"10-welcome/plumber.R", {Get("/"), Get("/nothing-here")}},
      {"11-car-inventory/plumber.R",
       {Get("/car/"), Get("/car/1"), Get("/car/999"),
        Send("POST", "/car/",
             R"({"make":"Saab","model":"900","edition":"S","year":1990,)"
             R"("miles":1000,"price":2500})",
             kJson),
        Send("POST", "/car/", R"({"make":"","model":"x","year":1})", kJson),
        Send("PUT", "/car/1", "make=Fiat&model=Uno&edition=&year=1984&miles=10&price=1", kForm),
        Send("DELETE", "/car/2", "", kForm), Get("/car/"), Get("/openapi.json", Compare::kShape)}},
      {"12-entrypoint/entrypoint.R", {Get("/counter", Compare::kShape)}},
      {"13-promises/plumber.R", {Get("/sync", Compare::kShape), Get("/sync-bad")}},
      {"15-openapi-spec/entrypoint.R",
       {Get("/sum?num=1,2,3"), Get("/sum?num=4&num=5"), Get("/openapi.json", Compare::kShape)}},
      {"16-attachment/plumber.R",
       {Get("/name", Compare::kShape), Get("/no_name", Compare::kShape),
        Get("/inline", Compare::kShape)}},
      {"17-arguments/plumber.R",
       {Send("POST", "/good-practice/3/4?a=1&b=2&d=10", "a=5&b=6", kForm),
        Send("POST", "/bad-practice/1/2?d=3", "", kForm),
        Send("POST", "/bad-practice/1/2?a=3", "", kForm)}},
  };
}

// Where R keeps the examples: asked of R, as a user would.
std::string ExamplesDir() {
  FILE* pipe = popen("Rscript -e 'cat(system.file(\"plumber\", package = \"plumber\"))'", "r");
  if (pipe == nullptr) return "";
  std::string out;
  std::array<char, 256> buf;
  while (fgets(buf.data(), buf.size(), pipe) != nullptr) out += buf.data();
  pclose(pipe);
  return out;
}

bool IsTokenChar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("%_+/=.-").find(c) != std::string_view::npos;
}

// The shape of a text: a run of 16 or more token characters (an encrypted
// cookie, a base64 blob) becomes "<token>", every other number (its sign and
// digits) becomes one 0, so that times, random numbers and ports
// compare equal but structure does not.
std::string Shape(const std::string& text) {
  constexpr size_t kTokenRun = 16;
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    size_t j = i;
    while (j < text.size() && IsTokenChar(text[j])) ++j;
    if (j - i >= kTokenRun) {
      out += "<token>";
    } else {
      for (size_t k = i; k < j; ++k) {
        bool digit = std::isdigit(static_cast<unsigned char>(text[k]));
        bool sign =
            text[k] == '-' && k + 1 < j && std::isdigit(static_cast<unsigned char>(text[k + 1]));
        if (sign || (digit && !out.empty() && out.back() == '0')) continue;
        out += digit ? '0' : text[k];
      }
    }
    if (j < text.size()) out += text[j];
    i = j + 1;
  }
  return out;
}

// Headers that belong to one connection or one moment, not to the answer.
bool IsEndToEnd(const std::string& name) {
  for (const char* hop : {"date", "connection", "keep-alive", "transfer-encoding"}) {
    if (name == hop) return false;
  }
  return true;
}

std::vector<std::string> EndToEndHeaders(const HttpResponse& response, Compare compare) {
  std::vector<std::string> out;
  for (const auto& [name, value] : response.headers) {
    if (!IsEndToEnd(name)) continue;
    if (compare == Compare::kShape && name == "content-length") continue;  // follows the body
    out.push_back(name + ": " + (compare == Compare::kShape ? Shape(value) : value));
  }
  return out;
}

HttpResponse Ask(int port, const Probe& probe) {
  HttpConnection connection(port, 30s);
  HttpRequest request;
  request.method = probe.method;
  request.target = probe.target;
  request.headers = probe.headers;
  request.body = probe.body;
  return connection.Send(request);
}

class PlumberExamplesTest : public ValvedTest, public ::testing::WithParamInterface<Example> {};

TEST_P(PlumberExamplesTest, AnswersThroughValvedAsDirectly) {
  std::string examples = ExamplesDir();
  ASSERT_FALSE(examples.empty()) << "R does not know plumber's examples directory";
  const Example& example = GetParam();
  std::string api = example.api.front() == '/' ? example.api : examples + "/" + example.api;
  DirectPlumber direct(dir(), "direct", api);
  Valved* valved = StartServing({"-f", api, "-n", "1", "-w", "1"});
  ASSERT_NE(valved, nullptr);
  ASSERT_TRUE(direct.WaitServing());
  for (const Probe& probe : example.probes) {
    SCOPED_TRACE(probe.method + " " + probe.target);
    HttpResponse want = Ask(direct.port(), probe);
    HttpResponse got = Ask(valved->port(), probe);
    ASSERT_NE(want.status, 0) << "plain plumber: " << want.Describe();
    EXPECT_EQ(got.status, want.status) << got.Describe() << "\nwanted " << want.Describe();
    EXPECT_EQ(got.Header("Content-Type"), want.Header("Content-Type"));
    EXPECT_EQ(EndToEndHeaders(got, probe.compare), EndToEndHeaders(want, probe.compare));
    if (probe.compare == Compare::kExact) {
      EXPECT_EQ(got.body, want.body);
    } else {
      EXPECT_EQ(Shape(got.body), Shape(want.body));
    }
  }
}

// "01-append/plumber.R" -> "Append01", a test name gtest accepts.
std::string ExampleName(const ::testing::TestParamInfo<Example>& info) {
  const std::string& api = info.param.api;
  std::string name;
  bool upper = true;
  for (char c : api.substr(3, api.find('/') - 3)) {
    if (c == '-') {
      upper = true;
      continue;
    }
    name += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(c))) : c;
    upper = false;
  }
  return name + api.substr(0, 2);
}

INSTANTIATE_TEST_SUITE_P(Plumber, PlumberExamplesTest, ::testing::ValuesIn(Examples()),
                         ExampleName);

// examples/vetiver: a model API as vetiver shapes it (README: serving a model).
std::vector<Example> ValvedExamples() {
  const char* records = R"([{"wt": 2.62, "hp": 110, "cyl": 6}, {"wt": 3.44, "hp": 175, "cyl": 8}])";
  return {
      {std::string(VALVED_EXAMPLES) + "/vetiver/plumber.R",
       {Get("/ping", Compare::kShape), Get("/metadata"), Send("POST", "/predict", records, kJson),
        Send("POST", "/predict", R"({"wt": 2.62, "hp": 110, "cyl": 4})", kJson),
        Send("POST", "/predict", R"([{"wt": 2.62}])", kJson),
        Send("POST", "/predict", R"([{"wt": "heavy", "hp": 1, "cyl": 4}])", kJson),
        Send("POST", "/predict", "not json", kJson), Get("/openapi.json", Compare::kShape)}}};
}

INSTANTIATE_TEST_SUITE_P(Valved, PlumberExamplesTest, ::testing::ValuesIn(ValvedExamples()),
                         [](const ::testing::TestParamInfo<Example>&) { return "Vetiver"; });

}  // namespace
}  // namespace valved::itest
