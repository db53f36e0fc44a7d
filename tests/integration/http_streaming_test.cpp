// Issue 3, streaming with backpressure against real R children
// (tests/fixtures/http.R): a 1 GiB upload and a 1 GiB download pass through
// one worker whose peak resident memory stays under 64 MiB (buffered, as by
// default: the bytes beyond the memory buffers wait in temporary files), and
// clients that stall, reading or sending, do not stall the worker's other
// connections (unbuffered: the streaming mode).
#include <iostream>
#include <regex>
#include <string>
#include <vector>

#include "tests/integration/http_test_util.h"
#include "tests/integration/valved_harness.h"

namespace valved::itest {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kGiB = int64_t{1} << 30;
constexpr int64_t kWorkerRssLimitKib = 64 * 1024;

class HttpStreamingTest : public HttpTest {
 protected:
  pid_t WorkerPid(const Valved& valved) {
    std::vector<ProcInfo> workers = valved.Workers();
    return workers.size() == 1 ? workers[0].pid : 0;
  }
};

TEST_F(HttpStreamingTest, GigabyteUploadAndDownloadKeepTheWorkerSmall) {
  Valved* valved = StartHttp(1);
  ASSERT_NE(valved, nullptr);
  pid_t worker = WorkerPid(*valved);
  ASSERT_NE(worker, 0);
  int64_t rss_at_start = PeakRssKib(worker);

  auto upload_start = SteadyClock::now();
  RawSocket upload(valved->port());
  ASSERT_TRUE(
      upload.Send("POST /upload HTTP/1.1\r\nHost: a\r\nConnection: close\r\n"
                  "Content-Type: application/octet-stream\r\nContent-Length: " +
                  std::to_string(kGiB) + "\r\n\r\n"));
  std::string block(1 << 20, 'u');
  for (int64_t sent = 0; sent < kGiB; sent += static_cast<int64_t>(block.size()))
    ASSERT_TRUE(upload.Send(block)) << "upload stopped after " << sent << " bytes";
  ASSERT_TRUE(upload.ReceiveUntilClosed(120s));
  double upload_seconds = SecondsSince(upload_start);
  EXPECT_EQ(upload.FirstStatus(), 200) << upload.received();
  EXPECT_EQ(JsonNumber(upload.received(), "bytes").value_or(0), static_cast<double>(kGiB));

  auto download_start = SteadyClock::now();
  RawSocket download(valved->port());
  download.Send("GET /bytes?n=" + std::to_string(kGiB) + " HTTP/1.1\r\nHost: a\r\n\r\n");
  std::string error;
  EXPECT_EQ(download.ReceivePatternBody(120s, &error), kGiB) << error;
  double download_seconds = SecondsSince(download_start);

  int64_t peak = PeakRssKib(worker);
  std::cout << "worker peak RSS: " << peak << " KiB (" << rss_at_start << " KiB before); 1 GiB up "
            << upload_seconds << " s, 1 GiB down " << download_seconds << " s\n";
  RecordProperty("worker_peak_rss_kib", std::to_string(peak));
  EXPECT_GT(peak, 0);
  EXPECT_LT(peak, kWorkerRssLimitKib);
}

// With buffering off both ways (request_buffering, response_buffering: the
// streaming mode), stalled clients hold their children but nothing else.
TEST_F(HttpStreamingTest, StalledClientsDoNotStallTheWorkersOtherConnections) {
  Valved* valved = StartHttp(3, {"--log-level", "debug", "--set", "request_buffering=false",
                                 "--set", "response_buffering=false"});
  ASSERT_NE(valved, nullptr);
  // One client does not read a 200 MB response, another stops mid-upload.
  RawSocket reader(valved->port(), /*small_receive_buffer=*/true);
  reader.Send("GET /bytes?n=200000000 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
  RawSocket sender(valved->port());
  sender.Send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 10000000\r\n\r\n");
  sender.Send(std::string(1000, 'u'));
  ASSERT_TRUE(Eventually(
      30s, [&] { return valved->LogLines(std::regex("Ready -> Busy")).size() >= 2; },
      "both stalled requests leased"));

  HttpConnection other(valved->port(), 30s);
  for (int i = 0; i < 5; ++i) {
    HttpRequest ping;
    ping.target = "/ping";
    ping.keep_alive = true;
    HttpResponse response = other.Send(ping);
    EXPECT_EQ(response.body, "pong") << response.Describe();
    EXPECT_LT(response.seconds, 2.0) << "request " << i << " was held up";
  }

  // Backpressure lost nothing: the slow reader still gets every byte.
  std::string error;
  EXPECT_EQ(reader.ReceivePatternBody(120s, &error), 200000000) << error;
}

}  // namespace
}  // namespace valved::itest
