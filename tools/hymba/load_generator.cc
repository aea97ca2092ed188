#include "tools/hymba/load_generator.h"

#include <algorithm>
#include <chrono>
#include <memory>
#include <random>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "tools/hymba/worker_pool.h"

namespace hymba::tools {
namespace {

using Clock = std::chrono::steady_clock;

constexpr int kFirstPromptId = 3;  // past <unk>, <s>, </s> of the Llama SentencePiece layout

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Calls and measures one streaming Generate.
RequestRecord Send(v1::Hymba::StubInterface& stub, const v1::GenerateRequest& request,
                   double timeout_s) {
  RequestRecord record;
  record.prompt_tokens = request.prompt_tokens().ids_size();
  grpc::ClientContext context;
  if (timeout_s > 0)
    context.set_deadline(std::chrono::system_clock::now() +
                         std::chrono::duration_cast<std::chrono::system_clock::duration>(
                             std::chrono::duration<double>(timeout_s)));
  const Clock::time_point sent = Clock::now();
  Clock::time_point last = sent;
  auto reader = stub.Generate(&context, request);
  v1::GenerateResponse response;
  while (reader->Read(&response)) {
    const int n = response.token_ids_size();
    if (n == 0) continue;
    const Clock::time_point now = Clock::now();
    if (record.output_tokens == 0)
      record.ttft_s = Seconds(now - sent);
    else
      record.itl_s.insert(record.itl_s.end(), n, Seconds(now - last) / n);
    last = now;
    record.output_tokens += n;
  }
  const grpc::Status status = reader->Finish();
  record.e2e_s = Seconds(Clock::now() - sent);
  record.code = status.error_code();
  record.error = status.error_message();
  return record;
}

// Gathers records from the worker threads.
class Collector {
 public:
  void Add(RequestRecord record) {
    absl::MutexLock lock(&mu_);
    records_.push_back(std::move(record));
    last_end_ = Clock::now();
  }
  LoadResult Finish(Clock::time_point start) {
    absl::MutexLock lock(&mu_);
    LoadResult result;
    result.records = std::move(records_);
    result.duration_s = Seconds((result.records.empty() ? Clock::now() : last_end_) - start);
    return result;
  }

 private:
  absl::Mutex mu_;
  std::vector<RequestRecord> records_ ABSL_GUARDED_BY(mu_);
  Clock::time_point last_end_ ABSL_GUARDED_BY(mu_);
};

void RunWarmup(v1::Hymba::StubInterface& stub, const LoadPlan& plan) {
  const int streams = plan.concurrency > 0 ? std::min(plan.concurrency, plan.warmup) : plan.warmup;
  WorkerPool pool(streams);
  for (int i = 0; i < plan.warmup; ++i)
    pool.Run([&stub, &plan, i] { Send(stub, MakeLoadRequest(plan, true, i), plan.timeout_s); });
}

}  // namespace

v1::GenerateRequest MakeLoadRequest(const LoadPlan& plan, bool warmup, uint64_t index) {
  std::seed_seq seq{static_cast<uint32_t>(plan.seed), static_cast<uint32_t>(plan.seed >> 32),
                    warmup ? 1u : 0u, static_cast<uint32_t>(index),
                    static_cast<uint32_t>(index >> 32)};
  std::mt19937_64 rng(seq);
  const int first = plan.vocab_size > kFirstPromptId ? kFirstPromptId : 0;
  std::uniform_int_distribution<int> token(first, std::max(first, plan.vocab_size - 1));
  v1::GenerateRequest request;
  const int prompt_len = plan.prompt_len.Sample(rng);
  auto* ids = request.mutable_prompt_tokens()->mutable_ids();
  ids->Reserve(prompt_len);
  for (int i = 0; i < prompt_len; ++i) ids->Add(token(rng));
  request.set_max_tokens(plan.output_len.Sample(rng));
  request.set_ignore_eos(true);
  request.mutable_sampling()->set_temperature(plan.temperature);
  request.mutable_sampling()->set_seed(rng());
  request.set_request_id(std::string(warmup ? "loadgen-warmup-" : "loadgen-") +
                         std::to_string(index));
  return request;
}

LoadResult RunLoad(v1::Hymba::StubInterface& stub, const LoadPlan& plan) {
  if (plan.warmup > 0) RunWarmup(stub, plan);
  const bool timed = plan.requests <= 0;
  const Clock::time_point start = Clock::now();
  const Clock::time_point stop_at =
      start + std::chrono::duration_cast<Clock::duration>(
                  std::chrono::duration<double>(std::max(plan.duration_s, 0.0)));
  std::mt19937_64 arrivals(plan.seed ^ 0x9e3779b97f4a7c15ull);
  std::exponential_distribution<double> gap_s(plan.rate > 0 ? plan.rate : 1.0);
  Collector collector;
  {
    WorkerPool pool(plan.concurrency);
    Clock::time_point next = start;
    for (int i = 0; timed || i < plan.requests; ++i) {
      if (plan.rate > 0) {
        next += std::chrono::duration_cast<Clock::duration>(
            std::chrono::duration<double>(gap_s(arrivals)));
        if (timed && next >= stop_at) break;
        std::this_thread::sleep_until(next);
      }
      if (timed && Clock::now() >= stop_at) break;
      // Run may wait for a free stream, so the deadline is checked again when the call starts.
      pool.Run([&stub, &plan, &collector, timed, stop_at, i] {
        if (timed && Clock::now() >= stop_at) return;
        collector.Add(Send(stub, MakeLoadRequest(plan, false, i), plan.timeout_s));
      });
    }
  }  // the pool waits for every call
  return collector.Finish(start);
}

}  // namespace hymba::tools
