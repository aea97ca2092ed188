// The metrics endpoint under load and the request log: 32 concurrent streams with a quarter
// cancelled mid-stream; the rest produce exactly what they produce alone; slots in use return to
// 0 in the scraped metrics; promtool accepts a scrape taken under load; JSON log lines parse.
#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "engine/base/logging.h"
#include "tests/server/server_fixture.h"

namespace hymba::server {
namespace {

class MetricsTest : public ServerFixture {};

// promtool's verdict on an exposition ("" when it passes), or nullopt without promtool.
std::optional<std::string> PromtoolCheck(const std::string& exposition) {
  const std::string promtool = HYMBA_PROMTOOL;
  if (promtool.empty() || promtool.find("NOTFOUND") != std::string::npos) return std::nullopt;
  const std::string path = ::testing::TempDir() + "/scrape.prom";
  std::ofstream(path) << exposition;
  FILE* pipe = popen((promtool + " check metrics < " + path + " 2>&1").c_str(), "r");
  std::string out;
  char buf[512];
  while (pipe != nullptr && fgets(buf, sizeof(buf), pipe) != nullptr) out += buf;
  const int rc = pipe != nullptr ? pclose(pipe) : -1;
  return rc == 0 ? "" : "promtool failed (" + std::to_string(rc) + "): " + out;
}

TEST_F(MetricsTest, ThirtyTwoStreamsWithAQuarterCancelledLeaveNoSlotInUse) {
  FixtureOptions o;
  o.max_slots = 8;
  o.max_seq_len = 224;
  Start(o);
  constexpr int kStreams = 32;
  constexpr int kTokens = 200;
  // Each request alone first (different seeds), then all together.
  std::vector<std::vector<int>> alone(kStreams);
  for (int i = 0; i < kStreams; ++i) {
    const Streamed s = Stream(Request(kTokens, 100 + i));
    ASSERT_TRUE(s.status.ok());
    alone[i] = s.tokens;
  }
  std::vector<std::vector<int>> together(kStreams);
  std::vector<grpc::Status> status(kStreams);
  std::string scrape_under_load;
  std::vector<std::thread> clients;
  for (int i = 0; i < kStreams; ++i) {
    clients.emplace_back([&, i] {
      grpc::ClientContext ctx;
      auto reader = stub_->Generate(&ctx, Request(kTokens, 100 + i));
      v1::GenerateResponse r;
      while (reader->Read(&r)) {
        together[i].insert(together[i].end(), r.token_ids().begin(), r.token_ids().end());
        if (i % 4 == 0) ctx.TryCancel();  // after the first tokens
      }
      status[i] = reader->Finish();
    });
  }
  for (int k = 0; k < 1000 && scrape_under_load.empty(); ++k) {
    const std::string s = Scrape();
    if (Sample(s, "hymba_slots_in_use") > 0) scrape_under_load = s;
  }
  for (auto& t : clients) t.join();

  for (int i = 0; i < kStreams; ++i) {
    if (i % 4 == 0) {
      EXPECT_EQ(status[i].error_code(), grpc::StatusCode::CANCELLED) << i;
    } else {
      ASSERT_TRUE(status[i].ok()) << i << ": " << status[i].error_message();
      EXPECT_EQ(together[i], alone[i]) << "stream " << i;
    }
  }
  std::string after;
  for (int k = 0; k < 500; ++k) {
    after = Scrape();
    if (Sample(after, "hymba_slots_in_use") == 0 && Sample(after, "hymba_requests_running") == 0)
      break;
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(Sample(after, "hymba_slots_in_use"), 0);
  EXPECT_EQ(Sample(after, "hymba_requests_running"), 0);
  EXPECT_EQ(Sample(after, "hymba_slots_capacity"), 8);
  // Every call is counted once. A cancelled stream counts as CANCELLED unless the server had
  // already sent its last token.
  double generate_calls = 0;
  std::istringstream series(after);
  for (std::string line; std::getline(series, line);)
    if (line.rfind("hymba_requests_total{", 0) == 0 &&
        line.find(R"(method="Generate")") != std::string::npos)
      generate_calls += std::stod(line.substr(line.rfind(' ') + 1));
  EXPECT_EQ(generate_calls, 2 * kStreams);
  const double cancelled = Sample(
      after,
      R"(hymba_requests_total{code="CANCELLED",finish_reason="cancelled",method="Generate"})");
  EXPECT_GE(cancelled, 1);
  EXPECT_LE(cancelled, kStreams / 4);
  EXPECT_GE(Sample(after, "hymba_generation_tokens_total"), kStreams * kTokens * 7 / 4);
  EXPECT_EQ(Sample(after, "hymba_time_to_first_token_seconds_count"), 2 * kStreams);

  ASSERT_FALSE(scrape_under_load.empty());
  const auto verdict = PromtoolCheck(scrape_under_load);
  if (!verdict) GTEST_SKIP() << "promtool is not installed (scripts/install-deps --test)";
  EXPECT_EQ(*verdict, "");
}

TEST_F(MetricsTest, JsonRequestLogLinesParse) {
  std::ostringstream captured;
  auto previous = spdlog::default_logger();
  spdlog::set_default_logger(std::make_shared<spdlog::logger>(
      "test", std::make_shared<spdlog::sinks::ostream_sink_mt>(captured)));
  ASSERT_TRUE(ConfigureLogging("json", "info").ok());
  Start();
  auto request = Request(3);
  request.set_request_id("client \"7\" \\ x");
  ASSERT_TRUE(Stream(request).status.ok());
  server_.reset();
  spdlog::set_default_logger(previous);
  ASSERT_TRUE(ConfigureLogging("text", "info").ok());

  std::istringstream lines(captured.str());
  std::string line;
  int request_lines = 0, start_lines = 0;
  while (std::getline(lines, line)) {
    const auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    ASSERT_FALSE(json.is_discarded()) << line;
    const std::string msg = json.at("msg");
    if (msg.rfind("serving tiny-a", 0) == 0) ++start_lines;
    if (msg.rfind("request id=", 0) == 0) {
      ++request_lines;
      EXPECT_NE(msg.find(R"(request_id="client \"7\" \\ x")"), std::string::npos) << msg;
      EXPECT_NE(msg.find("completion_tokens=3"), std::string::npos) << msg;
      EXPECT_NE(msg.find("finish_reason=length"), std::string::npos) << msg;
    }
  }
  EXPECT_EQ(start_lines, 1);
  EXPECT_EQ(request_lines, 1);
}

}  // namespace
}  // namespace hymba::server
