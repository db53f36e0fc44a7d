// Issue 8, buffering against real R children (tests/fixtures/http.R): slow
// uploads and slow downloads do not hold the R processes (n_max 2, two slow
// clients of each kind, a normal request answered meanwhile), bodies larger
// than the memory buffers pass through unlinked temporary files intact,
// valved answers Expect: 100-continue itself, a full temp_file_limit or a
// missing temporary directory gives a clear 507, and X-Accel-Buffering: no
// from the API passes a response at the client's pace.
#include <filesystem>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/http_test_util.h"
#include "tests/integration/valved_harness.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kSixteenMiB = int64_t{16} << 20;
// How long a normal request may take while slow clients are connected: far
// above the few milliseconds it takes, far below the slow clients' minutes.
constexpr Millis kPrompt = 10s;

class HttpBufferingTest : public HttpTest {
 protected:
  // GET /ping on a new connection is answered within kPrompt although every
  // child would be held by a slow client if valved did not buffer.
  void ExpectPingAnsweredPromptly(const Valved& valved, const std::string& slow_clients) {
    HttpResponse ping = HttpGet(valved.port(), "/ping", kPrompt);
    EXPECT_EQ(ping.body, "pong") << "GET /ping got no answer within " << Seconds(kPrompt)
                                 << " s while " << slow_clients
                                 << " were connected: they hold the R children; "
                                 << ping.Describe();
  }
  static double Seconds(Millis d) { return std::chrono::duration<double>(d).count(); }

  // Files the workers hold open in valved's runtime directory: the spools'
  // temporary files (they have no name there; /proc shows "dir/#ino (deleted)").
  int OpenTempFiles(const Valved& valved) {
    int count = 0;
    for (const std::filesystem::path& runtime : Valved::RuntimeDirs(dir())) {
      for (const ProcInfo& worker : valved.Workers()) {
        std::error_code ec;
        std::filesystem::directory_iterator fds("/proc/" + std::to_string(worker.pid) + "/fd", ec);
        for (; !ec && fds != std::filesystem::directory_iterator(); fds.increment(ec)) {
          std::string target = std::filesystem::read_symlink(fds->path(), ec).string();
          if (!ec && target.rfind(runtime.string() + "/", 0) == 0) ++count;
        }
      }
    }
    return count;
  }
  size_t Releases(const Valved& valved) {
    return valved.LogLines(std::regex("Busy -> Ready")).size();
  }
};

TEST_F(HttpBufferingTest, TwoSlowUploadersDoNotHoldTwoChildren) {
  Valved* valved = StartHttp(2, {"--log-level", "debug"});
  ASSERT_NE(valved, nullptr);
  std::string body;
  for (int i = 0; i < 100; ++i) body += static_cast<char>('a' + i % 26);
  std::vector<std::unique_ptr<RawSocket>> uploaders;
  for (int i = 0; i < 2; ++i) {
    uploaders.push_back(std::make_unique<RawSocket>(valved->port()));
    ASSERT_TRUE(uploaders.back()->Send(
        "POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
        "Content-Type: application/octet-stream\r\nContent-Length: 100\r\n\r\n"));
  }
  // 1 byte/s each, for a few seconds (the rest follows at once below, so the
  // test does not last 100 s); the pause is the clients' pace, not a wait.
  size_t sent = 0;
  for (; sent < 3; ++sent) {
    for (auto& uploader : uploaders) ASSERT_TRUE(uploader->Send(body.substr(sent, 1)));
    std::this_thread::sleep_for(1s);
  }
  ExpectPingAnsweredPromptly(*valved, "two clients uploading at 1 byte/s");
  EXPECT_TRUE(valved->LogLines(std::regex("POST /echo: waiting for a child")).empty())
      << "a child was leased for a body still arriving";
  for (auto& uploader : uploaders) {
    ASSERT_TRUE(uploader->Send(body.substr(sent)));
    ASSERT_TRUE(uploader->ReceiveUntilClosed(30s)) << uploader->received();
    EXPECT_EQ(uploader->FirstStatus(), 200) << uploader->received();
    EXPECT_NE(uploader->received().find("\r\n\r\n" + body), std::string::npos)
        << uploader->received();
  }
}

TEST_F(HttpBufferingTest, TwoSlowReadersOf16MiBDoNotHoldTwoChildren) {
  Valved* valved = StartHttp(2, {"--log-level", "debug"});
  ASSERT_NE(valved, nullptr);
  size_t releases_before = Releases(*valved);
  std::vector<std::unique_ptr<RawSocket>> readers;
  for (int i = 0; i < 2; ++i) {
    readers.push_back(std::make_unique<RawSocket>(valved->port(), /*small_receive_buffer=*/true));
    ASSERT_TRUE(readers.back()->Send("GET /bytes?n=" + std::to_string(kSixteenMiB) +
                                     " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  }
  // About 1 KiB/s each until R has finished both responses (bounded).
  auto deadline = SteadyClock::now() + 60s;
  while (Releases(*valved) < releases_before + 2 && SteadyClock::now() < deadline) {
    for (auto& reader : readers) reader->ReceiveAtMost(1024, 0ms);
    std::this_thread::sleep_for(1s);
  }
  ASSERT_GE(Releases(*valved), releases_before + 2)
      << "R did not finish two 16 MiB responses within 60 s while their clients read 1 KiB/s";
  for (auto& reader : readers)
    EXPECT_LT(reader->received().size(), size_t{1} << 20) << "the readers were not slow";
  EXPECT_GE(OpenTempFiles(*valved), 1) << "the waiting bytes are not in a temporary file";
  ExpectPingAnsweredPromptly(*valved, "two clients reading 16 MiB at 1 KiB/s");
  // Nothing lost on the way through memory and the temporary file.
  for (auto& reader : readers) {
    std::string error;
    EXPECT_EQ(reader->ReceivePatternBody(60s, &error), kSixteenMiB) << error;
    reader->Close();
  }
  EXPECT_TRUE(Eventually(
      10s, [&] { return OpenTempFiles(*valved) == 0; }, "the temporary files closed"));
}

TEST_F(HttpBufferingTest, BodiesBeyondTheMemoryBuffersComeBackByteIdentical) {
  Valved* valved = StartHttp(1, {"--request-buffer-size", "4k", "--response-buffer-size", "4k"});
  ASSERT_NE(valved, nullptr);
  std::string body;
  for (int i = 0; i < 3 << 20; ++i) body += static_cast<char>((i * 7 + i / 251) & 0xff);
  HttpResponse echo = HttpPost(valved->port(), "/echo", body, "application/octet-stream");
  ASSERT_EQ(echo.status, 200) << echo.Describe();
  EXPECT_EQ(echo.body.size(), body.size());
  EXPECT_TRUE(echo.body == body) << "the body changed on its way through the temporary files";
  // Chunked from the client: R gets it with a Content-Length.
  RawSocket chunked(valved->port());
  ASSERT_TRUE(
      chunked.Send("POST /echo HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                   "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n"));
  for (size_t at = 0; at < body.size(); at += 100000) {
    std::string piece = body.substr(at, 100000);
    char size[32];
    std::snprintf(size, sizeof size, "%zx\r\n", piece.size());
    ASSERT_TRUE(chunked.Send(size + piece + "\r\n"));
  }
  ASSERT_TRUE(chunked.Send("0\r\n\r\n"));
  ASSERT_TRUE(chunked.ReceiveUntilClosed(60s));
  EXPECT_EQ(chunked.FirstStatus(), 200) << chunked.received().substr(0, 300);
  size_t head_end = chunked.received().find("\r\n\r\n");
  ASSERT_NE(head_end, std::string::npos);
  EXPECT_TRUE(chunked.received().substr(head_end + 4) == body)
      << "the chunked body changed on its way";
  EXPECT_TRUE(Eventually(
      10s, [&] { return OpenTempFiles(*valved) == 0; }, "no temporary file left open"));
  for (const std::filesystem::path& runtime : Valved::RuntimeDirs(dir()))
    for (const auto& entry : std::filesystem::directory_iterator(runtime))
      EXPECT_EQ(entry.path().filename().string().rfind("child-", 0), 0u)
          << "a temporary file has a name: " << entry.path();
}

// A client that reads as fast as R writes takes responses four times
// response_buffer_size from memory: no byte waits in a temporary file (the
// spool keeps its file open for the connection's later requests, so any
// spilled byte would leave one open).
TEST_F(HttpBufferingTest, AClientThatKeepsUpGetsLargeResponsesFromMemory) {
  Valved* valved = StartHttp(1, {"--response-buffer-size", "256k"});
  ASSERT_NE(valved, nullptr);
  HttpConnection connection(valved->port(), 60s);
  for (int i = 0; i < 4; ++i) {
    HttpRequest big;
    big.target = "/bytes?n=" + std::to_string(1 << 20);
    big.keep_alive = true;
    HttpResponse response = connection.Send(big);
    ASSERT_EQ(response.status, 200) << response.Describe();
    EXPECT_EQ(response.body.size(), size_t{1} << 20);
  }
  EXPECT_TRUE(connection.connected());
  EXPECT_EQ(OpenTempFiles(*valved), 0) << "response bytes went through a temporary file";
}

TEST_F(HttpBufferingTest, ValvedAnswers100ContinueAndRSeesNoExpect) {
  Valved* valved = StartHttp(1);
  ASSERT_NE(valved, nullptr);
  RawSocket client(valved->port());
  ASSERT_TRUE(client.Send(
      "POST /headers HTTP/1.1\r\nHost: a\r\nConnection: close\r\nExpect: 100-continue\r\n"
      "Content-Type: application/octet-stream\r\nContent-Length: 5\r\n\r\n"));
  ASSERT_TRUE(client.ReceiveUntil("\r\n\r\n", 10s)) << "no 100 Continue: " << client.received();
  EXPECT_EQ(client.received(), "HTTP/1.1 100 Continue\r\n\r\n");
  ASSERT_TRUE(client.Send("hello"));
  ASSERT_TRUE(client.ReceiveUntilClosed(30s));
  std::string final = client.received().substr(client.received().find("\r\n\r\n") + 4);
  EXPECT_EQ(StatusOf(final), 200) << client.received();
  EXPECT_EQ(final.find("HTTP_EXPECT"), std::string::npos) << "R saw Expect: " << final;
  EXPECT_EQ(JsonString(final, "HTTP_CONTENT_LENGTH"), "5") << final;
}

TEST_F(HttpBufferingTest, FullTempFileLimitGives507AndResponsesStillArrive) {
  Valved* valved = StartHttp(1, {"--request-buffer-size", "4k", "--response-buffer-size", "4k",
                                 "--temp-file-limit", "64k"});
  ASSERT_NE(valved, nullptr);
  HttpResponse refused =
      HttpPost(valved->port(), "/echo", std::string(1 << 20, 'x'), "application/octet-stream");
  EXPECT_EQ(refused.status, 507) << refused.Describe();
  EXPECT_NE(refused.body.find("temp_file_limit"), std::string::npos) << refused.body;
  HttpResponse small = HttpPost(valved->port(), "/echo", "fits", "application/octet-stream");
  EXPECT_EQ(small.body, "fits") << small.Describe();
  // A response beyond the budget is passed at the client's pace instead.
  RawSocket reader(valved->port());
  ASSERT_TRUE(reader.Send("GET /bytes?n=" + std::to_string(kSixteenMiB) +
                          " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  std::string error;
  EXPECT_EQ(reader.ReceivePatternBody(60s, &error), kSixteenMiB) << error;
}

TEST_F(HttpBufferingTest, MissingTempDirGives507AndTheChildIsNotLeased) {
  Valved* valved =
      StartHttp(1, {"--request-buffer-size", "1k", "--temp-dir", (dir() / "missing").string()});
  ASSERT_NE(valved, nullptr);
  HttpResponse refused =
      HttpPost(valved->port(), "/echo", std::string(100000, 'x'), "application/octet-stream");
  EXPECT_EQ(refused.status, 507) << refused.Describe();
  EXPECT_NE(refused.body.find("temporary file"), std::string::npos) << refused.body;
  HttpResponse small =
      HttpPost(valved->port(), "/echo", "fits in memory", "application/octet-stream");
  EXPECT_EQ(small.body, "fits in memory") << small.Describe();
}

// The API's X-Accel-Buffering: no passes that response at the client's pace
// (the child stays leased while the client does not read), and the field
// does not reach the client.
TEST_F(HttpBufferingTest, XAccelBufferingNoHoldsTheChildUntilTheClientReads) {
  Valved* valved = StartHttp(1, {"--log-level", "debug"});
  ASSERT_NE(valved, nullptr);
  size_t releases_before = Releases(*valved);
  RawSocket reader(valved->port(), /*small_receive_buffer=*/true);
  ASSERT_TRUE(reader.Send("GET /bytes?unbuffered=1&n=" + std::to_string(kSixteenMiB) +
                          " HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  ASSERT_TRUE(reader.ReceiveUntil("\r\n\r\n", 30s)) << reader.received();
  EXPECT_EQ(HeaderOf(reader.received(), "X-Accel-Buffering"), "");
  // A bounded look for what must not happen: R released while the client
  // reads nothing (buffered, R is done with 16 MiB well within this).
  auto until = SteadyClock::now() + 3s;
  while (Releases(*valved) == releases_before && SteadyClock::now() < until)
    std::this_thread::sleep_for(100ms);
  EXPECT_EQ(Releases(*valved), releases_before)
      << "the child was released before the client read the unbuffered response";
  EXPECT_EQ(OpenTempFiles(*valved), 0);
  std::string error;
  EXPECT_EQ(reader.ReceivePatternBody(60s, &error), kSixteenMiB) << error;
  EXPECT_TRUE(Eventually(
      10s, [&] { return Releases(*valved) > releases_before; }, "the child released"));
}

}  // namespace
}  // namespace valved::itest
