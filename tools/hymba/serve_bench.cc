// hymba bench --requests R --concurrency C: requests through the engine loop and scheduler as a
// server would run them (C clients, each submitting its next request when the previous ends, so
// arrivals are staggered), reporting throughput and latency percentiles as JSON.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/base/status_macros.h"
#include "scheduler/engine_loop.h"
#include "tools/hymba/commands.h"

namespace hymba::tools {
namespace {

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5))];
}

struct Latencies {
  std::mutex mu;
  std::vector<double> ttft, itl, e2e;
  int tokens = 0, failures = 0;
};

}  // namespace

absl::Status RunServingBench(const engine::EngineOptions& options, int requests, int concurrency,
                             int prompt_len, int gen_len, int seed) {
  HY_ASSIGN_OR_RETURN(auto started, StartEngineLoop(options, requests));
  scheduler::EngineLoop& loop = *started;
  const engine::EngineInfo& info = loop.info();
  const int vocab = info.vocab_size;
  Latencies lat;
  std::atomic<int> next{0};
  const double start = NowSeconds();
  std::vector<std::thread> clients;
  for (int c = 0; c < concurrency; ++c) {
    clients.emplace_back([&, c] {
      std::mt19937 rng(seed * 7919 + c);
      for (int i = next++; i < requests; i = next++) {
        scheduler::Request r;
        r.id = static_cast<scheduler::RequestId>(i + 1);
        for (int t = 0; t < prompt_len; ++t) r.prompt.push_back(3 + rng() % (vocab - 3));
        r.stop.max_tokens = gen_len;
        r.stop.ignore_eos = true;
        const double submitted = NowSeconds();
        auto stream = loop.Submit(std::move(r));
        double last = submitted;
        bool first = true, failed = false;
        int tokens = 0;
        std::vector<double> ttft, itl;
        scheduler::StreamItem item;
        while (stream->Next(&item)) {
          failed |= !item.status.ok();
          if (item.tokens.empty()) continue;
          const double now = NowSeconds();
          if (first) {
            ttft.push_back(now - submitted);
            first = false;
          } else {
            // Tokens merged into one item share the gap.
            for (size_t k = 0; k < item.tokens.size(); ++k)
              itl.push_back((now - last) / item.tokens.size());
          }
          last = now;
          tokens += static_cast<int>(item.tokens.size());
        }
        std::lock_guard<std::mutex> lock(lat.mu);
        lat.failures += failed;
        lat.tokens += tokens;
        lat.ttft.insert(lat.ttft.end(), ttft.begin(), ttft.end());
        lat.itl.insert(lat.itl.end(), itl.begin(), itl.end());
        lat.e2e.push_back(last - submitted);
      }
    });
  }
  for (auto& t : clients) t.join();
  const double elapsed = NowSeconds() - start;
  std::printf(
      "{\"model\":\"%s\",\"precision\":\"%s\",\"requests\":%d,\"concurrency\":%d,"
      "\"prompt_len\":%d,\"gen_len\":%d,\"failures\":%d,\"elapsed_s\":%.3f,"
      "\"request_throughput\":%.3f,\"output_tok_s\":%.2f,"
      "\"ttft_ms\":{\"p50\":%.1f,\"p90\":%.1f,\"p99\":%.1f},"
      "\"itl_ms\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f},"
      "\"e2e_ms\":{\"p50\":%.1f,\"p99\":%.1f}}\n",
      info.model_name.c_str(), info.precision.c_str(), requests, concurrency, prompt_len, gen_len,
      lat.failures, elapsed, requests / elapsed, lat.tokens / elapsed,
      1e3 * Percentile(lat.ttft, 0.5), 1e3 * Percentile(lat.ttft, 0.9),
      1e3 * Percentile(lat.ttft, 0.99), 1e3 * Percentile(lat.itl, 0.5),
      1e3 * Percentile(lat.itl, 0.9), 1e3 * Percentile(lat.itl, 0.99),
      1e3 * Percentile(lat.e2e, 0.5), 1e3 * Percentile(lat.e2e, 0.99));
  if (lat.failures > 0) return absl::InternalError(absl::StrCat(lat.failures, " requests failed"));
  return absl::OkStatus();
}

}  // namespace hymba::tools
